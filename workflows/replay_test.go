package workflows

import (
	"log/slog"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/workflows/api"
)

// TestReplayRecordedHistories replays every history recorded from a real
// server (testdata/*.json, written by the e2e tests with
// STEWARD_RECORD_HISTORIES=1) against today's workflow code: a change that
// would break plans already running fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(PlanWorkflow, workflow.RegisterOptions{Name: api.PlanWorkflowName})
			r.RegisterWorkflowWithOptions(BackupRunWorkflow, workflow.RegisterOptions{Name: api.BackupRunWorkflowName})
			r.RegisterWorkflowWithOptions(CheckPlanWorkflow, workflow.RegisterOptions{Name: api.CheckPlanWorkflowName})
			r.RegisterWorkflowWithOptions(PreheatRunWorkflow, workflow.RegisterOptions{Name: api.PreheatRunWorkflowName})
			r.RegisterWorkflowWithOptions(CacheEvictWorkflow, workflow.RegisterOptions{Name: api.CacheEvictWorkflowName})
			r.RegisterWorkflowWithOptions(HostsWorkflow, workflow.RegisterOptions{Name: api.HostsWorkflowName})
			r.RegisterWorkflowWithOptions(SnapshotsWorkflow, workflow.RegisterOptions{Name: api.SnapshotsWorkflowName})
			r.RegisterWorkflowWithOptions(RestoreWorkflow, workflow.RegisterOptions{Name: api.RestoreWorkflowName})
			r.RegisterWorkflowWithOptions(VerifyWorkflow, workflow.RegisterOptions{Name: api.VerifyWorkflowName})
			r.RegisterWorkflowWithOptions(MaintenanceWorkflow, workflow.RegisterOptions{Name: api.MaintenanceWorkflowName})
			logger := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
			if err := r.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
