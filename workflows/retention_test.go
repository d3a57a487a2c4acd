package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// fakeForget records the retention calls.
type fakeForget struct {
	mu    sync.Mutex
	calls []activities.ForgetRequest
}

func (f *fakeForget) Forget(_ context.Context, req activities.ForgetRequest) (activities.ForgetResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	return activities.ForgetResult{Kept: 2, Forgotten: 1}, nil
}

// TestRetentionRunsAfterEachSuccessOnly: with backup.keep, each successful
// run applies the plan's policy in its time zone; a failed run forgets
// nothing; a plan without keep never calls retention.
func TestRetentionRunsAfterEachSuccessOnly(t *testing.T) {
	h := newHarness(t)
	ff := &fakeForget{}
	h.env.RegisterActivityWithOptions(ff.Forget, activity.RegisterOptions{Name: activities.Forget})
	h.fb.failIf = func(runID string) error {
		if strings.HasSuffix(runID, "02:00:00Z") {
			return temporal.NewNonRetryableApplicationError("disk full", activities.ErrDiskFull, nil)
		}
		return nil
	}
	p := backupPlan(time.Hour)
	noRunRetries(&p)
	p.Schedule.Timezone = "Europe/Berlin"
	p.Backup.Keep = &plan.Keep{Last: 2, Daily: 7}
	var st api.Status
	h.at(3*time.Hour, func() { st = h.status() }) // after 01:00, 02:00 (failed), 03:00
	h.run(p, 3*time.Hour+time.Minute)

	if len(ff.calls) != 2 {
		t.Fatalf("%d retention calls, want 2 (after the two successful runs)", len(ff.calls))
	}
	c := ff.calls[0]
	if c.PlanID != "home" || c.Policy.Last != 2 || c.Policy.Daily != 7 || c.Timezone != "Europe/Berlin" || c.DryRun || !c.Brief {
		t.Fatalf("retention request %+v", c)
	}
	if r := st.RecentRuns; len(r) != 3 || r[0].Forgotten != 1 || r[1].Outcome != api.OutcomeFailed || r[1].Forgotten != 0 {
		t.Fatalf("run records %+v", r)
	}

	// Without keep, no retention at all.
	h2 := newHarness(t)
	ff2 := &fakeForget{}
	h2.env.RegisterActivityWithOptions(ff2.Forget, activity.RegisterOptions{Name: activities.Forget})
	h2.run(backupPlan(time.Hour), 2*time.Hour-time.Minute)
	if len(ff2.calls) != 0 || len(h2.fb.calls) != 2 {
		t.Fatalf("plan without keep: %d retention calls, %d backups", len(ff2.calls), len(h2.fb.calls))
	}
}

// TestRetentionFailureFailsTheRun: a retention that fails fails the run
// (visible, and retried like any failed run), and the retry reuses the
// snapshot already made.
func TestRetentionFailureFailsTheRun(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterActivityWithOptions(func(context.Context, activities.ForgetRequest) (activities.ForgetResult, error) {
		return activities.ForgetResult{}, temporal.NewNonRetryableApplicationError("repository busy", activities.ErrBadConfig, nil)
	}, activity.RegisterOptions{Name: activities.Forget})
	p := backupPlan(time.Hour)
	noRunRetries(&p)
	p.Backup.Keep = &plan.Keep{Last: 1}
	var st api.Status
	h.at(time.Hour, func() { st = h.status() })
	h.run(p, time.Hour+time.Minute)
	if st.LastRun == nil || st.LastRun.Outcome != api.OutcomeFailed || st.LastRun.Error == nil || !strings.Contains(*st.LastRun.Error, "repository busy") {
		t.Fatalf("last run %+v", st.LastRun)
	}
}
