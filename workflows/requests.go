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
	if err := handleRequest(ctx, p, api.UpdatePause,
		func(r *api.PauseRequest) string { return r.RequestID },
		func(ctx workflow.Context, r *api.PauseRequest) error {
			_, err := p.checkPause(ctx, r.PauseSignal, true)
			return err
		},
		func(ctx workflow.Context, now time.Time, r *api.PauseRequest) api.RequestResult {
			l, _ := p.checkPause(ctx, r.PauseSignal, true) // checked just before
			l = p.addLease(now, l)
			return api.RequestResult{Outcome: api.RequestPaused, Lease: &l}
		}); err != nil {
		return err
	}
	if err := handleRequest(ctx, p, api.UpdateUnpause,
		func(r *api.UnpauseRequest) string { return r.RequestID },
		func(_ workflow.Context, r *api.UnpauseRequest) error { return p.checkUnpause(r.UnpauseSignal) },
		func(_ workflow.Context, now time.Time, r *api.UnpauseRequest) api.RequestResult {
			return api.RequestResult{Outcome: api.RequestUnpaused, Ended: p.endLeases(now, r.UnpauseSignal)}
		}); err != nil {
		return err
	}
	return handleRequest(ctx, p, api.UpdateTrigger,
		func(r *api.TriggerRequest) string { return r.RequestID },
		func(_ workflow.Context, r *api.TriggerRequest) error { return p.checkTrigger(r.TriggerSignal) },
		func(_ workflow.Context, now time.Time, r *api.TriggerRequest) api.RequestResult {
			return p.trigger(now, r.TriggerSignal)
		})
}

// handleRequest registers Update name, whose payload R carries a request
// ID. The payload is decoded strictly; a request ID answered before gets
// that answer again and changes nothing; check refuses a request (in the
// validator, so nothing is recorded), and act carries it out.
func handleRequest[R any](ctx workflow.Context, p *planner, name string,
	requestID func(*R) string,
	check func(workflow.Context, *R) error,
	act func(workflow.Context, time.Time, *R) api.RequestResult,
) error {
	decode := func(raw converter.RawValue) (*R, error) {
		var r R
		if err := decodeSignal(raw, &r); err != nil {
			return nil, err
		}
		if id := requestID(&r); id != "" && !leaseIDPattern.MatchString(id) {
			return nil, fmt.Errorf("request_id %q: use up to 64 letters, digits, '.', '_', ':' or '-'", clip(id, 80))
		}
		return &r, nil
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, name,
		func(ctx workflow.Context, raw converter.RawValue) (api.RequestResult, error) {
			r, err := decode(raw)
			if err != nil {
				return api.RequestResult{}, err
			}
			if old, ok := p.answered(requestID(r)); ok {
				return old, nil
			}
			if err := check(ctx, r); err != nil {
				return api.RequestResult{}, err
			}
			now := workflow.Now(ctx).UTC()
			res := act(ctx, now, r)
			p.changed.SendAsync(true)
			return p.answer(now, requestID(r), name, res), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, raw converter.RawValue) error {
			r, err := decode(raw)
			if err != nil {
				return err
			}
			if _, ok := p.answered(requestID(r)); ok {
				return nil
			}
			return check(ctx, r)
		}},
	)
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
