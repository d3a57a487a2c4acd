package e2e

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/steward-ops/steward/workflows/api"
)

// TestPlanContinuesAsNewOnServerSuggestion runs a plan on a server that
// suggests continue-as-new after a few dozen events: the plan continues as
// new between runs, and its counters, pause leases and ledger carry over.
func TestPlanContinuesAsNewOnServerSuggestion(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD=secret")
	s.start("--dev-dynamic-config-value", "limit.historyCount.suggestContinueAsNew=60")
	src, repo := newBackupDirs(t, s)
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("can", "2s", src, repo, "STEWARD_E2E_PASSWORD")))
	c := s.client()
	desc, err := c.DescribeWorkflowExecution(context.Background(), "steward/plan/can", "")
	if err != nil {
		t.Fatal(err)
	}
	firstRun := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()

	// A long lease, added before the continue-as-new, must survive it.
	waitFor(t, time.Minute, "a first run", func() bool { return s.status(c, "can").Counters.Succeeded >= 1 })
	s.mustSteward("pause", "can", "--until-next-run", "--id", "skip-one", "--reason", "carry me")
	var st api.Status
	waitFor(t, 2*time.Minute, "the plan to continue as new", func() bool {
		d, err := c.DescribeWorkflowExecution(context.Background(), "steward/plan/can", "")
		if err != nil {
			return false
		}
		st = s.status(c, "can")
		return d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != firstRun && st.Counters.Succeeded >= 3
	})
	if len(st.PauseHistory) != 1 || st.PauseHistory[0].ID != "skip-one" || st.Counters.SkippedPaused != 1 {
		t.Fatalf("after continue-as-new: pause history %+v, counters %+v", st.PauseHistory, st.Counters)
	}
	l, err := tryLedger(c, "can")
	if err != nil || len(l) < st.Counters.Runs {
		t.Fatalf("after continue-as-new the ledger has %d entries for %d runs (%v)", len(l), st.Counters.Runs, err)
	}
	old, err := c.DescribeWorkflowExecution(context.Background(), "steward/plan/can", firstRun)
	if err != nil {
		t.Fatal(err)
	}
	if got := old.GetWorkflowExecutionInfo().GetStatus(); got != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
		t.Fatalf("first run ended %v, want continued-as-new", got)
	}
	// Let the new run do work of its own before recording it.
	runs := st.Counters.Runs
	waitFor(t, time.Minute, "a run after continue-as-new", func() bool { return s.status(c, "can").Counters.Runs > runs+1 })
	recordHistory(t, c, "steward/plan/can", "plan-after-continue-as-new")
	recordRunHistory(t, c, "steward/plan/can", firstRun, "plan-until-continue-as-new")
}
