package workflows

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

type fakeVerify = fakeJob[activities.VerifyRequest, activities.VerifyResult]

func withVerifyHarness(t *testing.T) (*harness, *fakeVerify) {
	h := newHarness(t)
	h.env.RegisterWorkflowWithOptions(VerifyWorkflow, workflow.RegisterOptions{Name: api.VerifyWorkflowName})
	fv := &fakeVerify{env: h.env, result: func(activities.VerifyRequest) activities.VerifyResult {
		return activities.VerifyResult{Snapshots: 2, Files: 7}
	}}
	h.env.RegisterActivityWithOptions(fv.run, activity.RegisterOptions{Name: activities.Verify})
	return h, fv
}

func verifyingPlan(every time.Duration, percent float64) plan.Plan {
	p := backupPlan(time.Hour)
	p.Backup.Verify = &plan.Verify{Every: plan.Duration(every), Percent: &percent}
	p.SetDefaults()
	return p
}

// TestVerifyFailureSetsVerifyFailed: the verify timer fires every
// backup.verify.every after the last verification; a failed one sets the
// verify-failed state (status, details line, ledger), the next success
// clears it, and runs go on meanwhile.
func TestVerifyFailureSetsVerifyFailed(t *testing.T) {
	h, fv := withVerifyHarness(t)
	fv.fail = func(n int) error {
		if n == 1 {
			return temporal.NewNonRetryableApplicationError("verify snapshots in /mnt/backup/repo: 1 problems: missing blob", activities.ErrCorruptRepository, nil)
		}
		return nil
	}
	var failed, healed api.Status
	var ledger []api.LedgerEntry
	h.at(3*time.Hour, func() { failed = h.status(); ledger = h.ledger() })
	h.at(5*time.Hour, func() { healed = h.status() })
	h.run(verifyingPlan(2*time.Hour, 10), 5*time.Hour+time.Minute)

	if len(fv.calls) != 2 {
		t.Fatalf("%d verifications, want 2 (at 02:30 and 04:30)", len(fv.calls))
	}
	for i, want := range []time.Time{t0.Add(2 * time.Hour), t0.Add(4 * time.Hour)} {
		if c := fv.calls[i]; c.at.Sub(want) > time.Second || c.at.Before(want) || c.req.Percent != 10 || c.req.Repository != "/mnt/backup/repo" || c.req.PasswordEnv != "STEWARD_REPO_PASSWORD" {
			t.Errorf("verification %d: %+v, want at %s", i, c, want)
		}
	}
	v := failed.Verify
	if v == nil || !v.Failed || v.Last == nil || v.Last.Outcome != api.OutcomeFailed || v.Last.Error == nil || !strings.Contains(*v.Last.Error, "missing blob") {
		t.Fatalf("status after the failed verification: %+v", v)
	}
	if v.NextAt == nil || !v.NextAt.Equal(t0.Add(4*time.Hour)) {
		t.Errorf("next verification %v, want 04:30", v.NextAt)
	}
	if !strings.Contains(failed.Details, "VERIFY FAILED 2026-01-01 02:30 UTC: verify snapshots in /mnt/backup/repo") {
		t.Errorf("details %q lack the failed verification", failed.Details)
	}
	if failed.Counters.Succeeded < 2 {
		t.Errorf("runs stopped while verification failed: %+v", failed.Counters)
	}
	var found bool
	for _, e := range ledger {
		if e.Outcome == api.LedgerVerifyFailed && e.Nominal.Equal(t0.Add(2*time.Hour)) && strings.Contains(e.Detail, "missing blob") && strings.Contains(e.RunID, "/verify/") {
			found = true
		}
	}
	if !found {
		t.Errorf("no verify-failed ledger entry: %+v", ledger)
	}
	if v := healed.Verify; v == nil || v.Failed || v.Last.Outcome != api.OutcomeSucceeded || v.Last.Report == nil || v.Last.Report.Verify == nil ||
		v.Last.Report.Verify.Snapshots != 2 || v.Last.Report.Files != 7 || strings.Contains(healed.Details, "VERIFY") {
		t.Errorf("status after the next, good verification: %+v, details %q", v, healed.Details)
	}
}

// TestVerifyTimerCarriesAcrossContinueAsNew: the verify time and the
// failed state are carried state; a new execution verifies at the carried
// time and shows the carried failure until then. A plan without
// backup.verify never verifies and has no verify status.
func TestVerifyTimerCarriesAcrossContinueAsNew(t *testing.T) {
	h, fv := withVerifyHarness(t)
	at := t0.Add(10 * time.Minute)
	finished := t0.Add(-47 * time.Hour)
	msg := "earlier failure"
	st := &State{Version: StateVersion, Created: t0.Add(-30 * 24 * time.Hour), Prev: t0, VerifyAt: &at, VerifyFailed: true,
		LastVerify: &api.JobRecord{ID: "v1", Kind: api.RunKindVerify, Outcome: api.OutcomeFailed, Error: &msg, Finished: &finished}}
	var before api.Status
	h.at(5*time.Minute, func() { before = h.status() })
	h.at(time.Hour+20*time.Minute, func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(api.PlanWorkflowName, PlanInput{Spec: verifyingPlan(48*time.Hour, 5), State: st})
	if len(fv.calls) != 1 || fv.calls[0].at.Sub(at) > time.Second || fv.calls[0].at.Before(at) {
		t.Fatalf("verifications %+v, want one at the carried time %s", fv.calls, at)
	}
	if v := before.Verify; v == nil || !v.Failed || !strings.Contains(before.Details, "VERIFY FAILED") {
		t.Errorf("carried failure not shown: %+v %q", v, before.Details)
	}

	h2, fv2 := withVerifyHarness(t)
	var s api.Status
	h2.at(4*time.Hour, func() { s = h2.status() })
	h2.run(backupPlan(time.Hour), 4*time.Hour+time.Minute)
	if len(fv2.calls) != 0 || s.Verify != nil {
		t.Errorf("a plan without backup.verify verified %d times, status %+v", len(fv2.calls), s.Verify)
	}
}

// TestVerifyNowUpdate: the verify Update (steward snapshots verify) starts
// a verification at once with the percent asked for, joins one in flight,
// and is refused for a preheat plan or a percent above 100.
func TestVerifyNowUpdate(t *testing.T) {
	h, fv := withVerifyHarness(t)
	pc := 100.0
	answers := map[string]*api.VerifyStarted{}
	errs := map[string]error{}
	ask := func(id string, req any) {
		h.env.UpdateWorkflow(api.UpdateVerify, id, &testsuite.TestUpdateCallback{
			OnReject: func(e error) { errs[id] = e },
			OnAccept: func() {},
			OnComplete: func(v any, e error) {
				if e != nil {
					errs[id] = e
					return
				}
				r := v.(api.VerifyStarted)
				answers[id] = &r
			},
		}, req)
	}
	h.at(10*time.Minute, func() {
		ask("a", api.VerifyNow{Percent: &pc, By: "alice"})
		ask("b", api.VerifyNow{})
		bad := 150.0
		ask("c", api.VerifyNow{Percent: &bad})
	})
	var s api.Status
	h.at(20*time.Minute, func() { s = h.status() })
	h.run(backupPlan(time.Hour), 25*time.Minute)

	if a, b := answers["a"], answers["b"]; a == nil || b == nil || a.Joined || !b.Joined || a.ID != b.ID || !strings.HasPrefix(a.ID, "steward/plan/home/verify/") {
		t.Fatalf("answers %+v %+v errs %v", a, b, errs)
	}
	if err := errs["c"]; err == nil || !strings.Contains(err.Error(), "percent 150: must be 0 to 100") {
		t.Errorf("percent 150: %v", err)
	}
	if len(fv.calls) != 1 || fv.calls[0].req.Percent != 100 {
		t.Errorf("verifications %+v, want one reading 100%%", fv.calls)
	}
	if v := s.Verify; v == nil || v.Last == nil || v.Last.By != "alice" || v.Last.Outcome != api.OutcomeSucceeded || v.NextAt != nil {
		t.Errorf("status after a verification on request of a plan without backup.verify: %+v", v)
	}

	pre := &planner{spec: plan.Plan{ID: "models", Kind: plan.KindPreheat}}
	if err := pre.validateVerify(api.VerifyNow{}); err == nil || !strings.Contains(err.Error(), "plan models is a preheat plan: only backup plans have a repository to verify") {
		t.Errorf("verify of a preheat plan: %v", err)
	}
}
