package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/workflows/api"
)

// update sends an Update from a delayed callback and returns a function
// that reports its result once the test has run.
func (h *harness) update(name, id string, arg any) func() (api.RequestResult, error) {
	var res api.RequestResult
	var err error
	done := false
	h.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnReject: func(e error) { err, done = e, true },
		OnAccept: func() {},
		OnComplete: func(v any, e error) {
			done = true
			if e != nil {
				err = e
				return
			}
			res = v.(api.RequestResult)
		},
	}, arg)
	return func() (api.RequestResult, error) {
		h.t.Helper()
		if !done {
			h.t.Fatalf("update %s %s got no answer", name, id)
		}
		return res, err
	}
}

// TestPauseHistoryRecordsWhoEndedEachLease: the history says how each
// lease ended, who ended it and why; the summary names the lease that
// decides the expiry.
func TestPauseHistoryRecordsWhoEndedEachLease(t *testing.T) {
	h := newHarness(t)
	var twoLeases, afterAll api.Status
	h.at(time.Minute, func() {
		h.signal(api.SignalPause, api.PauseSignal{ID: "short", For: "20m", By: "alice", Reason: "disk swap"})
		h.signal(api.SignalPause, api.PauseSignal{ID: "long", For: "2h", By: "bob", Reason: "raid rebuild"})
		h.signal(api.SignalPause, api.PauseSignal{ID: "mid", For: "1h", By: "erin", Reason: "noise"})
	})
	h.at(2*time.Minute, func() { twoLeases = h.status() })
	h.at(3*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{ID: "short", For: "30m", By: "dave"}) })
	h.at(50*time.Minute, func() {
		h.signal(api.SignalUnpause, api.UnpauseSignal{ID: "long", By: "carol", Reason: "rebuild done early"})
	})
	h.at(55*time.Minute, func() { afterAll = h.status() })
	h.run(backupPlan(time.Hour), time.Hour)

	until := t0.Add(time.Minute + 2*time.Hour)
	if d := twoLeases.Details; !strings.HasPrefix(d, "paused until "+until.Format("2006-01-02 15:04:05 UTC")+" by bob: raid rebuild (3 leases)") {
		t.Errorf("summary with three leases: %q; want the lease that decides the expiry (bob's)", d)
	}
	type rec struct{ id, how, actor, reason string }
	var got []rec
	for _, r := range afterAll.PauseHistory {
		got = append(got, rec{r.ID, r.EndedBy, r.Actor, r.EndReason})
	}
	want := []rec{
		{"short", "replaced", "dave", ""},
		{"short", "expired", "", ""},
		{"long", "unpaused", "carol", "rebuild done early"},
	}
	if len(got) != len(want) {
		t.Fatalf("pause history %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pause history[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if exp := afterAll.PauseHistory[1]; !exp.Ended.Equal(t0.Add(33 * time.Minute)) {
		t.Errorf("the replacing lease expired at %v, want 01:03", exp.Ended)
	}
	// erin's lease is the one left.
	if !strings.HasPrefix(afterAll.Details, "paused until "+t0.Add(61*time.Minute).Format("2006-01-02 15:04:05 UTC")+" by erin: noise") {
		t.Errorf("summary with erin's lease left: %q", afterAll.Details)
	}
}

// TestPausedPlanShowsItsNextRealRun: a paused plan's next run is the first
// fire time after its pause ends (never one the pause skips), none for an
// indefinite pause; the preview says the same.
func TestPausedPlanShowsItsNextRealRun(t *testing.T) {
	h := newHarness(t)
	var timed, nextRun, indefinite api.Status
	var timedPreview, indefinitePreview []api.FireTime
	preview := func() []api.FireTime {
		v, err := h.env.QueryWorkflow(api.QueryPreview, 3)
		if err != nil {
			t.Fatal(err)
		}
		var f []api.FireTime
		if err := v.Get(&f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	// 00:40: pause until 03:10; the 01:00, 02:00 and 03:00 runs are skipped.
	h.at(10*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{ID: "a", Until: "2026-01-01T03:10:00Z"}) })
	h.at(3*time.Hour, func() { timed, timedPreview = h.status(), preview() }) // 03:30
	h.at(3*time.Hour+time.Minute, func() {
		h.signal(api.SignalUnpause, api.UnpauseSignal{})
		h.signal(api.SignalPause, api.PauseSignal{ID: "b", UntilNextRun: true})
	})
	h.at(3*time.Hour+2*time.Minute, func() { nextRun = h.status() })
	h.at(3*time.Hour+3*time.Minute, func() {
		h.signal(api.SignalUnpause, api.UnpauseSignal{})
		h.signal(api.SignalPause, api.PauseSignal{ID: "c"})
	})
	h.at(3*time.Hour+4*time.Minute, func() { indefinite, indefinitePreview = h.status(), preview() })
	h.run(backupPlan(time.Hour), 3*time.Hour+5*time.Minute)

	if timed.Pause.Paused {
		t.Fatalf("the pause until 03:10 still holds at 03:30: %+v", timed.Pause)
	}
	if timed.NextRun == nil || !timed.NextRun.Equal(mustTime("2026-01-01T04:00:00Z")) || timedPreview[0].Nominal != mustTime("2026-01-01T04:00:00Z") {
		t.Fatalf("after the pause: next run %v preview %v", timed.NextRun, timedPreview)
	}
	// until_next_run at 03:31: the 04:00 run is skipped, so 05:00 is next.
	if nextRun.NextRun == nil || !nextRun.NextRun.Equal(mustTime("2026-01-01T05:00:00Z")) {
		t.Fatalf("paused until the next run: next run %v, want 05:00", nextRun.NextRun)
	}
	if !strings.HasPrefix(nextRun.Details, "paused until the next run (due 2026-01-01 04:00:00 UTC)") {
		t.Errorf("details of an until_next_run pause: %q", nextRun.Details)
	}
	if nextRun.Pause.Until == nil || !nextRun.Pause.Until.Equal(mustTime("2026-01-01T04:00:00Z")) {
		t.Errorf("pause.until of an until_next_run pause: %v, want 04:00", nextRun.Pause.Until)
	}
	if indefinite.NextRun != nil || indefinite.NextStart != nil || len(indefinitePreview) != 0 {
		t.Fatalf("indefinite pause: next run %v, next start %v, preview %v; want none", indefinite.NextRun, indefinite.NextStart, indefinitePreview)
	}
	if !strings.HasPrefix(indefinite.Details, "paused indefinitely") {
		t.Errorf("details of an indefinite pause: %q", indefinite.Details)
	}
}

// TestPausedNextRunDuringPause checks the next run while a timed pause is
// still on.
func TestPausedNextRunDuringPause(t *testing.T) {
	h := newHarness(t)
	var st api.Status
	var f []api.FireTime
	h.at(10*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{For: "2h"}) }) // until 02:40
	h.at(2*time.Hour, func() {                                                             // 02:30
		st = h.status()
		v, err := h.env.QueryWorkflow(api.QueryPreview, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&f); err != nil {
			t.Fatal(err)
		}
	})
	h.run(backupPlan(time.Hour), 2*time.Hour+time.Minute)
	if st.NextRun == nil || !st.NextRun.Equal(mustTime("2026-01-01T03:00:00Z")) {
		t.Fatalf("next run while paused until 02:40: %v, want 03:00 (never the skipped 01:00 or 02:00)", st.NextRun)
	}
	if len(f) != 2 || f[0].Nominal != mustTime("2026-01-01T03:00:00Z") || f[1].Nominal != mustTime("2026-01-01T04:00:00Z") {
		t.Fatalf("preview while paused: %v", f)
	}
}

// TestPreconditionFailureIsAFailedRunEverywhere: counters, last run, run
// records, details and ledger all count a failed precondition once, as a
// failed run.
func TestPreconditionFailureIsAFailedRunEverywhere(t *testing.T) {
	h := newHarness(t)
	withGate(h, func(at time.Time, n int) activities.CheckPreconditionsResult {
		if n == 1 {
			return activities.CheckPreconditionsResult{Verdict: activities.VerdictProceed}
		}
		return activities.CheckPreconditionsResult{Verdict: activities.VerdictFail, Reason: "check-disk exited 2"}
	})
	var st api.Status
	var l []api.LedgerEntry
	h.at(2*time.Hour, func() { st, l = h.status(), h.ledger() }) // after 01:00 (ok) and 02:00 (failed)
	h.run(gatedPlan(), 2*time.Hour+time.Minute)

	c := st.Counters
	if c.Runs != 2 || c.Succeeded != 1 || c.Failed != 1 || c.Runs != c.Succeeded+c.Failed+c.Cancelled {
		t.Fatalf("counters %+v, want 2 runs: 1 succeeded, 1 failed", c)
	}
	if r := st.LastRun; r == nil || r.Outcome != api.OutcomeFailed || r.Error == nil || *r.Error != "precondition: check-disk exited 2" ||
		r.ID != "steward/plan/home/run/2026-01-01T02:00:00Z" {
		t.Fatalf("last run %+v", st.LastRun)
	}
	if len(st.RecentRuns) != 2 || st.RecentRuns[1].Outcome != api.OutcomeFailed {
		t.Fatalf("run records %+v", st.RecentRuns)
	}
	if !strings.Contains(st.Details, "last run failed: precondition: check-disk exited 2") {
		t.Errorf("details %q do not show the failure", st.Details)
	}
	wantLedger(t, l, "01:00 succeeded\n02:00 failed")
}

// slowGate is a precondition check that takes a while (real time, so the
// mock clock stands still) and then says proceed; the pause arrives while
// it runs. (The test environment delivers an activity's cancellation only
// through throttled heartbeats, so the check is left to finish: what
// matters here is that its verdict no longer starts the run.)
type slowGate struct {
	onStart func()
}

func (g *slowGate) Check(ctx context.Context, req activities.CheckPreconditionsRequest) (activities.CheckPreconditionsResult, error) {
	g.onStart()
	time.Sleep(300 * time.Millisecond)
	return activities.CheckPreconditionsResult{Verdict: activities.VerdictProceed}, nil
}

// TestPauseModeAllCancelsPreconditionCheck: a pause with mode all stops a
// run that is still checking its preconditions; the backup never starts
// and the ledger says why.
func TestPauseModeAllCancelsPreconditionCheck(t *testing.T) {
	for _, mode := range []string{api.ModeAll, api.ModeNewRuns} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			g := &slowGate{onStart: func() {
				h.env.SignalWorkflow(api.SignalPause, api.PauseSignal{Mode: mode, By: "erin", Reason: "maintenance"})
			}}
			h.env.RegisterActivityWithOptions(g.Check, activity.RegisterOptions{Name: activities.CheckPreconditions})
			var st api.Status
			var l []api.LedgerEntry
			h.at(2*time.Hour, func() { st, l = h.status(), h.ledger() })
			h.run(gatedPlan(), 2*time.Hour+time.Minute)

			if len(h.fb.calls) != 0 {
				t.Fatalf("a backup ran after pause mode %s: %+v", mode, h.fb.calls)
			}
			want, detail := api.LedgerCancelled, "mode all"
			if mode == api.ModeNewRuns {
				want, detail = api.LedgerSkippedPaused, "paused while its preconditions were checked"
			}
			if len(l) == 0 || l[0].Outcome != want || !strings.Contains(l[0].Detail, detail) {
				t.Fatalf("ledger %+v, want %s (%s)", l, want, detail)
			}
			if st.State != api.StatePaused || st.Counters.Runs != 0 {
				t.Fatalf("state %s counters %+v", st.State, st.Counters)
			}
		})
	}
}

// TestTriggerRequestKnowsItsResult: a trigger Update while a run is in
// flight is queued, a second one joins it, and neither claims to have
// started a run; a trigger while paused is refused and changes nothing.
func TestTriggerRequestKnowsItsResult(t *testing.T) {
	h := newHarnessWithRunTime(t, 10*time.Minute)
	var first, second, third, idle func() (api.RequestResult, error)
	h.at(32*time.Minute, func() { first = h.update(api.UpdateTrigger, "t1", api.TriggerRequest{RequestID: "t1"}) })  // 01:02
	h.at(33*time.Minute, func() { second = h.update(api.UpdateTrigger, "t2", api.TriggerRequest{RequestID: "t2"}) }) // 01:03
	h.at(40*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{ID: "p", For: "5m"}) })                  // 01:10
	h.at(41*time.Minute, func() { third = h.update(api.UpdateTrigger, "t3", api.TriggerRequest{}) })
	// The pause ends at 01:15 and the queued trigger runs until 01:25.
	h.at(57*time.Minute, func() { idle = h.update(api.UpdateTrigger, "t4", api.TriggerRequest{RequestID: "t4"}) }) // 01:27
	h.run(backupPlan(time.Hour), 70*time.Minute)

	r, err := first()
	if err != nil || r.Outcome != api.RequestQueued || r.RunID != "steward/plan/home/run/2026-01-01T01:00:00Z" {
		t.Fatalf("trigger during a run: %+v %v, want queued behind the 01:00 run", r, err)
	}
	if r, err = second(); err != nil || r.Outcome != api.RequestJoined {
		t.Fatalf("second trigger during a run: %+v %v, want joined", r, err)
	}
	if _, err = third(); err == nil || !strings.Contains(err.Error(), "the plan is paused") {
		t.Fatalf("trigger while paused: %v, want refused", err)
	}
	if r, err = idle(); err != nil || r.Outcome != api.RequestStarted || !strings.HasSuffix(r.RunID, "/trigger") {
		t.Fatalf("trigger while idle: %+v %v, want started", r, err)
	}
	// 01:00, the one queued trigger (joined by the second), and 01:27.
	if n := len(h.fb.calls); n != 3 {
		t.Fatalf("%d backups ran, want 3: %v", n, h.fb.runIDs())
	}
}

// TestPauseRequestIsIdempotent: a pause retried with its request ID
// leaves one lease and gets the first answer again; an unpause the same.
// A malformed signal from another client meanwhile does not touch the
// request.
func TestPauseRequestIsIdempotent(t *testing.T) {
	h := newHarness(t)
	var a, b, un, unAgain func() (api.RequestResult, error)
	var st, after api.Status
	req := api.PauseRequest{PauseSignal: api.PauseSignal{For: "1h", By: "alice"}, RequestID: "r-1"}
	h.at(time.Minute, func() { a = h.update(api.UpdatePause, "u1", req) })
	h.at(2*time.Minute, func() {
		h.signal(api.SignalPause, jsonPayload(`{"for": "soon"}`)) // another client's bad signal
		b = h.update(api.UpdatePause, "u2", req)                  // the retry
	})
	h.at(3*time.Minute, func() { st = h.status() })
	h.at(4*time.Minute, func() {
		un = h.update(api.UpdateUnpause, "u3", api.UnpauseRequest{UnpauseSignal: api.UnpauseSignal{By: "bob"}, RequestID: "r-2"})
	})
	h.at(5*time.Minute, func() {
		unAgain = h.update(api.UpdateUnpause, "u4", api.UnpauseRequest{UnpauseSignal: api.UnpauseSignal{By: "bob"}, RequestID: "r-2"})
	})
	h.at(6*time.Minute, func() { after = h.status() })
	h.run(backupPlan(time.Hour), 7*time.Minute)

	ra, err := a()
	if err != nil || ra.Outcome != api.RequestPaused || ra.Lease == nil || ra.Until == nil || !ra.Until.Equal(t0.Add(time.Hour+time.Minute)) {
		t.Fatalf("pause: %+v %v", ra, err)
	}
	rb, err := b()
	if err != nil || !rb.Repeated || rb.Lease == nil || rb.Lease.ID != ra.Lease.ID {
		t.Fatalf("retried pause: %+v %v, want the first answer, repeated", rb, err)
	}
	if len(st.Pause.Leases) != 1 || st.Counters.Pauses != 1 || st.Counters.RejectedSignals != 1 {
		t.Fatalf("after the retry: leases %+v, counters %+v", st.Pause.Leases, st.Counters)
	}
	ru, err := un()
	if err != nil || ru.Outcome != api.RequestUnpaused || len(ru.Ended) != 1 || ru.Paused {
		t.Fatalf("unpause: %+v %v", ru, err)
	}
	if r, err := unAgain(); err != nil || !r.Repeated || len(r.Ended) != 1 {
		t.Fatalf("retried unpause: %+v %v, want the first answer (not an error for the gone lease)", r, err)
	}
	if after.Counters.Unpauses != 1 || len(after.PauseHistory) != 1 {
		t.Fatalf("after the retried unpause: counters %+v history %+v", after.Counters, after.PauseHistory)
	}
}

// TestPauseRequestBounds: an until beyond 10 years is refused like a for
// beyond 10 years, and for takes days.
func TestPauseRequestBounds(t *testing.T) {
	h := newHarness(t)
	var far, days func() (api.RequestResult, error)
	h.at(time.Minute, func() {
		far = h.update(api.UpdatePause, "far", api.PauseRequest{PauseSignal: api.PauseSignal{Until: "9999-01-01T00:00:00Z"}})
		days = h.update(api.UpdatePause, "days", api.PauseRequest{PauseSignal: api.PauseSignal{For: "7d"}})
	})
	h.run(backupPlan(time.Hour), 2*time.Minute)
	if _, err := far(); err == nil || !strings.Contains(err.Error(), "more than 10 years ahead") {
		t.Fatalf("until 9999: %v", err)
	}
	if r, err := days(); err != nil || r.Until == nil || !r.Until.Equal(t0.Add(time.Minute+7*24*time.Hour)) {
		t.Fatalf("for 7d: %+v %v", r, err)
	}
}
