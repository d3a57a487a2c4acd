package devserver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

const pollInterval = 50 * time.Millisecond

// ensureSearchAttributes waits until the frontend answers, then registers the
// custom search attributes of o that the namespace lacks. Registration at
// database creation covers a new file; this covers a file created by an older
// steward, or by hand. It returns once every service sees them.
func ensureSearchAttributes(ctx context.Context, addr string, o *Options) error {
	c, err := dialFrontend(ctx, addr, o)
	if err != nil {
		return err
	}
	defer c.Close()
	if len(o.SearchAttributes) == 0 {
		return nil
	}

	missing, err := missingSearchAttributes(ctx, c, o)
	if err != nil || len(missing) == 0 {
		return err
	}
	added := time.Now()
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        o.Namespace,
		SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("registering search attributes %s in namespace %s: %w",
			strings.Join(slices.Sorted(maps.Keys(missing)), ", "), o.Namespace, err)
	}
	if missing, err := missingSearchAttributes(ctx, c, o); err != nil {
		return err
	} else if len(missing) > 0 {
		return fmt.Errorf("search attributes %s still missing in namespace %s after registration",
			strings.Join(slices.Sorted(maps.Keys(missing)), ", "), o.Namespace)
	}

	// The new aliases are in the database; every service picks them up at its
	// next namespace refresh. Until then a workflow upserting one would fail.
	// Wait until the frontend's copy shows them and one full refresh interval
	// has passed, so the history service has reloaded too.
	for {
		resp, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace:       o.Namespace,
			WeakConsistency: true,
		})
		if err == nil && hasAliases(resp.GetConfig().GetCustomSearchAttributeAliases(), missing) &&
			time.Since(added) > nsRefreshInterval+nsRefreshInterval/4 {
			return nil
		}
		if err := sleepCtx(ctx, pollInterval); err != nil {
			return fmt.Errorf("waiting for new search attributes to be loaded: %w", err)
		}
	}
}

// dialFrontend connects an SDK client, retrying until the frontend answers a
// health check or ctx ends.
func dialFrontend(ctx context.Context, addr string, o *Options) (client.Client, error) {
	var lastErr error
	for {
		c, err := client.DialContext(ctx, client.Options{
			HostPort:  addr,
			Namespace: o.Namespace,
			Logger:    sdklog.NewStructuredLogger(o.Logger),
		})
		if err == nil {
			if _, err = c.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
				return c, nil
			}
			c.Close()
		}
		lastErr = err
		if err := sleepCtx(ctx, pollInterval); err != nil {
			return nil, fmt.Errorf("temporal frontend %s did not answer: %w (last error: %v)", addr, err, lastErr)
		}
	}
}

// missingSearchAttributes lists the attributes of o the namespace lacks, and
// fails if one exists with another type.
func missingSearchAttributes(ctx context.Context, c client.Client, o *Options) (map[string]enums.IndexedValueType, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{
		Namespace: o.Namespace,
	})
	if err != nil {
		return nil, fmt.Errorf("listing search attributes of namespace %s: %w", o.Namespace, err)
	}
	missing := make(map[string]enums.IndexedValueType)
	for name, want := range o.SearchAttributes {
		got, ok := resp.GetCustomAttributes()[name]
		if !ok {
			got, ok = resp.GetSystemAttributes()[name]
		}
		switch {
		case !ok:
			missing[name] = want
		case got != want:
			return nil, fmt.Errorf("search attribute %s exists in namespace %s with type %s, want %s",
				name, o.Namespace, got, want)
		}
	}
	return missing, nil
}

func hasAliases(fieldToAlias map[string]string, want map[string]enums.IndexedValueType) bool {
	have := make(map[string]bool, len(fieldToAlias))
	for _, alias := range fieldToAlias {
		have[alias] = true
	}
	for name := range want {
		if !have[name] {
			return false
		}
	}
	return true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
