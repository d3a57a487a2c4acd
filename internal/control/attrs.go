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
	if v, ok := intOf(a, k); ok {
		return time.Unix(v, 0).UTC()
	}
	return time.Time{}
}

// intOf is the value of the Int search attribute k, if it is set.
func intOf(a attrs, k temporal.SearchAttributeKeyInt64) (int64, bool) {
	// JSON numbers decode as float64.
	switch v := a[k.GetName()].(type) {
	case float64:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}
