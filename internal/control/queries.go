package control

import (
	"context"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// Ledger returns plan id's newest n ledger entries (all kept for n <= 0),
// oldest first.
func Ledger(ctx context.Context, c client.Client, id string, n int) ([]api.LedgerEntry, error) {
	var l []api.LedgerEntry
	return l, query(ctx, c, id, api.QueryLedger, &l, n)
}

// Preview returns plan id's next n fire times.
func Preview(ctx context.Context, c client.Client, id string, n int) ([]api.FireTime, error) {
	var f []api.FireTime
	return f, query(ctx, c, id, api.QueryPreview, &f, n)
}

// query runs a query on plan id's running workflow. A removed plan's
// workflow could still answer (the server replays closed workflows); it is
// refused instead, so a removed plan never looks alive.
func query(ctx context.Context, c client.Client, id, name string, out any, args ...any) error {
	resp, err := c.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{
		WorkflowID:           plan.WorkflowID(id),
		QueryType:            name,
		Args:                 args,
		QueryRejectCondition: enums.QUERY_REJECT_CONDITION_NOT_OPEN,
	})
	if err != nil {
		return fmt.Errorf("query %s of plan %s: %w", name, id, notFound(id, err))
	}
	if resp.QueryRejected != nil {
		return &notRunningError{id: id, ended: ended(ctx, c, id)}
	}
	if err := resp.QueryResult.Get(out); err != nil {
		return fmt.Errorf("decode %s of plan %s: %w", name, id, err)
	}
	return nil
}
