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

// RequestTimeout bounds how long Pause, Unpause and Trigger wait for the
// plan's answer, retries included.
const RequestTimeout = 30 * time.Second

// Pause adds a pause lease to plan id through the pause Update and returns
// the plan's answer: the lease (with its ID) and when the pause ends. The
// workflow refuses a bad request with its reason, changing nothing.
func Pause(ctx context.Context, c client.Client, id, requestID string, s api.PauseSignal) (api.RequestResult, error) {
	return request(ctx, c, id, requestID, api.UpdatePause, func(rid string) any { return api.PauseRequest{PauseSignal: s, RequestID: rid} })
}

// Unpause ends one lease (s.ID) or all of plan id's leases through the
// unpause Update, and returns the IDs of the leases it ended.
func Unpause(ctx context.Context, c client.Client, id, requestID string, s api.UnpauseSignal) (api.RequestResult, error) {
	return request(ctx, c, id, requestID, api.UpdateUnpause, func(rid string) any { return api.UnpauseRequest{UnpauseSignal: s, RequestID: rid} })
}

// Trigger asks plan id to run now through the trigger Update, and returns
// whether a run started, waits behind the run in flight, or joined a
// trigger already waiting.
func Trigger(ctx context.Context, c client.Client, id, requestID string, s api.TriggerSignal) (api.RequestResult, error) {
	return request(ctx, c, id, requestID, api.UpdateTrigger, func(rid string) any { return api.TriggerRequest{TriggerSignal: s, RequestID: rid} })
}

// request sends Update name with one request ID for all its attempts (a
// generated one when rid is empty): the plan answers a repeated ID with its
// first answer and changes nothing, so a request whose answer was lost (a
// timeout under load) is retried safely, also by a script that passes its
// own ID again.
func request(ctx context.Context, c client.Client, id, rid, name string, payload func(requestID string) any) (api.RequestResult, error) {
	var res api.RequestResult
	if _, err := Status(ctx, c, id); err != nil {
		return res, err
	}
	if rid == "" {
		rid = "r-" + randomHex()
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := sendRequest(ctx, c, id, name, rid, payload(rid), &res)
		if err == nil || !transient(err) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("plan %s did not answer the %s request %s within %v: %w", id, name, rid, RequestTimeout, err)
		case <-time.After(wait):
		}
	}
}

func sendRequest(ctx context.Context, c client.Client, id, name, rid string, arg any, res *api.RequestResult) error {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   plan.WorkflowID(id),
		UpdateID:     rid,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return notFound(id, err)
	}
	return h.Get(ctx, res)
}

// transient reports whether err may go away when the request is sent again.
func transient(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	var busy *serviceerror.ResourceExhausted
	return errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.As(err, &busy) ||
		errors.Is(err, context.DeadlineExceeded)
}
