package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// notifyFor is how long a notification is retried: a receiver that is down
// for longer misses it (and the plan's status counts it as failed).
const notifyFor = 30 * time.Minute

// metricNotifications counts notifications by outcome (sent or failed).
const metricNotifications = "steward_notifications_total"

// notify sends event name to the plan's targets that take it (a plan that
// names none: the worker's default targets, for the default events). The
// activity runs on the plan's host, whose environment resolves the
// targets' ${NAME} references, with its own retries; the plan does not
// wait for it.
func (p *planner) notify(name, errMsg, detail string) {
	if !p.atLeast(versionTelemetry) {
		return
	}
	run := name == plan.EventRunStarted || name == plan.EventRunSucceeded || name == plan.EventRunFailed
	var ts []activities.NotifyTarget
	for _, n := range p.spec.Notify {
		if (run && n.Kind == plan.NotifyHealthchecks) || (!run && n.Wants(name)) {
			ts = append(ts, activities.NotifyTarget{URL: n.URL, Kind: n.Kind, Template: n.Template})
		}
	}
	defaults := len(p.spec.Notify) == 0 && slices.Contains(plan.DefaultNotifyEvents, name)
	if len(ts) == 0 && !defaults {
		return
	}
	ev := activities.NotifyEvent{Name: name, Plan: p.spec.ID, Kind: string(p.spec.Kind), Host: p.spec.Host,
		Time: workflow.Now(p.ctx).UTC(), Error: clip(errMsg, 2*maxTextLen), Detail: clip(detail, maxTextLen)}
	if n := p.nextRun(); !n.IsZero() {
		ev.NextRun = &n
	}
	ctx := workflow.WithActivityOptions(p.ctx, notifyOptions(p.spec.Host, name))
	p.notes = append(p.notes, workflow.ExecuteActivity(ctx, activities.Notify,
		activities.NotifyRequest{Event: ev, Targets: ts, Defaults: len(ts) == 0}))
}

// notifyOptions run the Notify activity on host's queue, retried for
// notifyFor.
func notifyOptions(host, event string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:              activities.HostTaskQueue(host),
		StartToCloseTimeout:    2 * time.Minute,
		ScheduleToCloseTimeout: notifyFor,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
		Summary: "notify " + event,
	}
}

// NotifyWorkflow delivers one notification with the retries of the plan's
// own (notifyOptions).
func NotifyWorkflow(ctx workflow.Context, req api.NotifyRequest) (activities.NotifyResult, error) {
	ctx = workflow.WithActivityOptions(ctx, notifyOptions(req.Host, req.Request.Event.Name))
	var res activities.NotifyResult
	err := workflow.ExecuteActivity(ctx, activities.Notify, req.Request).Get(ctx, &res)
	return res, err
}

// notifyDetached sends req from a NotifyWorkflow child that outlives the
// calling workflow (abandoned when it closes), and waits only for it to
// start: the caller's result never waits for a receiver.
func notifyDetached(ctx workflow.Context, host string, req activities.NotifyRequest) {
	info := workflow.GetInfo(ctx)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        fmt.Sprintf("steward/notify/%s/%s/%s", req.Event.Plan, req.Event.Name, info.WorkflowExecution.RunID),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		StaticSummary:     fmt.Sprintf("notify %s of plan %s", req.Event.Name, req.Event.Plan),
	})
	f := workflow.ExecuteChildWorkflow(cctx, api.NotifyWorkflowName, api.NotifyRequest{Host: host, Request: req})
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("Notification not sent", "event", req.Event.Name, "error", err)
	}
}

// finishNotify counts a notification that ended.
func (p *planner) finishNotify(f workflow.Future) {
	p.notes = slices.DeleteFunc(p.notes, func(g workflow.Future) bool { return g == f })
	var res activities.NotifyResult
	err := f.Get(p.ctx, &res)
	if p.st.Notify == nil {
		p.st.Notify = &api.NotifyStatus{}
	}
	n := p.st.Notify
	if err == nil && len(res.Failed) == 0 {
		n.Sent++
		p.metrics().WithTags(map[string]string{"outcome": "sent"}).Counter(metricNotifications).Inc(1)
		return
	}
	msg := strings.Join(res.Failed, "; ")
	if err != nil {
		msg = runError(err)
	}
	msg = clip(msg, 2*maxTextLen)
	now := workflow.Now(p.ctx).UTC()
	n.Failed++
	n.LastError, n.LastErrorAt = &msg, &now
	p.metrics().WithTags(map[string]string{"outcome": "failed"}).Counter(metricNotifications).Inc(1)
	p.logger.Warn("Notification failed", "error", msg)
}

// notifyTest answers the notify-test Update: a test message to every
// target of the plan (healthchecks ones get a success ping), once, on the
// plan's host.
func (p *planner) notifyTest(ctx workflow.Context) (activities.NotifyResult, error) {
	var ts []activities.NotifyTarget
	for _, n := range p.spec.Notify {
		ts = append(ts, activities.NotifyTarget{URL: n.URL, Kind: n.Kind, Template: n.Template})
	}
	ev := activities.NotifyEvent{Name: plan.EventTest, Plan: p.spec.ID, Kind: string(p.spec.Kind), Host: p.spec.Host,
		Time: workflow.Now(ctx).UTC(), Detail: "a test message: notifications of this plan reach this target"}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              activities.HostTaskQueue(p.spec.Host),
		ScheduleToStartTimeout: checkTimeout,
		StartToCloseTimeout:    2 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		Summary:                "notify test",
	})
	var res activities.NotifyResult
	err := workflow.ExecuteActivity(ctx, activities.Notify, activities.NotifyRequest{Event: ev, Targets: ts, Defaults: len(ts) == 0}).Get(ctx, &res)
	if err != nil {
		return res, errors.New(runError(err))
	}
	return res, nil
}
