package workflows

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

type fakeMaintain = fakeJob[activities.MaintainRequest, activities.MaintainResult]

func withMaintenanceHarness(t *testing.T, runTime time.Duration) (*harness, *fakeMaintain) {
	h := newHarnessWithRunTime(t, runTime)
	fm := &fakeMaintain{env: h.env, result: func(req activities.MaintainRequest) activities.MaintainResult {
		return activities.MaintainResult{Full: req.Full, BytesBefore: 3 << 20, BytesAfter: 1 << 20, Freed: 2 << 20, BlobsBefore: 9, BlobsAfter: 4}
	}}
	h.env.RegisterActivityWithOptions(fm.run, activity.RegisterOptions{Name: activities.Maintain})
	return h, fm
}

func maintainedPlan(quick, full time.Duration) plan.Plan {
	p := backupPlan(time.Hour)
	p.Backup.Maintenance = &plan.Maintenance{Quick: plan.Duration(quick), Full: plan.Duration(full)}
	p.SetDefaults()
	return p
}

// maintenanceSummary lists the maintenance runs as "15:04 quick|full".
func maintenanceSummary(f *fakeMaintain) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		mode := "quick"
		if c.req.Full {
			mode = "full"
		}
		out = append(out, c.at.Format("15:04")+" "+mode)
	}
	return out
}

// TestMaintenanceWaitsForTheRunAndFollowsItsTimers: quick maintenance
// every quick and full every full, counted from the last; one due while
// the plan's backup runs starts only when the backup has ended; a full one
// also counts as the quick one; the ledger and status say what each freed.
func TestMaintenanceWaitsForTheRunAndFollowsItsTimers(t *testing.T) {
	h, fm := withMaintenanceHarness(t, 20*time.Minute)
	var mid api.Status
	var ledger []api.LedgerEntry
	h.at(2*time.Hour+10*time.Minute, func() { mid = h.status(); ledger = h.ledger() })
	h.run(maintainedPlan(40*time.Minute, 2*time.Hour), 3*time.Hour+50*time.Minute)

	// Runs 01:00-01:20, 02:00-02:20, 03:00-03:20 (t0 is 00:30). Quick due
	// 01:10 waits for the run, as does quick due 02:00; full due 02:30;
	// quick due 03:10 waits.
	want := "01:20 quick, 02:20 quick, 02:30 full, 03:20 quick"
	if got := strings.Join(maintenanceSummary(fm), ", "); got != want {
		t.Fatalf("maintenance at %s, want %s", got, want)
	}
	for _, c := range fm.calls {
		if c.req.Repository != "/mnt/backup/repo" || c.req.PasswordEnv != "STEWARD_REPO_PASSWORD" {
			t.Errorf("maintenance request %+v", c.req)
		}
	}
	m := mid.Maintenance // at 02:40
	if m == nil || m.Failed || m.Last == nil || !m.Last.Full || m.Last.Report == nil || m.Last.Report.Maintenance.Freed != 2<<20 {
		t.Fatalf("status at 02:40: %+v", m)
	}
	if m.NextAt == nil || !m.NextAt.Equal(time.Date(2026, 1, 1, 3, 10, 0, 0, time.UTC)) {
		t.Errorf("next quick maintenance %v, want 03:10 (quick after the full one)", m.NextAt)
	}
	if m.NextFullAt == nil || !m.NextFullAt.Equal(time.Date(2026, 1, 1, 4, 30, 0, 0, time.UTC)) {
		t.Errorf("next full maintenance %v, want 04:30", m.NextFullAt)
	}
	var found bool
	for _, e := range ledger {
		if e.Outcome == api.LedgerMaintained && strings.Contains(e.Detail, "full maintenance freed 2.0 MiB; the repository holds 1.0 MiB in 4 blobs") {
			found = true
		}
	}
	if !found {
		t.Errorf("no maintained ledger entry with what it freed: %+v", ledger)
	}
}

// TestMaintenanceFailureAndCarriedTimers: the maintenance times and the
// failed state are carried across continue-as-new; a failed maintenance
// sets maintenance-failed (status, details, ledger) and the plan's runs go
// on; the next good one clears it.
func TestMaintenanceFailureAndCarriedTimers(t *testing.T) {
	h, fm := withMaintenanceHarness(t, 0)
	fm.fail = func(n int) error {
		if n == 1 {
			return temporal.NewNonRetryableApplicationError("maintenance must be run by designated user: alice@laptop", activities.ErrBadConfig, nil)
		}
		return nil
	}
	quick, full := t0.Add(5*time.Minute), t0.Add(3*time.Hour)
	st := &State{Version: StateVersion, Created: t0.Add(-30 * 24 * time.Hour), Prev: t0, MaintainAt: &quick, MaintainFullAt: &full}
	var failed, healed api.Status
	h.at(20*time.Minute, func() { failed = h.status() })
	h.at(2*time.Hour+50*time.Minute, func() { healed = h.status() })
	h.at(2*time.Hour+55*time.Minute, func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(api.PlanWorkflowName, PlanInput{Spec: maintainedPlan(time.Hour, 24*time.Hour), State: st})

	if got := strings.Join(maintenanceSummary(fm), ", "); got != "00:35 quick, 01:35 quick, 02:35 quick" {
		t.Fatalf("maintenance at %s, want quick at the carried 00:35, then hourly", got)
	}
	if m := failed.Maintenance; m == nil || !m.Failed || !strings.Contains(failed.Details, "MAINTENANCE FAILED 2026-01-01 00:35 UTC: maintenance must be run by designated user") {
		t.Errorf("status after the failure: %+v, details %q", m, failed.Details)
	}
	if m := healed.Maintenance; m == nil || m.Failed || strings.Contains(healed.Details, "MAINTENANCE") || healed.Counters.Succeeded < 2 {
		t.Errorf("status after a good maintenance: %+v, details %q, counters %+v", m, healed.Details, healed.Counters)
	}
}
