package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/workflows/api"
)

// TestRetentionKeepsLastThree: ten runs of a plan with keep: {last: 3}
// leave three snapshots of the plan; snapshots ls shows them with their
// reasons, forget --dry-run has nothing left to delete, and another plan's
// snapshots in the same repository are never touched.
func TestRetentionKeepsLastThree(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	keep := strings.Replace(backupPlanYAML("kept", "2s", src, repo, "STEWARD_E2E_PASSWORD"), "      exclude:", "      keep: {last: 3}\n      exclude:", 1)
	other := strings.TrimPrefix(backupPlanYAML("other", "1h", src, repo, "STEWARD_E2E_PASSWORD"), "plans:\n")
	s.mustSteward("plan", "apply", "-f", s.writePlans(keep+other))
	s.mustSteward("trigger", "other")
	c := s.client()
	waitFor(t, 3*time.Minute, "ten successful runs", func() bool {
		st, err := tryStatus(c, "kept")
		return err == nil && st.Counters.Succeeded >= 10
	})
	s.mustSteward("pause", "kept", "--reason", "count")
	var st api.Status
	waitFor(t, time.Minute, "no run in flight", func() bool {
		st = s.status(c, "kept")
		return st.LastRun != nil && st.LastRun.Outcome != api.OutcomeRunning
	})
	perPlan := map[string]int{}
	for _, snap := range listSnapshots(t, repo) {
		perPlan[snap.Tags["plan"]]++
	}
	if perPlan["kept"] != 3 || perPlan["other"] != 1 {
		t.Fatalf("snapshots per plan %v after %d successful runs; want kept: 3, other: 1", perPlan, st.Counters.Succeeded)
	}
	forgotten := 0
	for _, r := range st.RecentRuns {
		forgotten += r.Forgotten
	}
	if forgotten != st.Counters.Succeeded-3 {
		t.Errorf("run records say %d forgotten, want %d", forgotten, st.Counters.Succeeded-3)
	}

	out := s.mustSteward("snapshots", "ls", "kept")
	for _, want := range []string{"SNAPSHOT", "last 1, newest", "last 2", "last 3"} {
		if !strings.Contains(out, want) {
			t.Fatalf("snapshots ls lacks %q:\n%s", want, out)
		}
	}
	var res activities.ForgetResult
	if err := json.Unmarshal([]byte(s.mustSteward("snapshots", "ls", "kept", "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Snapshots) != 3 || res.Kept != 3 || !res.Snapshots[0].Keep || res.Snapshots[0].Files != 3 {
		t.Fatalf("snapshots ls -o json: %+v", res)
	}
	if out := s.mustSteward("snapshots", "forget", "kept", "--dry-run"); !strings.Contains(out, "would forget 0, keep 3; nothing was deleted") {
		t.Fatalf("forget --dry-run:\n%s", out)
	}
	if out, err := s.steward("snapshots", "ls", "nope"); err == nil || !strings.Contains(out, `no plan "nope"`) {
		t.Fatalf("snapshots ls of an unknown plan: %v\n%s", err, out)
	}
}

// TestTriggerWaitFollowsTheRun: trigger --wait returns when the run it
// started ends, prints its record (snapshot, what it added), and fails
// when the run fails, also when it failed on its preconditions.
func TestTriggerWaitFollowsTheRun(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	good := backupPlanYAML("waited", "1h", src, repo, "STEWARD_E2E_PASSWORD")
	bad := strings.Replace(strings.TrimPrefix(backupPlanYAML("sick", "1h", src, repo, "STEWARD_E2E_PASSWORD"), "plans:\n"),
		"    backup:\n", "    preconditions:\n      - command: [\"sh\", \"-c\", \"exit 2\"]\n    backup:\n", 1)
	s.mustSteward("plan", "apply", "-f", s.writePlans(good+bad))

	out := s.mustSteward("trigger", "waited", "--wait")
	if !strings.HasPrefix(out, "started waited: run steward/plan/waited/run/") || !strings.Contains(out, "\nsucceeded ") || !strings.Contains(out, " added") {
		t.Fatalf("trigger --wait:\n%s", out)
	}
	var w struct {
		Request api.RequestResult `json:"request"`
		Run     *api.RunRecord    `json:"run"`
	}
	if err := json.Unmarshal([]byte(s.mustSteward("trigger", "waited", "--wait", "-o", "json")), &w); err != nil {
		t.Fatal(err)
	}
	if w.Request.Outcome != api.RequestStarted || w.Run == nil || w.Run.ID != w.Request.RunID || w.Run.Outcome != api.OutcomeSucceeded || w.Run.SnapshotID == "" {
		t.Fatalf("trigger --wait -o json: %+v %+v", w.Request, w.Run)
	}

	out, err := s.steward("trigger", "sick", "--wait")
	if err == nil || !strings.Contains(out, "checking its preconditions first") || !strings.Contains(out, "failed") || !strings.Contains(out, "precondition") {
		t.Fatalf("trigger --wait of a run whose precondition fails: %v\n%s", err, out)
	}
}
