package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// ConfirmTimeout bounds how long Pause and Unpause wait for the plan's
// status to show the effect of their signal.
const ConfirmTimeout = 30 * time.Second

// Pause adds a pause lease to plan id and returns once the plan's status
// shows it. A lease ID is generated when s has none, so the lease can be
// found (and later ended by ID). The workflow validates the signal; a
// rejected one is returned as an error with the workflow's reason.
func Pause(ctx context.Context, c client.Client, id string, s api.PauseSignal) (api.Status, error) {
	if s.ID == "" {
		s.ID = newLeaseID()
	}
	return signalAndConfirm(ctx, c, id, api.SignalPause, s, func(before, st api.Status) bool {
		// A short lease (until_next_run) may have ended already.
		return hasLease(st, s.ID) || newHistoryRecord(before, st, s.ID)
	})
}

// Unpause ends one lease (s.ID) or all of plan id's leases and returns once
// the status shows them gone.
func Unpause(ctx context.Context, c client.Client, id string, s api.UnpauseSignal) (api.Status, error) {
	return signalAndConfirm(ctx, c, id, api.SignalUnpause, s, func(_, st api.Status) bool {
		if s.ID == "" {
			return !st.Pause.Paused
		}
		return !hasLease(st, s.ID)
	})
}

// Trigger asks plan id to run now and returns once the status shows the run
// started, or waiting (behind the run in flight, or for its preconditions).
func Trigger(ctx context.Context, c client.Client, id string, s api.TriggerSignal) (api.Status, error) {
	return signalAndConfirm(ctx, c, id, api.SignalTrigger, s, func(before, st api.Status) bool {
		return st.Counters.Runs > before.Counters.Runs ||
			st.State == api.StateRunning || st.State == api.StateWaiting
	})
}

// signalAndConfirm sends a signal and polls the status query until done,
// given the status before the signal and now, says it took effect, or the
// workflow counted it as rejected.
func signalAndConfirm(ctx context.Context, c client.Client, id, name string, arg any, done func(before, now api.Status) bool) (api.Status, error) {
	before, err := Status(ctx, c, id)
	if err != nil {
		return before, err
	}
	if err := c.SignalWorkflow(ctx, plan.WorkflowID(id), "", name, arg); err != nil {
		return before, fmt.Errorf("signal %s to plan %s: %w", name, id, notFound(id, err))
	}
	ctx, cancel := context.WithTimeout(ctx, ConfirmTimeout)
	defer cancel()
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		st, err := Status(ctx, c, id)
		switch {
		case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			return st, fmt.Errorf("plan %s did not confirm the %s signal within %v: %w", id, name, ConfirmTimeout, err)
		case err != nil:
			return st, err
		case st.Counters.RejectedSignals > before.Counters.RejectedSignals && st.LastRejection != nil:
			return st, errors.New(*st.LastRejection)
		case done(before, st):
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("plan %s did not confirm the %s signal within %v", id, name, ConfirmTimeout)
		case <-time.After(wait):
		}
	}
}

func newLeaseID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "p-" + hex.EncodeToString(b[:])
}
