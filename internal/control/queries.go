package control

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows"
)

// Ledger returns plan id's newest n ledger entries (all kept for n <= 0),
// oldest first.
func Ledger(ctx context.Context, c client.Client, id string, n int) ([]workflows.LedgerEntry, error) {
	var l []workflows.LedgerEntry
	return l, query(ctx, c, id, workflows.QueryLedger, &l, n)
}

// Preview returns plan id's next n fire times.
func Preview(ctx context.Context, c client.Client, id string, n int) ([]workflows.FireTime, error) {
	var f []workflows.FireTime
	return f, query(ctx, c, id, workflows.QueryPreview, &f, n)
}

func query(ctx context.Context, c client.Client, id, name string, out any, args ...any) error {
	v, err := c.QueryWorkflow(ctx, plan.WorkflowID(id), "", name, args...)
	if err != nil {
		return fmt.Errorf("query %s of plan %s: %w", name, id, notFound(id, err))
	}
	if err := v.Get(out); err != nil {
		return fmt.Errorf("decode %s of plan %s: %w", name, id, err)
	}
	return nil
}
