package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/repository"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows"
	"github.com/steward-ops/steward/workflows/api"
)

// TestRunWaitsForItsHost: a plan bound to a host runs its backup only on
// that host's worker. While no worker serves the host, the run stays in
// flight (visible in status and the ledger); once a worker started with
// --host joins, the run completes there.
func TestRunWaitsForItsHost(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	p := plan.Plan{
		ID: "remote", Kind: plan.KindBackup, Host: "nas-2",
		Schedule: plan.Schedule{Every: plan.Duration(time.Hour)},
		Backup:   &plan.Backup{Source: src, Ref: repository.Ref{Repository: repo, PasswordEnv: "STEWARD_E2E_PASSWORD"}},
	}
	p.SetDefaults()
	c := s.client()
	// Started directly: `steward plan apply` would refuse the plan, since
	// no worker of nas-2 can check it yet.
	_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: plan.WorkflowID(p.ID), TaskQueue: activities.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(api.AttrPlan.ValueSet(p.ID)),
	}, api.PlanWorkflowName, workflows.PlanInput{Spec: p})
	if err != nil {
		t.Fatal(err)
	}
	s.mustSteward("trigger", "remote")
	var st api.Status
	waitFor(t, 30*time.Second, "the triggered run to be in flight", func() bool {
		st = s.status(c, "remote")
		return st.State == api.StateRunning
	})
	l, err := tryLedger(c, "remote")
	if err != nil || len(l) != 1 || l[0].Outcome != api.LedgerStarted {
		t.Fatalf("ledger while the host is away: %+v (%v)", l, err)
	}
	recordHistory(t, c, plan.WorkflowID(p.ID), "plan-mid-run")

	// The host's worker joins; the run completes on it.
	nas := exec.Command(workerBin, "--address", s.addr(), "--host", "nas-2", "--metrics-addr", "127.0.0.1:0")
	nas.Env = append(os.Environ(), "STEWARD_E2E_PASSWORD="+e2ePassword)
	var out lockedBuffer
	nas.Stdout, nas.Stderr = &out, &out
	if err := nas.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nas.Process.Kill(); _ = nas.Wait() }()
	waitFor(t, time.Minute, "the run to succeed on nas-2", func() bool {
		st = s.status(c, "remote")
		return st.LastRun != nil && st.LastRun.Outcome == api.OutcomeSucceeded
	})
	snaps := listSnapshots(t, repo)
	if len(snaps) != 1 || snaps[0].Host != "nas-2" {
		t.Fatalf("snapshots: %+v, want one taken on nas-2", snaps)
	}
	if !strings.Contains(out.String(), "Snapshot saved") {
		t.Fatalf("the nas-2 worker did not take the snapshot:\n%s", out.String())
	}
}
