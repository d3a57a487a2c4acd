package workflows

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// fakeGate answers precondition checks with scripted verdicts.
type fakeGate struct {
	mu      sync.Mutex
	env     interface{ Now() time.Time }
	verdict func(at time.Time, n int) activities.CheckPreconditionsResult
	calls   []time.Time
}

func (g *fakeGate) Check(ctx context.Context, req activities.CheckPreconditionsRequest) (activities.CheckPreconditionsResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	at := g.env.Now().UTC()
	g.calls = append(g.calls, at)
	return g.verdict(at, len(g.calls)), nil
}

func withGate(h *harness, verdict func(at time.Time, n int) activities.CheckPreconditionsResult) *fakeGate {
	g := &fakeGate{env: h.env, verdict: verdict}
	h.env.RegisterActivityWithOptions(g.Check, activity.RegisterOptions{Name: activities.CheckPreconditions})
	return g
}

func gatedPlan() plan.Plan {
	p := backupPlan(time.Hour)
	p.Preconditions = []plan.Precondition{{PathExists: "/mnt/backup"}}
	noRunRetries(&p)
	return p
}

func TestPreconditionVerdicts(t *testing.T) {
	for _, tc := range []struct {
		verdict string
		runs    []string
		ledger  string
	}{
		{activities.VerdictProceed, []string{"2026-01-01T01:00:00Z"}, "01:00 succeeded"},
		{activities.VerdictSkip, nil, "01:00 skipped-precondition"},
		{activities.VerdictFail, nil, "01:00 failed"},
	} {
		t.Run(tc.verdict, func(t *testing.T) {
			h := newHarness(t)
			withGate(h, func(time.Time, int) activities.CheckPreconditionsResult {
				return activities.CheckPreconditionsResult{Verdict: tc.verdict, Reason: "because"}
			})
			var st api.Status
			var l []api.LedgerEntry
			h.at(time.Hour, func() { st, l = h.status(), h.ledger() })
			h.run(gatedPlan(), time.Hour+time.Minute)
			wantRuns(t, h.fb.runIDs(), tc.runs...)
			wantLedger(t, l, tc.ledger)
			if tc.verdict == activities.VerdictSkip && (st.Counters.Runs != 0 || st.Counters.SkippedPrecondition != 1) {
				t.Fatalf("a skipped fire time counted as a run: %+v", st.Counters)
			}
			if tc.verdict == activities.VerdictFail && (st.Counters.Failed != 1 || !strings.Contains(l[0].Detail, "because")) {
				t.Fatalf("a failed precondition: counters %+v ledger %+v", st.Counters, l)
			}
		})
	}
}

func TestPreconditionWaitRechecksUntilItHolds(t *testing.T) {
	h := newHarness(t)
	appears := time.Date(2026, 1, 1, 1, 1, 0, 0, time.UTC) // the directory appears at 01:01
	g := withGate(h, func(at time.Time, _ int) activities.CheckPreconditionsResult {
		if at.Before(appears) {
			return activities.CheckPreconditionsResult{Verdict: activities.VerdictWait, Reason: "/mnt/backup: no such file or directory"}
		}
		return activities.CheckPreconditionsResult{Verdict: activities.VerdictProceed}
	})
	var waiting api.Status
	var l []api.LedgerEntry
	h.at(30*time.Minute+30*time.Second, func() { waiting = h.status() })
	h.at(time.Hour, func() { l = h.ledger() })
	h.run(gatedPlan(), time.Hour+time.Minute)

	if waiting.State != api.StateWaiting || waiting.Counters.Runs != 0 {
		t.Fatalf("while the precondition waits: state %s counters %+v", waiting.State, waiting.Counters)
	}
	// Checked at 01:00, then again every 5 minutes (half the interval,
	// capped) until it holds: one run for the 01:00 fire time.
	if len(g.calls) != 2 || !g.calls[1].Equal(time.Date(2026, 1, 1, 1, 5, 0, 0, time.UTC)) {
		t.Fatalf("checks at %v", g.calls)
	}
	wantRuns(t, h.fb.runIDs(), "2026-01-01T01:00:00Z")
	wantLedger(t, l, "01:00 succeeded late 5m0s")
}

func TestRunRetriesAreDurableAndBounded(t *testing.T) {
	h := newHarness(t)
	h.fb.failIf = func(runID string) error {
		if !strings.HasSuffix(runID, "/retry-2") {
			return errors.New("nas busy")
		}
		return nil
	}
	p := backupPlan(time.Hour)
	p.Retry.Activity.MaxAttempts = 1
	two := 2
	p.Retry.Run = plan.RunRetry{Interval: plan.Duration(10 * time.Minute), Backoff: 2, MaxRetries: &two}
	var retrying, done api.Status
	var l []api.LedgerEntry
	h.at(35*time.Minute, func() { retrying = h.status() }) // 01:05
	h.at(70*time.Minute, func() { done, l = h.status(), h.ledger() })
	h.run(p, 75*time.Minute)

	// 01:00 fails, retry 1 at 01:10 fails, retry 2 at 01:30 succeeds.
	wantRuns(t, h.fb.runIDs(), "2026-01-01T01:00:00Z", "2026-01-01T01:00:00Z/retry-1", "2026-01-01T01:00:00Z/retry-2")
	if retrying.State != api.StateRetrying || retrying.Retry.Attempt != 1 || retrying.Retry.Max != 2 ||
		retrying.Retry.NextAt == nil || !retrying.Retry.NextAt.Equal(time.Date(2026, 1, 1, 1, 10, 0, 0, time.UTC)) {
		t.Fatalf("while retrying: state %s retry %+v", retrying.State, retrying.Retry)
	}
	if !strings.Contains(retrying.Details, "retrying 1/2") {
		t.Errorf("details = %q", retrying.Details)
	}
	if done.Counters.Runs != 1 || done.Counters.Retries != 2 || done.Counters.Failed != 2 || done.Counters.Succeeded != 1 || done.LastSuccess == nil {
		t.Fatalf("counters %+v", done.Counters)
	}
	wantLedger(t, l, "01:00 failed\n01:00 failed\n01:00 succeeded")
}

func TestRetryWaitsWhilePaused(t *testing.T) {
	h := newHarness(t)
	h.fb.failIf = func(runID string) error {
		if !strings.Contains(runID, "/retry-") {
			return errors.New("nas busy")
		}
		return nil
	}
	p := backupPlan(time.Hour)
	p.Retry.Activity.MaxAttempts = 1
	one := 1
	p.Retry.Run = plan.RunRetry{Interval: plan.Duration(10 * time.Minute), MaxRetries: &one}
	h.at(32*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{For: "30m"}) }) // 01:02 to 01:32
	h.run(p, 65*time.Minute)
	if len(h.fb.calls) != 2 || !h.fb.calls[1].at.Equal(time.Date(2026, 1, 1, 1, 32, 0, 0, time.UTC)) {
		t.Fatalf("calls %+v, want the retry at the pause's end (01:32)", h.fb.calls)
	}
}

func TestCircuitBreakerPausesAfterConsecutiveFailures(t *testing.T) {
	h := newHarness(t)
	h.fb.fail = errors.New("repository unreachable")
	p := backupPlan(time.Hour)
	p.Retry.Activity.MaxAttempts = 1
	noRunRetries(&p)
	p.Retry.PauseAfterFailures = 2
	var st api.Status
	h.at(4*time.Hour, func() { st = h.status() })
	h.run(p, 4*time.Hour+time.Minute)
	wantRuns(t, h.fb.runIDs(), "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z")
	if st.State != api.StatePaused || len(st.Pause.Leases) != 1 || st.Pause.Leases[0].ID != "circuit-open" ||
		!strings.HasPrefix(st.Pause.Leases[0].Reason, "circuit-open") || st.Pause.Until != nil {
		t.Fatalf("after two failed runs: state %s pause %+v", st.State, st.Pause)
	}
}

func TestRunRecordsExpireWhileIdle(t *testing.T) {
	h := newHarness(t)
	h.fb.failIf = func(runID string) error {
		if strings.Contains(runID, "T02:00:00Z") {
			return errors.New("failed")
		}
		return nil
	}
	p := backupPlan(time.Hour)
	p.Retry.Activity.MaxAttempts = 1
	noRunRetries(&p)
	one := 1
	p.History = plan.History{Keep: plan.Duration(2 * time.Hour), Failed: plan.Duration(4 * time.Hour), Min: &one, Max: 50}
	ids := func(st api.Status) string {
		var s []string
		for _, r := range st.RecentRuns {
			s = append(s, r.Nominal.Format("15:04")+" "+r.Outcome)
		}
		return strings.Join(s, ", ")
	}
	var at0330, at0530, at0700 api.Status
	h.at(3*time.Hour-time.Minute, func() { h.signal(api.SignalPause, nil) }) // idle from 03:29 on
	h.at(3*time.Hour, func() { at0330 = h.status() })
	h.at(5*time.Hour, func() { at0530 = h.status() })
	h.at(6*time.Hour+30*time.Minute, func() { at0700 = h.status() })
	h.run(p, 6*time.Hour+31*time.Minute)

	if got := ids(at0330); got != "02:00 failed, 03:00 succeeded" {
		t.Fatalf("records at 03:30: %s", got)
	}
	// 03:00's record expired at 05:00; the failed 02:00 one lasts longer.
	if got := ids(at0530); got != "02:00 failed" {
		t.Fatalf("records at 05:30: %s", got)
	}
	// 02:00's expired at 06:00, but min keeps one record.
	if got := ids(at0700); got != "02:00 failed" {
		t.Fatalf("records at 07:00: %s", got)
	}
}
