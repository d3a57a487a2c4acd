package workflows

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

func (h *harness) ledger() []api.LedgerEntry {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(api.QueryLedger, 0)
	if err != nil {
		h.t.Fatalf("query ledger: %v", err)
	}
	var l []api.LedgerEntry
	if err := v.Get(&l); err != nil {
		h.t.Fatal(err)
	}
	return l
}

// ledgerLines renders entries as "HH:MM outcome" lines, for comparison.
func ledgerLines(l []api.LedgerEntry) string {
	var b strings.Builder
	for _, e := range l {
		fmt.Fprintf(&b, "%s %s", e.Nominal.UTC().Format("15:04"), e.Outcome)
		if e.Late != "" {
			fmt.Fprintf(&b, " late %s", e.Late)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func wantLedger(t *testing.T, got []api.LedgerEntry, want string) {
	t.Helper()
	if g := ledgerLines(got); strings.TrimSpace(g) != strings.TrimSpace(want) {
		t.Fatalf("ledger:\n%s\nwant:\n%s", g, want)
	}
}

// downState is the state of a plan whose worker was down since 21:00:
// the 22:00, 23:00 and 00:00 fire times are overdue at t0 (00:30).
func downState() *State {
	created := time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC)
	return &State{
		Version: StateVersion,
		Created: created,
		Prev:    time.Date(2025, 12, 31, 21, 0, 0, 0, time.UTC),
		NextRun: time.Date(2025, 12, 31, 22, 0, 0, 0, time.UTC),
	}
}

func TestCatchUpAfterDowntime(t *testing.T) {
	two := 2
	cases := []struct {
		name   string
		set    func(*plan.Schedule)
		runs   []string
		ledger string
	}{
		{"skip", func(s *plan.Schedule) { s.CatchUp = "skip" }, nil,
			"22:00 missed\n23:00 missed\n00:00 missed"},
		{"latest", func(s *plan.Schedule) { s.CatchUp = "latest" }, []string{"2026-01-01T00:00:00Z"},
			"22:00 coalesced\n23:00 coalesced\n00:00 succeeded late 30m0s"},
		{"all", func(s *plan.Schedule) { s.CatchUp = "all" },
			[]string{"2025-12-31T22:00:00Z", "2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z"},
			"22:00 succeeded late 2h30m0s\n23:00 succeeded late 1h30m0s\n00:00 succeeded late 30m0s"},
		{"all with catchup_max", func(s *plan.Schedule) { s.CatchUp = "all"; s.CatchUpMax = &two },
			[]string{"2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z"},
			"22:00 missed\n23:00 succeeded late 1h30m0s\n00:00 succeeded late 30m0s"},
		{"latest within catchup_window", func(s *plan.Schedule) { s.CatchUp = "latest"; s.CatchUpWindow = plan.Duration(90 * time.Minute) },
			[]string{"2026-01-01T00:00:00Z"},
			"22:00 missed\n23:00 coalesced\n00:00 succeeded late 30m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p := backupPlan(time.Hour)
			tc.set(&p.Schedule)
			p.SetDefaults()
			var l []api.LedgerEntry
			var st api.Status
			h.at(20*time.Minute, func() { l, st = h.ledger(), h.status() })
			h.at(21*time.Minute, func() { h.env.CancelWorkflow() })
			h.env.ExecuteWorkflow(api.PlanWorkflowName, PlanInput{Spec: p, State: downState()})
			wantRuns(t, h.fb.runIDs(), tc.runs...)
			wantLedger(t, l, tc.ledger)
			// The next fire time comes from the schedule, not from when the
			// worker came back.
			if st.NextRun == nil || !st.NextRun.Equal(time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)) {
				t.Fatalf("next_run = %v, want 01:00", st.NextRun)
			}
		})
	}
}

func TestLastSuccessAnchorIgnoresFailures(t *testing.T) {
	for _, tc := range []struct {
		anchor, want string
	}{
		{"last-success", "2026-01-01T01:30:00Z"}, // the failed trigger does not move it
		{"last-run", "2026-01-01T01:50:00Z"},     // the failed trigger does
	} {
		t.Run(tc.anchor, func(t *testing.T) {
			h := newHarness(t)
			h.fb.fail = errors.New("source vanished")
			p := backupPlan(time.Hour)
			p.Schedule.Anchor = tc.anchor
			p.Retry.Activity.MaxAttempts = 1
			noRunRetries(&p)
			var st api.Status
			h.at(20*time.Minute, func() { h.signal(api.SignalTrigger, nil) })
			h.at(25*time.Minute, func() { st = h.status() })
			h.run(p, 26*time.Minute)
			if st.LastRun == nil || st.LastRun.Outcome != api.OutcomeFailed {
				t.Fatalf("last run: %+v", st.LastRun)
			}
			if st.NextRun == nil || st.NextRun.UTC().Format(time.RFC3339) != tc.want {
				t.Fatalf("next_run = %v, want %s", st.NextRun, tc.want)
			}
		})
	}
}

func TestWindowsMakeRunsWait(t *testing.T) {
	h := newHarness(t)
	p := backupPlan(time.Hour)
	p.Schedule.Windows = []string{"02:00-02:30"}
	var waiting api.Status
	h.at(45*time.Minute, func() { waiting = h.status() })
	var l []api.LedgerEntry
	h.at(3*time.Hour, func() { l = h.ledger() })
	h.run(p, 3*time.Hour+time.Minute)

	// 01:00 waits for the window; at 02:00 the newer fire time supersedes it.
	wantRuns(t, h.fb.runIDs(), "2026-01-01T02:00:00Z")
	if waiting.State != api.StateWaiting || len(waiting.Queued) != 1 || waiting.NextStart == nil ||
		!waiting.NextStart.Equal(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("status at 01:15: state %s queued %v next start %v", waiting.State, waiting.Queued, waiting.NextStart)
	}
	wantLedger(t, l, "01:00 coalesced\n02:00 succeeded\n03:00 waiting")
}

func TestBlackoutDelaysRun(t *testing.T) {
	h := newHarness(t)
	p := backupPlan(time.Hour)
	p.Schedule.Blackout = []string{"00:45-01:20"}
	var l []api.LedgerEntry
	h.at(time.Hour, func() { l = h.ledger() })
	h.run(p, time.Hour+time.Minute)
	if len(h.fb.calls) != 1 || !h.fb.calls[0].at.Equal(time.Date(2026, 1, 1, 1, 20, 0, 0, time.UTC)) {
		t.Fatalf("runs: %+v, want the 01:00 run at 01:20, after the blackout", h.fb.calls)
	}
	if len(l) != 1 || l[0].Outcome != api.LedgerSucceeded || !strings.Contains(l[0].Detail, "waited 20m0s") {
		t.Fatalf("ledger: %+v", l)
	}
}

func TestJitterDelaysRunWithinBound(t *testing.T) {
	h := newHarness(t)
	p := backupPlan(time.Hour)
	p.Schedule.Jitter = plan.Duration(10 * time.Minute)
	var l []api.LedgerEntry
	h.at(3*time.Hour, func() { l = h.ledger() })
	h.run(p, 3*time.Hour+time.Minute)
	if len(h.fb.calls) != 3 {
		t.Fatalf("runs: %+v", h.fb.calls)
	}
	for i, c := range h.fb.calls {
		nominal := time.Date(2026, 1, 1, 1+i, 0, 0, 0, time.UTC)
		if d := c.at.Sub(nominal); d < 0 || d >= 10*time.Minute {
			t.Errorf("run %d started %v after its nominal time, want within the 10m jitter", i, d)
		}
	}
	for _, e := range l {
		if e.Late != "" {
			t.Errorf("a jittered run counts as late: %+v", e)
		}
	}
}

func TestOverlapPolicies(t *testing.T) {
	for _, tc := range []struct {
		overlap string
		ledger  string
	}{
		{"skip", "01:00 succeeded\n02:00 overlap-skipped\n03:00 overlap-skipped\n04:00 started"},
		{"buffer-one", "01:00 succeeded\n02:00 started late 1h30m0s\n03:00 overlap-skipped\n04:00 waiting"},
	} {
		t.Run(tc.overlap, func(t *testing.T) {
			// Each run takes 2h30m: the 01:00 run lasts until 03:30.
			h := newHarnessWithRunTime(t, 150*time.Minute)
			p := backupPlan(time.Hour)
			p.Schedule.Overlap = tc.overlap
			var l []api.LedgerEntry
			h.at(4*time.Hour, func() { l = h.ledger() })
			h.run(p, 4*time.Hour+time.Minute)
			wantLedger(t, l, tc.ledger)
		})
	}
}

func TestDeadlineRaisesFreshnessAlert(t *testing.T) {
	h := newHarness(t)
	h.fb.fail = errors.New("nas offline")
	p := backupPlan(time.Hour)
	p.Schedule.Deadline = plan.Duration(150 * time.Minute)
	p.Retry.Activity.MaxAttempts = 1
	noRunRetries(&p)
	var before, after api.Status
	var l []api.LedgerEntry
	h.at(2*time.Hour+29*time.Minute, func() { before = h.status() })
	h.at(2*time.Hour+31*time.Minute, func() { after, l = h.status(), h.ledger() })
	h.run(p, 2*time.Hour+35*time.Minute)
	if before.Overdue || !after.Overdue || after.DeadlineAt == nil || !after.DeadlineAt.Equal(t0.Add(150*time.Minute)) {
		t.Fatalf("overdue before %v after %v deadline_at %v", before.Overdue, after.Overdue, after.DeadlineAt)
	}
	if !strings.Contains(after.Details, "OVERDUE") {
		t.Errorf("details = %q", after.Details)
	}
	wantLedger(t, l, "01:00 failed\n02:00 failed\n03:00 deadline-missed\n03:00 failed")
}

func TestPreviewQuery(t *testing.T) {
	h := newHarness(t)
	var fires []api.FireTime
	h.at(time.Minute, func() {
		v, err := h.env.QueryWorkflow(api.QueryPreview, 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&fires); err != nil {
			t.Fatal(err)
		}
	})
	h.run(backupPlan(time.Hour), 2*time.Minute)
	var got []string
	for _, f := range fires {
		got = append(got, f.Nominal.UTC().Format("15:04"))
	}
	if strings.Join(got, " ") != "01:00 02:00 03:00" {
		t.Fatalf("preview = %v", got)
	}
}

// TestYearOfHourlyRunsAcrossContinueAsNew runs a plan hourly for a year of
// workflow time, with pauses, through every continue-as-new: no fire time
// is lost or doubled, and counters, leases and the ledger carry over.
func TestYearOfHourlyRunsAcrossContinueAsNew(t *testing.T) {
	p := backupPlan(time.Hour)
	in := PlanInput{Spec: p}
	start := t0
	end := t0.AddDate(1, 0, 0)
	executions := 0
	var st api.Status
	var ledger []api.LedgerEntry
	for start.Before(end) {
		executions++
		h := newHarnessWithRunTime(t, 10*time.Minute)
		h.env.SetStartTime(start)
		// A 2h maintenance pause in every execution, and a pause that is
		// active at continue-as-new time (it starts while the 500th run of
		// the execution is in flight).
		h.at(10*time.Hour, func() { h.signal(api.SignalPause, api.PauseSignal{For: "2h", Reason: "maintenance", By: "ops"}) })
		firstDue := time.Date(start.Year(), start.Month(), start.Day(), start.Hour()+1, 0, 0, 0, time.UTC)
		h.at(firstDue.Add(501*time.Hour+5*time.Minute).Sub(start), func() {
			h.signal(api.SignalPause, api.PauseSignal{ID: fmt.Sprintf("carry-%d", executions), For: "30m"})
		})
		stop := end.Sub(start)
		h.at(stop-time.Minute, func() { st, ledger = h.status(), h.ledger() })
		h.at(stop, func() { h.env.CancelWorkflow() })
		h.env.ExecuteWorkflow(api.PlanWorkflowName, in)
		var can *workflow.ContinueAsNewError
		if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
			break // cancelled at the end of the year
		}
		var next PlanInput
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
			t.Fatal(err)
		}
		if !hasLease(next.State, fmt.Sprintf("carry-%d", executions)) {
			t.Fatalf("execution %d continued as new without its active lease: %+v", executions, next.State.Leases)
		}
		in = next
		start = h.env.Now()
	}
	if executions < 17 {
		t.Fatalf("only %d executions in a year of hourly runs", executions)
	}
	c := st.Counters
	slots := int(end.Add(-time.Minute).Sub(time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC))/time.Hour) + 1
	if got := c.Runs + c.SkippedPaused + c.Missed + c.Coalesced + c.OverlapSkipped; got != slots {
		t.Fatalf("counters %+v account for %d fire times, want %d", c, got, slots)
	}
	if c.Succeeded != c.Runs || c.SkippedPaused < 2*executions {
		t.Fatalf("counters: %+v over %d executions", c, executions)
	}
	// The ledger ring holds the newest entries, one per hour, none twice.
	if len(ledger) != maxLedger {
		t.Fatalf("ledger has %d entries, want %d", len(ledger), maxLedger)
	}
	// Full maintenance of the repository runs daily across the executions
	// too, with its own entries.
	var fires []api.LedgerEntry
	maintained := 0
	for _, e := range ledger {
		if e.Outcome == api.LedgerMaintained {
			maintained++
			continue
		}
		fires = append(fires, e)
	}
	if maintained < len(ledger)/25 {
		t.Errorf("%d full maintenance entries among the last %d hours, want one a day", maintained, len(ledger))
	}
	for i := 1; i < len(fires); i++ {
		if d := fires[i].Nominal.Sub(fires[i-1].Nominal); d != time.Hour {
			t.Fatalf("ledger entries %d and %d are %v apart: %+v %+v", i-1, i, d, fires[i-1], fires[i])
		}
	}
	if len(st.PauseHistory) != maxPauseHistory {
		t.Fatalf("pause history has %d entries", len(st.PauseHistory))
	}
}

func hasLease(st *State, id string) bool {
	if st == nil {
		return false
	}
	for _, l := range st.Leases {
		if l.ID == id {
			return true
		}
	}
	return false
}
