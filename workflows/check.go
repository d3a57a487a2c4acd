package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// checkTimeout bounds how long a plan check waits for the plan's host: a
// host with no worker is reported instead of waited for.
const checkTimeout = 30 * time.Second

// CheckPlanWorkflow runs, on the plan's host, the checks that only that host
// can make (does the source exist there, is the password variable set in the
// worker's environment), so `steward plan apply` can refuse a plan before
// anything is changed.
func CheckPlanWorkflow(ctx workflow.Context, req api.CheckPlanRequest) (api.CheckPlanResult, error) {
	var res api.CheckPlanResult
	var err error
	switch {
	case req.Spec.Preheat != nil:
		res, err = checkPreheat(ctx, req)
	case req.Spec.Backup != nil:
		res, err = checkBackup(ctx, req)
	}
	if err != nil || len(req.Spec.Notify) == 0 {
		return res, err
	}
	problems, err := checkNotify(ctx, req)
	res.Problems = append(res.Problems, problems...)
	return res, err
}

// checkNotify checks the plan's notification targets on its host, whose
// environment resolves their ${NAME} references.
func checkNotify(ctx workflow.Context, req api.CheckPlanRequest) ([]string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              activities.HostTaskQueue(req.Spec.Host),
		ScheduleToStartTimeout: checkTimeout,
		StartToCloseTimeout:    checkTimeout,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	check := activities.CheckNotifyRequest{Path: req.Path + ".notify"}
	for _, n := range req.Spec.Notify {
		check.Targets = append(check.Targets, activities.NotifyTarget{URL: n.URL, Kind: n.Kind, Template: n.Template})
	}
	var res activities.CheckNotifyResult
	if err := workflow.ExecuteActivity(ctx, activities.CheckNotify, check).Get(ctx, &res); err != nil {
		return nil, err
	}
	return res.Problems, nil
}

// checkBackup checks a backup plan's source and repository on its host.
func checkBackup(ctx workflow.Context, req api.CheckPlanRequest) (api.CheckPlanResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              activities.HostTaskQueue(req.Spec.Host),
		ScheduleToStartTimeout: checkTimeout,
		StartToCloseTimeout:    checkTimeout,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	b := req.Spec.Backup
	var res activities.CheckBackupResult
	err := workflow.ExecuteActivity(ctx, activities.CheckBackup, activities.CheckBackupRequest{
		Path:   req.Path + ".backup",
		Source: b.Source,
		Ref:    b.Ref,
		Guards: guards(req.Spec.Preconditions),
	}).Get(ctx, &res)
	if err != nil {
		return api.CheckPlanResult{}, err
	}
	return api.CheckPlanResult{Problems: res.Problems, Notes: res.Notes}, nil
}

// guards are the plan's preconditions that say a path must be there.
func guards(pcs []plan.Precondition) []activities.Guard {
	var gs []activities.Guard
	for _, c := range pcs {
		switch {
		case c.Mounted != "":
			gs = append(gs, activities.Guard{Path: c.Mounted, Mounted: true})
		case c.PathExists != "":
			gs = append(gs, activities.Guard{Path: c.PathExists})
		}
	}
	return gs
}

// checkPreheat checks a preheat plan on each of its target hosts (for
// hosts: all, on every host online now): a host with no worker is a problem
// of the plan, named by its field path.
func checkPreheat(ctx workflow.Context, req api.CheckPlanRequest) (api.CheckPlanResult, error) {
	p := *req.Spec.Preheat
	path := req.Path + ".preheat"
	type target struct{ host, field string }
	var targets []target
	switch {
	case p.Hosts.All:
		resolved, err := resolveHosts(ctx, "", p, plan.ActivityRetry{MaxAttempts: 1})
		if err != nil {
			return api.CheckPlanResult{Problems: []string{path + ".hosts: " + runError(err)}}, nil
		}
		for _, h := range resolved.Hosts {
			targets = append(targets, target{h, path + ".hosts"})
		}
	case len(p.Hosts.Names) > 0:
		for i, h := range p.Hosts.Names {
			targets = append(targets, target{h, fmt.Sprintf("%s.hosts[%d]", path, i)})
		}
	default:
		targets = []target{{req.Spec.Host, req.Path + ".host"}}
	}
	futures := make([]workflow.Future, len(targets))
	for i, tg := range targets {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:              activities.HostTaskQueue(tg.host),
			ScheduleToStartTimeout: checkTimeout,
			StartToCloseTimeout:    checkTimeout,
			RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		})
		futures[i] = workflow.ExecuteActivity(actx, activities.CheckPreheat, activities.CheckPreheatRequest{
			Path: path, Headers: activities.HeaderRefs(p.Headers), Cache: cacheSpec(p.Cache),
			Guards: guards(req.Spec.Preconditions),
		})
	}
	var res api.CheckPlanResult
	for i, f := range futures {
		var r activities.CheckPreheatResult
		if err := f.Get(ctx, &r); err != nil {
			msg := runError(err)
			if isTimeout(err) {
				msg = fmt.Sprintf("no worker of host %s answered within %v (start one with --host %s)", hostName(targets[i].host), checkTimeout, targets[i].host)
			}
			res.Problems = append(res.Problems, targets[i].field+": "+msg)
			continue
		}
		res.Problems = append(res.Problems, r.Problems...)
		res.Notes = append(res.Notes, r.Notes...)
	}
	return res, nil
}

func isTimeout(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te)
}

// SnapshotsWorkflow lists a backup plan's snapshots with the decisions of
// its retention policy, or applies the policy now (steward snapshots ls
// and forget), on the plan's host: only it has the repository password.
func SnapshotsWorkflow(ctx workflow.Context, req api.SnapshotsRequest) (activities.ForgetResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              activities.HostTaskQueue(req.Host),
		ScheduleToStartTimeout: checkTimeout,
		StartToCloseTimeout:    forgetStartToClose,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		Summary:                "snapshots of plan " + req.Forget.PlanID,
	})
	var res activities.ForgetResult
	err := workflow.ExecuteActivity(ctx, activities.Forget, req.Forget).Get(ctx, &res)
	if isTimeout(err) {
		return res, fmt.Errorf("no worker of host %s answered within %v (start one with --host %s)", hostName(req.Host), checkTimeout, req.Host)
	}
	return res, err
}
