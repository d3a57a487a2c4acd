package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/workflows/api"
)

func TestOverlappingLeasesLatestExpiryWins(t *testing.T) {
	h := newHarness(t)
	var both, afterUnpauseA, afterB api.Status
	h.at(10*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{ID: "a", For: "3h", By: "alice"}) })
	h.at(20*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{ID: "b", For: "1h", By: "bob"}) }) // until 01:50
	h.at(25*time.Minute, func() { both = h.status() })
	h.at(40*time.Minute, func() { h.signal(api.SignalUnpause, api.UnpauseSignal{ID: "a", By: "carol"}) })
	h.at(41*time.Minute, func() { afterUnpauseA = h.status() })
	h.at(81*time.Minute, func() { afterB = h.status() })
	h.run(backupPlan(time.Hour), 2*time.Hour+time.Minute)

	// A shorter, later lease never shortens an earlier one.
	if !both.Pause.Paused || len(both.Pause.Leases) != 2 || both.Pause.Until == nil ||
		!both.Pause.Until.Equal(time.Date(2026, 1, 1, 3, 40, 0, 0, time.UTC)) {
		t.Fatalf("with both leases: %+v", both.Pause)
	}
	// Ending lease a leaves b holding the plan until 01:50.
	if !afterUnpauseA.Pause.Paused || len(afterUnpauseA.Pause.Leases) != 1 || afterUnpauseA.Pause.Leases[0].ID != "b" ||
		!afterUnpauseA.Pause.Until.Equal(time.Date(2026, 1, 1, 1, 50, 0, 0, time.UTC)) {
		t.Fatalf("after unpausing a: %+v", afterUnpauseA.Pause)
	}
	if afterB.Pause.Paused || afterB.State != api.StateIdle {
		t.Fatalf("after b expired: %+v", afterB.Pause)
	}
	hist := afterB.PauseHistory
	if len(hist) != 2 || hist[0].ID != "a" || hist[0].EndedBy != endUnpaused || hist[0].Actor != "carol" ||
		hist[1].ID != "b" || hist[1].EndedBy != endExpired {
		t.Fatalf("pause history: %+v", hist)
	}
	// 01:00 fell in the pause; 02:00 runs.
	wantRuns(t, h.fb.runIDs(), "2026-01-01T02:00:00Z")
}

func TestPauseWithSameIDReplacesLease(t *testing.T) {
	h := newHarness(t)
	var st api.Status
	h.at(5*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{ID: "maint", For: "3h", Reason: "first"}) })
	h.at(6*time.Minute, func() {
		h.signal(api.SignalPause, api.PauseSignal{ID: "maint", For: "10m", Reason: "shorter", By: "dave"})
	})
	h.at(7*time.Minute, func() { st = h.status() })
	h.run(backupPlan(time.Hour), 8*time.Minute)
	if len(st.Pause.Leases) != 1 || st.Pause.Leases[0].Reason != "shorter" ||
		len(st.PauseHistory) != 1 || st.PauseHistory[0].EndedBy != endReplaced || st.PauseHistory[0].Actor != "dave" {
		t.Fatalf("leases %+v history %+v", st.Pause.Leases, st.PauseHistory)
	}
}

func TestPauseModeAllCancelsRunInFlight(t *testing.T) {
	h := newHarnessWithRunTime(t, time.Hour) // runs take an hour
	var st api.Status
	var l []api.LedgerEntry
	h.at(40*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{Mode: api.ModeAll, By: "erin", For: "2h"}) }) // 01:10
	h.at(45*time.Minute, func() { st, l = h.status(), h.ledger() })
	h.run(backupPlan(time.Hour), 50*time.Minute)
	if st.LastRun == nil || st.LastRun.Outcome != api.OutcomeCancelled || st.Counters.Cancelled != 1 || st.State != api.StatePaused {
		t.Fatalf("after pause mode all: state %s last run %+v", st.State, st.LastRun)
	}
	if len(h.fb.calls) != 0 {
		t.Fatalf("the cancelled run reached its backup: %+v", h.fb.calls)
	}
	if len(l) != 1 || l[0].Outcome != api.LedgerCancelled || !strings.Contains(l[0].Detail, "mode all") || !strings.Contains(l[0].Detail, "erin") {
		t.Fatalf("ledger: %+v", l)
	}
}

func TestPauseUntilNextRunSkipsOneRun(t *testing.T) {
	h := newHarness(t)
	var l []api.LedgerEntry
	h.at(10*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{UntilNextRun: true}) })
	h.at(2*time.Hour, func() { l = h.ledger() })
	h.run(backupPlan(time.Hour), 2*time.Hour+time.Minute)
	wantRuns(t, h.fb.runIDs(), "2026-01-01T02:00:00Z")
	wantLedger(t, l, "01:00 skipped-paused\n02:00 succeeded")
}
