package control

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// NotifyTest asks plan id to send a test message to its notification
// targets (the notify-test Update), on its host, and returns what reached
// them.
func NotifyTest(ctx context.Context, c client.Client, id string) (activities.NotifyResult, error) {
	var res activities.NotifyResult
	if _, err := Status(ctx, c, id); err != nil {
		return res, err
	}
	// The check waits up to 30 s for the host, then sends for up to 2 min.
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout+2*time.Minute)
	defer cancel()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   plan.WorkflowID(id),
		UpdateName:   api.UpdateNotifyTest,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return res, notFound(id, err)
	}
	if err := h.Get(ctx, &res); err != nil {
		return res, fmt.Errorf("notify test of plan %s: %w", id, ownWords(err))
	}
	return res, nil
}
