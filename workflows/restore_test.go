package workflows

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/repository"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/workflows/api"
)

func restoreEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(RestoreWorkflow, workflow.RegisterOptions{Name: api.RestoreWorkflowName})
	return env
}

var restoreReq = api.RestoreRequest{Plan: "home", Host: "nas", Select: activities.PrepareRestoreRequest{
	PlanID: "home", Ref: repository.Ref{Repository: "/repo", PasswordEnv: "PW"}, Snapshot: "latest", Path: "docs", Target: "/restore",
}}

// TestRestoreWorkflowRestoresTheChosenSnapshotOnTheHost: the snapshot
// PrepareRestore chose is the one restored, both on the plan's host; a
// retried restore attempt (after a crash) is reported as reused.
func TestRestoreWorkflowRestoresTheChosenSnapshotOnTheHost(t *testing.T) {
	env := restoreEnv(t)
	var queues []string
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		queues = append(queues, info.TaskQueue)
	})
	env.RegisterActivityWithOptions(func(_ context.Context, req activities.PrepareRestoreRequest) (activities.PrepareRestoreResult, error) {
		if req != restoreReq.Select {
			t.Errorf("prepare got %+v", req)
		}
		return activities.PrepareRestoreResult{SnapshotID: "k1", Path: "docs", Dir: true, Files: 3, Bytes: 30}, nil
	}, activity.RegisterOptions{Name: activities.PrepareRestore})
	var attempts atomic.Int32
	env.RegisterActivityWithOptions(func(ctx context.Context, req activities.RestoreRequest) (activities.RestoreResult, error) {
		if req.SnapshotID != "k1" || req.Path != "docs" || req.Target != "/restore" || req.Files != 3 || req.Bytes != 30 || req.PasswordEnv != "PW" {
			t.Errorf("restore got %+v", req)
		}
		if attempts.Add(1) == 1 {
			return activities.RestoreResult{}, errors.New("worker lost")
		}
		return activities.RestoreResult{Files: 3, Bytes: 30, Kept: 1, KeptBytes: 10}, nil
	}, activity.RegisterOptions{Name: activities.Restore})
	env.ExecuteWorkflow(api.RestoreWorkflowName, restoreReq)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var rep api.RunReport
	if err := env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.Kind != api.RunKindRestore || !rep.Reused || rep.Files != 3 || rep.Bytes != 30 || rep.End.Before(rep.Start) ||
		rep.Restore == nil || rep.Restore.Snapshot.SnapshotID != "k1" || rep.Restore.Target != "/restore" || rep.Restore.Result.Kept != 1 {
		t.Fatalf("report %+v", rep)
	}
	for _, q := range queues {
		if q != activities.HostTaskQueue("nas") {
			t.Errorf("an activity ran on queue %s, want the plan's host", q)
		}
	}
	if attempts.Load() != 2 {
		t.Errorf("%d restore attempts, want 2", attempts.Load())
	}
}

// TestRestoreWorkflowStopsAtABadRequest: a refusal of PrepareRestore (a
// non-empty target, an unknown snapshot) fails the restore with its own
// words and nothing is restored.
func TestRestoreWorkflowStopsAtABadRequest(t *testing.T) {
	env := restoreEnv(t)
	env.RegisterActivityWithOptions(func(context.Context, activities.PrepareRestoreRequest) (activities.PrepareRestoreResult, error) {
		return activities.PrepareRestoreResult{}, temporal.NewNonRetryableApplicationError("restore: --target: /restore is not empty", activities.ErrBadConfig, nil)
	}, activity.RegisterOptions{Name: activities.PrepareRestore})
	env.RegisterActivityWithOptions(func(context.Context, activities.RestoreRequest) (activities.RestoreResult, error) {
		t.Error("restore ran after a refusal")
		return activities.RestoreResult{}, nil
	}, activity.RegisterOptions{Name: activities.Restore})
	env.ExecuteWorkflow(api.RestoreWorkflowName, restoreReq)
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("error %v", err)
	}
}

// TestRestoreWorkflowCancelEndsCancelled: cancelling the workflow (the
// Web UI's or the temporal CLI's cancel) during the restore ends it
// cancelled, not failed. That the cancellation reaches the activity is
// shown end to end: the test environment delivers it only through
// throttled heartbeats.
func TestRestoreWorkflowCancelEndsCancelled(t *testing.T) {
	env := restoreEnv(t)
	env.RegisterActivityWithOptions(func(context.Context, activities.PrepareRestoreRequest) (activities.PrepareRestoreResult, error) {
		return activities.PrepareRestoreResult{SnapshotID: "k1", Dir: true}, nil
	}, activity.RegisterOptions{Name: activities.PrepareRestore})
	env.RegisterActivityWithOptions(func(ctx context.Context, _ activities.RestoreRequest) (activities.RestoreResult, error) {
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
		return activities.RestoreResult{}, ctx.Err()
	}, activity.RegisterOptions{Name: activities.Restore})
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
	env.ExecuteWorkflow(api.RestoreWorkflowName, restoreReq)
	var ce *temporal.CanceledError
	if err := env.GetWorkflowError(); !errors.As(err, &ce) {
		t.Fatalf("error %v, want cancelled", err)
	}
}

// TestRestoreOfAPlanWithoutHostStaysOnOneHost: for a plan that runs on any
// worker, the restore writes on the host whose worker checked the target.
func TestRestoreOfAPlanWithoutHostStaysOnOneHost(t *testing.T) {
	env := restoreEnv(t)
	var queue string
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == activities.Restore {
			queue = info.TaskQueue
		}
	})
	env.RegisterActivityWithOptions(func(context.Context, activities.PrepareRestoreRequest) (activities.PrepareRestoreResult, error) {
		return activities.PrepareRestoreResult{SnapshotID: "k1", Dir: true, Host: "node7"}, nil
	}, activity.RegisterOptions{Name: activities.PrepareRestore})
	env.RegisterActivityWithOptions(func(context.Context, activities.RestoreRequest) (activities.RestoreResult, error) {
		return activities.RestoreResult{}, nil
	}, activity.RegisterOptions{Name: activities.Restore})
	req := restoreReq
	req.Host = ""
	env.ExecuteWorkflow(api.RestoreWorkflowName, req)
	var rep api.RunReport
	if err := env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	if queue != activities.HostTaskQueue("node7") || rep.Restore.Host != "node7" {
		t.Errorf("restore ran on queue %q, reported host %q; want node7's", queue, rep.Restore.Host)
	}
}

// TestRestoreFinishedNotification: a plan's restore-finished targets hear
// how a restore ended, from a child that outlives the restore; a restore
// without them starts none.
func TestRestoreFinishedNotification(t *testing.T) {
	for _, fail := range []bool{false, true} {
		env := restoreEnv(t)
		env.RegisterWorkflowWithOptions(NotifyWorkflow, workflow.RegisterOptions{Name: api.NotifyWorkflowName})
		var sent []activities.NotifyRequest
		env.RegisterActivityWithOptions(func(_ context.Context, req activities.NotifyRequest) (activities.NotifyResult, error) {
			sent = append(sent, req)
			return activities.NotifyResult{Sent: len(req.Targets)}, nil
		}, activity.RegisterOptions{Name: activities.Notify})
		env.RegisterActivityWithOptions(func(context.Context, activities.PrepareRestoreRequest) (activities.PrepareRestoreResult, error) {
			if fail {
				return activities.PrepareRestoreResult{}, temporal.NewNonRetryableApplicationError("restore: --target: /restore is not empty", activities.ErrBadConfig, nil)
			}
			return activities.PrepareRestoreResult{SnapshotID: "k1", Files: 2, Bytes: 10}, nil
		}, activity.RegisterOptions{Name: activities.PrepareRestore})
		env.RegisterActivityWithOptions(func(context.Context, activities.RestoreRequest) (activities.RestoreResult, error) {
			return activities.RestoreResult{Files: 2, Bytes: 10}, nil
		}, activity.RegisterOptions{Name: activities.Restore})
		req := restoreReq
		req.Notify = []activities.NotifyTarget{{URL: "generic+https://hooks.example/${T}"}}
		env.ExecuteWorkflow(api.RestoreWorkflowName, req)
		if err := env.GetWorkflowError(); (err != nil) != fail {
			t.Fatalf("fail=%v: error %v", fail, err)
		}
		if len(sent) != 1 || sent[0].Event.Name != "restore-finished" || sent[0].Targets[0].URL != req.Notify[0].URL {
			t.Fatalf("fail=%v: sent %+v, want one restore-finished to the plan's target", fail, sent)
		}
		ev := sent[0].Event
		if fail && !strings.Contains(ev.Error, "is not empty") {
			t.Errorf("failed restore: event %+v, want its error", ev)
		}
		if !fail && (ev.Error != "" || !strings.Contains(ev.Detail, "restored 2 files (10 bytes) of snapshot k1 to /restore")) {
			t.Errorf("restore: event %+v, want what was restored", ev)
		}
	}
}
