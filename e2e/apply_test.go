package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// TestApplyCreatesUpdatesAndLeavesUnchanged edits a running plan the way a
// user does: apply, change `every`, apply again. Each apply reports exactly
// what it did, a dry run changes nothing, the preview follows the edit, a
// worker restarted with an edited --plans file updates the plan, and an
// Update the workflow rejects leaves the plan as it was.
func TestApplyCreatesUpdatesAndLeavesUnchanged(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	c := s.client()
	hourly := backupPlanYAML("edit", "1h", src, repo, "STEWARD_E2E_PASSWORD")
	sevenMin := strings.Replace(hourly, "{every: 1h}", "{every: 7m}", 1)

	if out := s.mustSteward("plan", "apply", "-f", s.writePlans(hourly)); strings.TrimSpace(out) != "created edit" {
		t.Fatalf("first apply: %q, want created edit", out)
	}
	if got := previewGap(t, c, "edit"); got != time.Hour {
		t.Fatalf("preview gap after create: %v", got)
	}

	// A dry run of the edit says what would change and changes nothing.
	out := s.mustSteward("plan", "apply", "-f", s.writePlans(sevenMin), "--dry-run")
	if !strings.Contains(out, "updated edit: schedule.every: 1h0m0s -> 7m0s") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("dry run: %q", out)
	}
	if got := previewGap(t, c, "edit"); got != time.Hour {
		t.Fatalf("a dry run changed the plan: preview gap %v", got)
	}
	if sp := spec(t, c, "edit"); sp.Schedule.Every.D() != time.Hour {
		t.Fatalf("a dry run changed the spec: every %v", sp.Schedule.Every)
	}

	// The real apply updates, with the diff, through the Update.
	if out := s.mustSteward("plan", "apply", "-f", s.writePlans(sevenMin)); strings.TrimSpace(out) != "updated edit: schedule.every: 1h0m0s -> 7m0s" {
		t.Fatalf("apply of the edit: %q", out)
	}
	if got := previewGap(t, c, "edit"); got != 7*time.Minute {
		t.Fatalf("preview gap after the update: %v, want 7m", got)
	}
	if sp := spec(t, c, "edit"); sp.Schedule.Every.D() != 7*time.Minute {
		t.Fatalf("spec after the update: every %v", sp.Schedule.Every)
	}

	// Applying the same file again changes nothing, in text and JSON.
	if out := s.mustSteward("plan", "apply", "-f", s.writePlans(sevenMin)); strings.TrimSpace(out) != "unchanged edit" {
		t.Fatalf("second apply of the same file: %q", out)
	}
	var res control.ApplyResult
	if err := json.Unmarshal([]byte(s.mustSteward("plan", "apply", "-f", s.writePlans(hourly), "--dry-run", "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || len(res.Plans) != 1 || res.Plans[0].Action != control.ActionUpdated ||
		len(res.Plans[0].Changes) != 1 || res.Plans[0].Changes[0] != (plan.Change{Path: "schedule.every", Old: "7m0s", New: "1h0m0s"}) {
		t.Fatalf("JSON dry run: %+v", res)
	}

	// An Update the workflow rejects names the field and changes nothing.
	before := s.status(c, "edit")
	pf, err := plan.Parse([]byte("plans:\n  - {id: edit, kind: preheat, schedule: {every: 1h}, preheat: {urls: [\"https://example.com/f\"]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = control.Update(context.Background(), c, pf.Plans[0])
	if err == nil || !strings.Contains(err.Error(), `plan.kind: "backup" cannot become "preheat"`) {
		t.Fatalf("update changing the kind: %v", err)
	}
	bad := spec(t, c, "edit")
	bad.Schedule.Every = plan.Duration(-time.Minute)
	if err := control.Update(context.Background(), c, bad); err == nil || !strings.Contains(err.Error(), "plan.schedule.every: -1m0s: must be positive") {
		t.Fatalf("update with a negative interval: %v", err)
	}
	if sp := spec(t, c, "edit"); sp.Kind != plan.KindBackup || sp.Schedule.Every.D() != 7*time.Minute {
		t.Fatalf("a rejected update changed the spec: %+v", sp)
	}
	if after := s.status(c, "edit"); !after.NextRun.Equal(*before.NextRun) || after.Counters.Runs != before.Counters.Runs {
		t.Fatalf("a rejected update changed the plan: next run %v -> %v", before.NextRun, after.NextRun)
	}
	// The CLI refuses a kind change before sending anything.
	out, err = s.steward("plan", "apply", "-f", s.writePlans("plans:\n  - {id: edit, kind: preheat, schedule: {every: 1h}, preheat: {urls: [\"https://example.com/f\"]}}\n"))
	if err == nil || !strings.Contains(out, `plans[0].kind: "backup" cannot become "preheat"`) || !strings.Contains(out, "nothing was applied") {
		t.Fatalf("apply changing the kind: %v\n%s", err, out)
	}

	// A worker restarted on an edited --plans file updates the plan.
	s.kill9()
	two := sevenMin + strings.TrimPrefix(backupPlanYAML("other", "1h", src, repo+"2", "STEWARD_E2E_PASSWORD"), "plans:\n")
	s.start("--plans", s.writePlans(strings.Replace(two, "{every: 7m}", "{every: 9m}", 1)))
	waitFor(t, time.Minute, "the worker to apply --plans", func() bool { return strings.Contains(s.out.String(), "steward: applied ") })
	for _, want := range []string{"steward: updated edit: schedule.every: 7m0s -> 9m0s", "steward: created other", "1 created, 1 updated, 0 unchanged"} {
		if !strings.Contains(s.out.String(), want) {
			t.Fatalf("worker output lacks %q:\n%s", want, s.out.String())
		}
	}
	c = s.client()
	if got := previewGap(t, c, "edit"); got != 9*time.Minute {
		t.Fatalf("preview gap after the restart: %v, want 9m", got)
	}
	recordHistory(t, c, "steward/plan/edit", "plan-v1-apply-updates")
}

// TestRemovedPlanIsNotShownAsAlive: after `plan rm`, show, ledger and runs
// fail, naming the plan and when it was removed.
func TestRemovedPlanIsNotShownAsAlive(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("gone", "1h", src, repo, "STEWARD_E2E_PASSWORD")))
	s.mustSteward("plan", "show", "gone")
	s.mustSteward("plan", "rm", "gone")
	for _, args := range [][]string{{"plan", "show", "gone"}, {"ledger", "gone"}, {"runs", "gone"}, {"plan", "preview", "gone"}, {"plan", "show", "gone", "-o", "json"}} {
		out, err := s.steward(args...)
		if err == nil || !strings.Contains(out, `no plan "gone" (removed at `) {
			t.Errorf("steward %s after rm: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := s.steward("plan", "show", "never"); err == nil || !strings.Contains(out, `no plan "never"`) {
		t.Errorf("show of a plan that never existed: %v\n%s", err, out)
	}
	// Applying it again makes a new plan.
	if out := s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("gone", "1h", src, repo, "STEWARD_E2E_PASSWORD"))); !strings.Contains(out, "created gone") {
		t.Fatalf("apply after rm: %q", out)
	}
}

// TestExternalDriveIsAppliedAndWaits is Backrest's external-drive case: the
// repository is on a drive that is not there when the plan is applied,
// guarded by a path_exists precondition. The plan is applied with a note,
// its run waits, and once the drive appears exactly one snapshot is taken
// for that run.
func TestExternalDriveIsAppliedAndWaits(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, _ := newBackupDirs(t, s)
	drive := filepath.Join(s.dir, "usb")
	repo := filepath.Join(drive, "repo")
	plans := strings.Replace(backupPlanYAML("usb", "20s", src, repo, "STEWARD_E2E_PASSWORD"),
		"    backup:\n", fmt.Sprintf("    preconditions:\n      - path_exists: %s\n    backup:\n", drive), 1)

	// Without the precondition the same plan is refused.
	unguarded := backupPlanYAML("usb", "20s", src, repo, "STEWARD_E2E_PASSWORD")
	if out, err := s.steward("plan", "apply", "-f", s.writePlans(unguarded)); err == nil || !strings.Contains(out, "plans[0].backup.repository: "+repo) {
		t.Fatalf("unguarded plan on a missing drive: %v\n%s", err, out)
	}

	out := s.mustSteward("plan", "apply", "-f", s.writePlans(plans))
	if !strings.Contains(out, "created usb") || !strings.Contains(out, "note: plans[0].backup.repository: "+repo+" is not checked now: it lies under precondition path_exists "+drive) {
		t.Fatalf("apply of the guarded plan: %q", out)
	}
	c := s.client()
	waitFor(t, time.Minute, "the run to wait for the drive", func() bool {
		l, err := tryLedger(c, "usb")
		return err == nil && len(l) > 0 && l[len(l)-1].Outcome == api.LedgerWaiting
	})
	if err := os.Mkdir(drive, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the run to succeed once the drive is there", func() bool {
		st, err := tryStatus(c, "usb")
		return err == nil && st.Counters.Succeeded >= 1
	})
	s.mustSteward("pause", "usb", "--reason", "count snapshots")
	var st api.Status
	waitFor(t, time.Minute, "no run in flight", func() bool {
		st = s.status(c, "usb")
		return st.LastRun != nil && st.LastRun.Outcome != api.OutcomeRunning
	})
	perRun := map[string]int{}
	for _, snap := range listSnapshots(t, repo) {
		perRun[snap.Tags["run"]]++
	}
	first := st.RecentRuns[0]
	if perRun[first.ID] != 1 || len(perRun) != st.Counters.Succeeded {
		t.Fatalf("snapshots per run %v, succeeded runs %d; the run that waited is %s", perRun, st.Counters.Succeeded, first.ID)
	}
	for run, n := range perRun {
		if n != 1 {
			t.Fatalf("run %s has %d snapshots", run, n)
		}
	}
}

// previewGap is the time between plan id's first two previewed fire times.
func previewGap(t *testing.T, c client.Client, id string) time.Duration {
	t.Helper()
	f, err := control.Preview(context.Background(), c, id, 2)
	if err != nil || len(f) != 2 {
		t.Fatalf("preview of %s: %v %v", id, f, err)
	}
	return f[1].Nominal.Sub(f[0].Nominal)
}

func spec(t *testing.T, c client.Client, id string) plan.Plan {
	t.Helper()
	p, err := control.Spec(context.Background(), c, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFailingPreconditionShowsInOverview: a plan whose precondition
// command fails at every run is a failing plan in plan ls (text and JSON),
// plan show and the ledger, counted once everywhere.
func TestFailingPreconditionShowsInOverview(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	plans := strings.Replace(backupPlanYAML("failing", "5s", src, repo, "STEWARD_E2E_PASSWORD"),
		"    backup:\n", "    preconditions:\n      - command: [\"sh\", \"-c\", \"echo disk sick; exit 3\"]\n    backup:\n", 1)
	s.mustSteward("plan", "apply", "-f", s.writePlans(plans))
	c := s.client()
	waitFor(t, time.Minute, "two failed runs", func() bool {
		st, err := tryStatus(c, "failing")
		return err == nil && st.Counters.Failed >= 2
	})
	// Another client's malformed signal does not fail the CLI's own
	// request, and a request sent twice with one ID adds one lease.
	if err := c.SignalWorkflow(context.Background(), "steward/plan/failing", "", "pause", "not an object"); err != nil {
		t.Fatal(err)
	}
	first := s.mustSteward("pause", "failing", "--reason", "look at it", "--request-id", "look-1")
	again := s.mustSteward("pause", "failing", "--reason", "look at it", "--request-id", "look-1")
	if !strings.HasPrefix(first, "paused failing: lease l1, indefinite") || again != first {
		t.Fatalf("pause, then the same request again:\n%s\n%s", first, again)
	}
	st := s.status(c, "failing")
	if len(st.Pause.Leases) != 1 || st.Counters.Pauses != 1 || st.Counters.RejectedSignals != 1 {
		t.Fatalf("after a bad signal and a repeated pause: leases %+v counters %+v", st.Pause.Leases, st.Counters)
	}
	if st.Counters.Runs != st.Counters.Failed || st.Counters.Succeeded != 0 || st.LastRun == nil || st.LastRun.Outcome != api.OutcomeFailed ||
		!strings.Contains(*st.LastRun.Error, "precondition") {
		t.Fatalf("status of a plan whose precondition fails: counters %+v last run %+v", st.Counters, st.LastRun)
	}
	if !strings.Contains(st.Details, "last run failed: precondition") {
		t.Errorf("details %q", st.Details)
	}
	l, err := tryLedger(c, "failing")
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, e := range l {
		if e.Outcome == api.LedgerFailed {
			failed++
		}
	}
	if failed != st.Counters.Failed {
		t.Errorf("ledger has %d failed entries, counters %d", failed, st.Counters.Failed)
	}
	var ls []control.Summary
	if err := json.Unmarshal([]byte(s.mustSteward("plan", "ls", "-o", "json")), &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].LastResult == nil || ls[0].LastResult.Outcome != "failed" || time.Since(ls[0].LastResult.Finished) > time.Minute {
		t.Fatalf("plan ls -o json: %+v", ls)
	}
	if out := s.mustSteward("plan", "ls"); !strings.Contains(out, "LAST RESULT") || !strings.Contains(out, "failed (") {
		t.Fatalf("plan ls:\n%s", out)
	}
	s.mustSteward("unpause", "failing", "--reason", "seen")
	s.mustSteward("trigger", "failing", "--force")
	recordHistory(t, c, "steward/plan/failing", "plan-v1-precondition-fail-requests")
}

// TestPauseModeAllStopsAPreconditionCheck is issue 11's case: a run still
// checking a slow precondition is cancelled by pause --mode all, its
// command is killed, the ledger says so, and no backup starts.
func TestPauseModeAllStopsAPreconditionCheck(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	pidFile := filepath.Join(s.dir, "check.pid")
	plans := strings.Replace(backupPlanYAML("slowcheck", "1h", src, repo, "STEWARD_E2E_PASSWORD"), "    backup:\n",
		fmt.Sprintf("    preconditions:\n      - command: [\"sh\", \"-c\", \"echo $$ > %s; exec sleep 40\"]\n        timeout: 2m\n    backup:\n", pidFile), 1)
	s.mustSteward("plan", "apply", "-f", s.writePlans(plans))
	s.mustSteward("trigger", "slowcheck")
	var pid int
	waitFor(t, time.Minute, "the precondition command to run", func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		_, err = fmt.Sscan(string(b), &pid)
		return err == nil && pid > 0
	})
	s.mustSteward("pause", "slowcheck", "--mode", "all", "--reason", "maintenance")
	c := s.client()
	waitFor(t, 30*time.Second, "the check's command to be killed", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
	waitFor(t, 30*time.Second, "the ledger to record the cancelled check", func() bool {
		l, err := tryLedger(c, "slowcheck")
		return err == nil && len(l) > 0 && l[len(l)-1].Outcome == api.LedgerCancelled &&
			strings.Contains(l[len(l)-1].Detail, "preconditions were checked") && strings.Contains(l[len(l)-1].Detail, "mode all")
	})
	if snaps := listSnapshotsIfAny(t, repo); snaps != 0 {
		t.Fatalf("%d snapshots after the pause; want none", snaps)
	}
	if st := s.status(c, "slowcheck"); st.Counters.Runs != 0 || st.Counters.Cancelled != 1 || st.State != api.StatePaused {
		t.Fatalf("state %s counters %+v", st.State, st.Counters)
	}
}

// listSnapshotsIfAny counts the repository's snapshots; a repository never
// created has none.
func listSnapshotsIfAny(t *testing.T, repo string) int {
	t.Helper()
	if _, err := os.Stat(repo); os.IsNotExist(err) {
		return 0
	}
	return len(listSnapshots(t, repo))
}
