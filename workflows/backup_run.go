package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// Timeouts of the backup activity. A backup may run for hours; its
// heartbeats are what tell the server (and a cancellation) it is alive.
const (
	backupStartToClose = 24 * time.Hour
	backupHeartbeat    = time.Minute
	forgetStartToClose = time.Hour
)

// BackupRunWorkflow runs one backup: a kopia snapshot of the plan's source,
// tagged with the plan and this run's workflow ID.
func BackupRunWorkflow(ctx workflow.Context, req BackupRunRequest) (api.RunReport, error) {
	info := workflow.GetInfo(ctx)
	out := api.RunReport{Kind: api.RunKindBackup, Start: workflow.Now(ctx)}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.HostTaskQueue(req.Host),
		StartToCloseTimeout: backupStartToClose,
		HeartbeatTimeout:    backupHeartbeat,
		RetryPolicy:         retryPolicy(req.Retry),
		Summary:             "snapshot " + req.Backup.Source,
		// A cancelled run ends only once the snapshot has really stopped,
		// so "cancelled" in status means the repository is at rest.
		WaitForCancellation: true,
	})
	var res activities.BackupResult
	err := workflow.ExecuteActivity(ctx, activities.Backup, activities.BackupRequest{
		PlanID:  req.PlanID,
		RunID:   info.WorkflowExecution.ID,
		Source:  req.Backup.Source,
		Exclude: req.Backup.Exclude,
		Ref:     req.Backup.Ref,
	}).Get(ctx, &res)
	if err != nil {
		return out, err
	}
	out.Files, out.Bytes, out.Reused = res.Files, res.Bytes, res.Reused
	out.Backup = &api.BackupDetails{SnapshotID: res.SnapshotID, Dirs: res.Dirs, Uploaded: res.Uploaded}
	out.End = workflow.Now(ctx)
	policy := req.Backup.Keep.Policy()
	if policy.Empty() {
		return out, nil
	}
	// Retention after each successful run. Runs recorded before it existed
	// had no keep setting, so they never reach this version check.
	if workflow.GetVersion(ctx, "retention", workflow.DefaultVersion, 1) < 1 {
		return out, nil
	}
	fctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.HostTaskQueue(req.Host),
		StartToCloseTimeout: forgetStartToClose,
		RetryPolicy:         retryPolicy(req.Retry),
		Summary:             "forget snapshots per backup.keep",
	})
	var fres activities.ForgetResult
	err = workflow.ExecuteActivity(fctx, activities.Forget, activities.ForgetRequest{
		PlanID:   req.PlanID,
		Ref:      req.Backup.Ref,
		Policy:   policy,
		Timezone: req.Timezone,
		Brief:    true,
	}).Get(fctx, &fres)
	if err != nil {
		// The snapshot is made; a retry of the run reuses it and tries the
		// retention again.
		return out, err
	}
	out.Backup.Forgotten, out.Backup.Kept = fres.Forgotten, fres.Kept
	out.End = workflow.Now(ctx)
	return out, nil
}

// retryPolicy turns a plan's activity retry settings into Temporal's policy,
// with steward's non-retryable error types. It is never unlimited.
func retryPolicy(r plan.ActivityRetry) *temporal.RetryPolicy {
	if r.MaxAttempts <= 0 {
		r = plan.DefaultActivityRetry
	}
	return &temporal.RetryPolicy{
		InitialInterval:        r.Initial.D(),
		BackoffCoefficient:     r.Backoff,
		MaximumInterval:        r.MaxInterval.D(),
		MaximumAttempts:        int32(r.MaxAttempts),
		NonRetryableErrorTypes: activities.NonRetryableErrors,
	}
}
