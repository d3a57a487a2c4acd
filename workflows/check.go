package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
)

// checkTimeout bounds how long a plan check waits for the plan's host: a
// host with no worker is reported instead of waited for.
const checkTimeout = 30 * time.Second

// CheckPlanWorkflow runs, on the plan's host, the checks that only that host
// can make (does the source exist there, is the password variable set in the
// worker's environment), so `steward plan apply` can refuse a plan before
// anything is changed.
func CheckPlanWorkflow(ctx workflow.Context, req CheckPlanRequest) (CheckPlanResult, error) {
	if req.Spec.Backup == nil {
		return CheckPlanResult{}, nil
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              activities.HostTaskQueue(req.Spec.Host),
		ScheduleToStartTimeout: checkTimeout,
		StartToCloseTimeout:    checkTimeout,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	b := req.Spec.Backup
	var res activities.CheckBackupResult
	err := workflow.ExecuteActivity(ctx, activities.CheckBackup, activities.CheckBackupRequest{
		Path:         req.Path + ".backup",
		Source:       b.Source,
		Repository:   b.Repository,
		PasswordEnv:  b.PasswordEnv,
		PasswordFile: b.PasswordFile,
	}).Get(ctx, &res)
	if err != nil {
		return CheckPlanResult{}, err
	}
	return CheckPlanResult{Problems: res.Problems}, nil
}
