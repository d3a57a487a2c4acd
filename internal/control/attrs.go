package control

import (
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// attrs are a workflow's search attributes, decoded.
type attrs map[string]any

func decodeAttrs(sa *commonpb.SearchAttributes) (attrs, error) {
	out := attrs{}
	dc := converter.GetDefaultDataConverter()
	for name, p := range sa.GetIndexedFields() {
		var v any
		if err := dc.FromPayload(p, &v); err != nil {
			return nil, fmt.Errorf("decode search attribute %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func keyword(a attrs, k temporal.SearchAttributeKeyKeyword) string {
	s, _ := a[k.GetName()].(string)
	return s
}

func timeOf(a attrs, k temporal.SearchAttributeKeyTime) *time.Time {
	s, _ := a[k.GetName()].(string)
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}

func unixTime(a attrs, k temporal.SearchAttributeKeyInt64) time.Time {
	// JSON numbers decode as float64.
	switch v := a[k.GetName()].(type) {
	case float64:
		return time.Unix(int64(v), 0).UTC()
	case int64:
		return time.Unix(v, 0).UTC()
	}
	return time.Time{}
}
