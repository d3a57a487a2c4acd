package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// SnapshotsTimeout bounds how long listing or forgetting snapshots may take.
const SnapshotsTimeout = 10 * time.Minute

// Snapshots lists backup plan id's snapshots, newest first, with what its
// retention policy (backup.keep) decides for each and why; with forget it
// also deletes those the policy does not keep. It runs on the plan's host,
// the only one with the repository's password.
func Snapshots(ctx context.Context, c client.Client, id string, forget bool) (activities.ForgetResult, error) {
	var res activities.ForgetResult
	spec, err := Spec(ctx, c, id)
	if err != nil {
		return res, err
	}
	if spec.Kind != plan.KindBackup || spec.Backup == nil {
		return res, fmt.Errorf("plan %s is a %s plan: only backup plans have snapshots", id, spec.Kind)
	}
	b := spec.Backup
	ctx, cancel := context.WithTimeout(ctx, SnapshotsTimeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       fmt.Sprintf("steward/snapshots/%s/%d", id, time.Now().UnixNano()),
		TaskQueue:                activities.TaskQueue,
		WorkflowExecutionTimeout: SnapshotsTimeout,
		StaticSummary:            "snapshots of plan " + id,
	}, api.SnapshotsWorkflowName, api.SnapshotsRequest{Host: spec.Host, Forget: activities.ForgetRequest{
		PlanID: id, Ref: b.Ref,
		Policy: b.Keep.Policy(), Timezone: spec.Schedule.Timezone, DryRun: !forget,
	}})
	if err != nil {
		return res, fmt.Errorf("snapshots of plan %s: %w", id, err)
	}
	if err := run.Get(ctx, &res); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return res, fmt.Errorf("snapshots of plan %s: no answer within %v; is the worker of its host running?", id, SnapshotsTimeout)
		}
		return res, fmt.Errorf("snapshots of plan %s: %w", id, ownWords(err))
	}
	return res, nil
}
