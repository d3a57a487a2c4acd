package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/workflows/api"
)

// maxRequests bounds the answered requests kept for idempotency; a client
// retries within seconds, so the newest few dozen are plenty.
const maxRequests = 64

// registerRequestHandlers registers the pause, unpause and trigger
// Updates: the steward CLI's path, which answers each request with what it
// did. Their validators refuse what the matching signal would reject, so a
// refused request changes nothing and leaves no trace in history; the
// signals stay for the temporal CLI and the Web UI.
func (p *planner) registerRequestHandlers(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandlerWithOptions(ctx, api.UpdatePause,
		func(ctx workflow.Context, raw converter.RawValue) (api.RequestResult, error) {
			var r api.PauseRequest
			if err := decodeSignal(raw, &r); err != nil {
				return api.RequestResult{}, err
			}
			if old, ok := p.answered(r.RequestID); ok {
				return old, nil
			}
			l, err := p.checkPause(ctx, r.PauseSignal, true)
			if err != nil {
				return api.RequestResult{}, err
			}
			now := workflow.Now(ctx).UTC()
			l = p.addLease(now, l)
			p.changed.SendAsync(true)
			return p.answer(now, r.RequestID, api.UpdatePause, api.RequestResult{Outcome: api.RequestPaused, Lease: &l}), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, raw converter.RawValue) error {
			var r api.PauseRequest
			if err := decodeRequest(raw, &r, &r.RequestID); err != nil {
				return err
			}
			if _, ok := p.answered(r.RequestID); ok {
				return nil
			}
			_, err := p.checkPause(ctx, r.PauseSignal, true)
			return err
		}},
	); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, api.UpdateUnpause,
		func(ctx workflow.Context, raw converter.RawValue) (api.RequestResult, error) {
			var r api.UnpauseRequest
			if err := decodeSignal(raw, &r); err != nil {
				return api.RequestResult{}, err
			}
			if old, ok := p.answered(r.RequestID); ok {
				return old, nil
			}
			if err := p.checkUnpause(r.UnpauseSignal); err != nil {
				return api.RequestResult{}, err
			}
			now := workflow.Now(ctx).UTC()
			ended := p.endLeases(now, r.UnpauseSignal)
			p.changed.SendAsync(true)
			return p.answer(now, r.RequestID, api.UpdateUnpause, api.RequestResult{Outcome: api.RequestUnpaused, Ended: ended}), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, raw converter.RawValue) error {
			var r api.UnpauseRequest
			if err := decodeRequest(raw, &r, &r.RequestID); err != nil {
				return err
			}
			if _, ok := p.answered(r.RequestID); ok {
				return nil
			}
			return p.checkUnpause(r.UnpauseSignal)
		}},
	); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, api.UpdateTrigger,
		func(ctx workflow.Context, raw converter.RawValue) (api.RequestResult, error) {
			var r api.TriggerRequest
			if err := decodeSignal(raw, &r); err != nil {
				return api.RequestResult{}, err
			}
			if old, ok := p.answered(r.RequestID); ok {
				return old, nil
			}
			if err := p.checkTrigger(r.TriggerSignal); err != nil {
				return api.RequestResult{}, err
			}
			now := workflow.Now(ctx).UTC()
			res := p.trigger(now, r.TriggerSignal)
			p.changed.SendAsync(true)
			return p.answer(now, r.RequestID, api.UpdateTrigger, res), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, raw converter.RawValue) error {
			var r api.TriggerRequest
			if err := decodeRequest(raw, &r, &r.RequestID); err != nil {
				return err
			}
			if _, ok := p.answered(r.RequestID); ok {
				return nil
			}
			return p.checkTrigger(r.TriggerSignal)
		}},
	)
}

// decodeRequest decodes an Update's payload strictly and checks its
// request ID.
func decodeRequest(raw converter.RawValue, v any, requestID *string) error {
	if err := decodeSignal(raw, v); err != nil {
		return err
	}
	if id := *requestID; id != "" && !leaseIDPattern.MatchString(id) {
		return fmt.Errorf("request_id %q: use up to 64 letters, digits, '.', '_', ':' or '-'", clip(id, 80))
	}
	return nil
}

// checkTrigger says why a trigger request is refused, if it is.
func (p *planner) checkTrigger(s api.TriggerSignal) error {
	if err := validateTrigger(s); err != nil {
		return err
	}
	if p.paused() && !s.Force {
		return errors.New("the plan is paused; trigger with force to run anyway")
	}
	return nil
}

// trigger acts on a checked trigger request from an Update and says what
// it did: a run starts now, or waits behind the run in flight (or behind
// the wait for preconditions), or joins a trigger already waiting.
func (p *planner) trigger(now time.Time, s api.TriggerSignal) api.RequestResult {
	switch {
	case p.st.Trigger != nil:
		return api.RequestResult{Outcome: api.RequestJoined, RunID: p.inFlightID(), Detail: "a trigger was already waiting; this one adds no run"}
	case p.busy():
		p.st.Trigger = &s
		return api.RequestResult{Outcome: api.RequestQueued, RunID: p.inFlightID(), Detail: "runs when the run in flight is over"}
	case p.st.Recheck != nil && p.st.Recheck.After(now) && !s.Force:
		p.st.Trigger = &s
		return api.RequestResult{Outcome: api.RequestQueued, Detail: "runs when its preconditions hold; checked again at " + p.st.Recheck.UTC().Format(time.RFC3339)}
	}
	p.launch(p.ctx, PendingRun{Nominal: now, StartAt: now, Trigger: &s})
	if p.st.Checking != nil {
		return api.RequestResult{Outcome: api.RequestStarted, Detail: "checking its preconditions first"}
	}
	return api.RequestResult{Outcome: api.RequestStarted, RunID: p.inFlightID()}
}

// inFlightID is the ID of the run in flight, if any.
func (p *planner) inFlightID() string {
	if p.st.Running != nil {
		return p.st.Running.ID
	}
	return ""
}

// answered returns the answer given before to request id.
func (p *planner) answered(id string) (api.RequestResult, bool) {
	if id == "" {
		return api.RequestResult{}, false
	}
	for i := len(p.st.Requests) - 1; i >= 0; i-- {
		if r := p.st.Requests[i]; r.RequestID == id {
			r.Repeated = true
			return r, true
		}
	}
	return api.RequestResult{}, false
}

// answer completes res with the plan's pause after the request, and keeps
// it for a retry of the same request ID.
func (p *planner) answer(now time.Time, id, request string, res api.RequestResult) api.RequestResult {
	res.RequestID, res.Request, res.At = id, request, now
	res.Paused, res.Until = p.paused(), p.pausedUntil()
	if id != "" {
		p.st.Requests = append(p.st.Requests, res)
		if n := len(p.st.Requests); n > maxRequests {
			p.st.Requests = append([]api.RequestResult(nil), p.st.Requests[n-maxRequests:]...)
		}
	}
	return res
}
