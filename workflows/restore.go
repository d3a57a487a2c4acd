package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// Timeouts of a restore. Like a backup it may run for hours, and its
// heartbeats tell the server it is alive.
const (
	restoreStartToClose = 24 * time.Hour
	restoreHeartbeat    = time.Minute
)

// RestoreWorkflow restores one of a backup plan's snapshots (or one path of
// it) into a directory on the plan's host. It first chooses the snapshot
// and checks the target, answering at once when the host has no worker;
// then the restore itself waits for the host, retries after a crash
// (keeping what was written), and stops when the workflow is cancelled.
func RestoreWorkflow(ctx workflow.Context, req api.RestoreRequest) (api.RunReport, error) {
	rep, err := restore(ctx, req)
	if len(req.Notify) > 0 {
		ev := activities.NotifyEvent{Name: plan.EventRestoreFinished, Plan: req.Plan, Kind: string(plan.KindBackup),
			Host: req.Host, Time: workflow.Now(ctx).UTC()}
		if err != nil {
			ev.Error = clip(runError(err), 2*maxTextLen)
		} else if d := rep.Restore; d != nil {
			ev.Host = d.Host
			ev.Detail = fmt.Sprintf("restored %d files (%d bytes) of snapshot %s to %s", rep.Files, rep.Bytes, d.Snapshot.SnapshotID, d.Target)
		}
		notifyDetached(ctx, ev.Host, activities.NotifyRequest{Event: ev, Targets: req.Notify})
	}
	return rep, err
}

func restore(ctx workflow.Context, req api.RestoreRequest) (api.RunReport, error) {
	rep := api.RunReport{Kind: api.RunKindRestore, Start: workflow.Now(ctx)}
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              activities.HostTaskQueue(req.Host),
		ScheduleToStartTimeout: checkTimeout,
		StartToCloseTimeout:    forgetStartToClose,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		Summary:                "choose the snapshot and check " + req.Select.Target,
	})
	var prep activities.PrepareRestoreResult
	err := workflow.ExecuteActivity(pctx, activities.PrepareRestore, req.Select).Get(ctx, &prep)
	if isTimeout(err) {
		return rep, fmt.Errorf("no worker of host %s answered within %v (start one with --host %s)", hostName(req.Host), checkTimeout, req.Host)
	}
	if err != nil {
		return rep, err
	}
	host := req.Host
	if host == "" {
		// A plan with no host: restore where the snapshot was chosen, so
		// the target checked is the target written.
		host = prep.Host
	}
	rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.HostTaskQueue(host),
		StartToCloseTimeout: restoreStartToClose,
		HeartbeatTimeout:    restoreHeartbeat,
		RetryPolicy:         retryPolicy(plan.DefaultActivityRetry),
		Summary:             fmt.Sprintf("restore snapshot %s to %s", prep.SnapshotID, req.Select.Target),
		// Cancelled means the restore has really stopped writing.
		WaitForCancellation: true,
	})
	s := req.Select
	var res activities.RestoreResult
	err = workflow.ExecuteActivity(rctx, activities.Restore, activities.RestoreRequest{
		Ref:        s.Ref,
		SnapshotID: prep.SnapshotID, Path: prep.Path, Target: s.Target,
		Files: prep.Files, Bytes: prep.Bytes,
	}).Get(rctx, &res)
	if err != nil {
		return rep, err
	}
	rep.End = workflow.Now(ctx)
	rep.Reused = res.Kept > 0
	rep.Files, rep.Bytes = res.Files, res.Bytes
	rep.Restore = &api.RestoreDetails{Plan: req.Plan, Host: host, Target: s.Target, Snapshot: prep, Result: res}
	return rep, nil
}
