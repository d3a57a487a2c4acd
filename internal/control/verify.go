package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"

	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// VerifyNow asks backup plan id to verify its repository now (the verify
// Update), reading percent of file contents (nil: the plan's setting), and
// returns the verification's workflow ID, or the one already running.
// The plan records the outcome: a failure sets verify-failed, a success
// clears it.
func VerifyNow(ctx context.Context, c client.Client, id string, req api.VerifyNow) (api.VerifyStarted, error) {
	var res api.VerifyStarted
	if pc := req.Percent; pc != nil && (*pc < 0 || *pc > 100) {
		return res, fmt.Errorf("--percent %v: must be 0 to 100", *pc)
	}
	if _, err := Status(ctx, c, id); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   plan.WorkflowID(id),
		UpdateName:   api.UpdateVerify,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return res, notFound(id, err)
	}
	if err := h.Get(ctx, &res); err != nil {
		return res, fmt.Errorf("verify plan %s: %w", id, err)
	}
	return res, nil
}

// WaitVerify waits until verification id ends and returns its report.
func WaitVerify(ctx context.Context, c client.Client, id string) (api.RunReport, error) {
	var rep api.RunReport
	for tries := 0; ; tries++ {
		err := c.GetWorkflow(ctx, id, "").Get(ctx, &rep)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) && tries < 50 {
			// The plan answers the Update before its child has started.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("verification %s: %w", id, ownWords(err))
		}
		return rep, nil
	}
}
