package workflows

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/internal/plan"
)

// failUntil makes the fake backup fail every run started before t0+d.
func failUntil(h *harness, d time.Duration) {
	h.fb.failIf = func(string) error {
		if h.env.Now().Before(t0.Add(d)) {
			return temporal.NewNonRetryableApplicationError("disk gone", "test", errors.New("disk gone"))
		}
		return nil
	}
}

func TestNotifyFailedOncePerFireTimeThenRecovered(t *testing.T) {
	h := newHarness(t)
	p := backupPlan(time.Hour)
	max := 2
	p.Retry.Run.MaxRetries = &max
	p.Retry.Run.Interval = plan.Duration(5 * time.Minute)
	p.Notify = []plan.Notify{{URL: "generic+https://hooks.example/${HOOK}"}}
	// 01:00 and 02:00 fail, with all their retries; 03:00 succeeds.
	failUntil(h, 2*time.Hour+30*time.Minute)
	h.run(p, 3*time.Hour+32*time.Minute)

	if got := h.fn.events(); !slices.Equal(got, []string{"failed", "failed", "recovered"}) {
		t.Fatalf("events = %q, want failed twice (once per fire time, after its retries) then recovered", got)
	}
	req := h.fn.reqs[0]
	if req.Defaults || len(req.Targets) != 1 || req.Targets[0].URL != "generic+https://hooks.example/${HOOK}" {
		t.Errorf("request = %+v, want the plan's target with its reference unresolved", req)
	}
	if req.Event.Plan != "home" || req.Event.Kind != "backup" || !strings.Contains(req.Event.Error, "disk gone") || req.Event.NextRun == nil {
		t.Errorf("event = %+v, want plan, kind, the error and the next run", req.Event)
	}
	if st := h.status(); st.Notify == nil || st.Notify.Sent != 3 || st.Notify.Failed != 0 {
		t.Errorf("status notify = %+v, want 3 sent", st.Notify)
	}
}

func TestNotifyOverdueOncePerPeriod(t *testing.T) {
	h := newHarness(t)
	p := backupPlan(time.Hour)
	noRunRetries(&p)
	p.Schedule.Deadline = plan.Duration(150 * time.Minute)
	p.Notify = []plan.Notify{{URL: "ntfy://ntfy.example/backups", Events: []string{"overdue"}}}
	failUntil(h, 6*time.Hour+30*time.Minute)
	h.run(p, 7*time.Hour+32*time.Minute)
	// Overdue from 02:30 until the success at 07:00: one period.
	if got := h.fn.events(); !slices.Equal(got, []string{"overdue"}) {
		t.Fatalf("events = %q, want one overdue (the target takes only overdue)", got)
	}
}

func TestNotifyWorkerDefaultsAndHealthchecks(t *testing.T) {
	h := newHarness(t)
	p := backupPlan(time.Hour)
	noRunRetries(&p)
	failUntil(h, 90*time.Minute)
	h.run(p, 2*time.Hour+32*time.Minute)
	// No notify: the worker's default targets get the default events.
	for _, r := range h.fn.reqs {
		if !r.Defaults || len(r.Targets) != 0 {
			t.Errorf("plan without notify sent %+v, want the worker's defaults", r)
		}
	}
	if got := h.fn.events(); !slices.Equal(got, []string{"failed", "recovered"}) {
		t.Errorf("events = %q, want failed, recovered", got)
	}

	h = newHarness(t)
	p.Notify = []plan.Notify{{URL: "https://hc-ping.example/${HC_UUID}", Kind: plan.NotifyHealthchecks}}
	failUntil(h, 90*time.Minute)
	h.run(p, 2*time.Hour+32*time.Minute)
	// Each run pings its start and its end; nothing else goes there.
	var want []string
	for _, c := range h.fb.calls {
		end := plan.EventRunSucceeded
		if c.at.Before(t0.Add(90 * time.Minute)) {
			end = plan.EventRunFailed
		}
		want = append(want, plan.EventRunStarted, end)
	}
	if got := h.fn.events(); len(want) < 4 || !slices.Equal(got, want) {
		t.Errorf("healthchecks events = %q, want %q (a start and an end per run, and none of the others)", got, want)
	}
}

// TestNotifyReceiverDown: a notification that cannot be delivered is
// retried, then counted as failed; the plan keeps its schedule meanwhile.
func TestNotifyReceiverDown(t *testing.T) {
	p := backupPlan(time.Hour)
	noRunRetries(&p)
	p.Notify = []plan.Notify{{URL: "generic+https://hooks.example/x"}}
	control := newHarness(t)
	failUntil(control, 90*time.Minute)
	control.run(p, 3*time.Hour+32*time.Minute)

	h := newHarness(t)
	h.fn.fail = errors.New("connection refused")
	failUntil(h, 90*time.Minute)
	h.run(p, 3*time.Hour+32*time.Minute)
	if n, want := len(h.fb.calls), len(control.fb.calls); n != want || n < 3 {
		t.Errorf("%d runs, want %d as with a receiver that answers: the plan keeps its schedule while notifications fail", n, want)
	}
	attempts := 0
	for _, e := range h.fn.events() {
		if e == "failed" {
			attempts++
		}
	}
	if attempts < 3 {
		t.Errorf("the failed notification was tried %d times, want retries", attempts)
	}
	st := h.status()
	if st.Notify == nil || st.Notify.Failed != 2 || st.Notify.LastError == nil || !strings.Contains(*st.Notify.LastError, "connection refused") {
		t.Errorf("status notify = %+v, want 2 failed (failed and recovered) with the error", st.Notify)
	}
}
