package backup_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/steward-ops/steward/internal/repository"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/retention"
	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// TestForgetKeepsThePolicyOfItsOwnPlan: forget applies the policy to the
// plan's own snapshots only (another plan shares the repository), a dry
// run deletes nothing, and every decision carries its reasons.
func TestForgetKeepsThePolicyOfItsOwnPlan(t *testing.T) {
	repo, password := snapshottest.NewRepo(t)
	src := snapshottest.WriteTree(t, sourceTree)
	a := newActivities(t, password)
	env := newEnv(a)
	backupOf := func(plan string, i int) string {
		t.Helper()
		res, err := runBackup(env, activities.BackupRequest{PlanID: plan, RunID: fmt.Sprintf("steward/plan/%s/run/%d", plan, i),
			Source: src, Ref: repository.Ref{Repository: repo, PasswordEnv: passwordEnv}})
		if err != nil {
			t.Fatal(err)
		}
		return res.SnapshotID
	}
	var home []string
	for i := range 5 {
		home = append(home, backupOf("home", i))
	}
	other := backupOf("other", 0)

	forget := func(dry bool) activities.ForgetResult {
		t.Helper()
		v, err := env.ExecuteActivity(activities.Forget, activities.ForgetRequest{PlanID: "home", Ref: repository.Ref{Repository: repo, PasswordEnv: passwordEnv},
			Policy: retention.Policy{Last: 2}, Timezone: "Europe/Berlin", DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		var res activities.ForgetResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	dry := forget(true)
	if dry.Forgotten != 0 || dry.Kept != 2 || len(dry.Snapshots) != 5 {
		t.Fatalf("dry run: %+v", dry)
	}
	if d := dry.Snapshots[0]; d.ID != home[4] || !d.Keep || !slices.Contains(d.Reasons, "last 1") || d.Run != "steward/plan/home/run/4" || d.Files != 5 {
		t.Fatalf("newest decision: %+v", d)
	}
	if d := dry.Snapshots[4]; d.ID != home[0] || d.Keep || len(d.Reasons) != 0 {
		t.Fatalf("oldest decision: %+v", d)
	}

	if res := forget(false); res.Forgotten != 3 || res.Kept != 2 {
		t.Fatalf("forget: %+v", res)
	}
	left := map[string]bool{}
	r := snapshottest.Open(t, snapshot.Options{Repository: repo, Password: password, ConfigDir: t.TempDir()})
	infos, err := r.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		left[in.ID] = true
	}
	if len(left) != 3 || !left[home[4]] || !left[home[3]] || !left[other] {
		t.Fatalf("snapshots left %v; want home's newest two and the other plan's", left)
	}
	if again := forget(false); again.Forgotten != 0 || again.Kept != 2 {
		t.Fatalf("forget again: %+v", again)
	}
}
