package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// RunID returns the workflow ID of the run for a nominal fire time. The ID is
// derived from the time, so a replayed or retried start can never run the
// same slot twice.
func RunID(planID string, nominal time.Time) string {
	return plan.WorkflowID(planID) + "/run/" + nominal.UTC().Format(time.RFC3339)
}

// triggerRunID is the ID of a run started by a trigger signal at at.
func triggerRunID(planID string, at time.Time) string {
	return plan.WorkflowID(planID) + "/run/" + at.UTC().Format(time.RFC3339Nano) + "/trigger"
}

// startRun starts the child run workflow for nominal; t is the trigger
// signal for a triggered run. startAt is when the run was allowed to start.
func (p *planner) startRun(ctx workflow.Context, nominal, startAt time.Time, t *api.TriggerSignal) {
	p.startAttempt(ctx, PendingRun{Nominal: nominal, StartAt: startAt, Trigger: t})
}

// startAttempt starts the child run workflow for one attempt of a fire time
// (attempt 0 is the run itself, later ones are run-level retries).
func (p *planner) startAttempt(ctx workflow.Context, pr PendingRun) {
	nominal, startAt, t := pr.Nominal, pr.StartAt, pr.Trigger
	now := workflow.Now(ctx).UTC()
	if pr.Attempt == 0 && p.st.Retry != nil {
		// A new run supersedes the retries of an older one.
		p.st.Retry = nil
		p.failedFinally(now, p.supersededError())
	}
	id := RunID(p.spec.ID, nominal)
	why := "schedule"
	summary := fmt.Sprintf("%s %s, due %s", p.spec.Kind, p.spec.ID, nominal.UTC().Format(time.RFC3339))
	entry := api.LedgerEntry{Nominal: nominal, Outcome: api.LedgerStarted, Started: &now, At: now}
	if t != nil {
		id, why = triggerRunID(p.spec.ID, now), "trigger"
		summary = fmt.Sprintf("%s %s, triggered", p.spec.Kind, p.spec.ID)
		if t.By != "" {
			summary += " by " + t.By
		}
		if t.Reason != "" {
			summary += ": " + t.Reason
		}
		entry.Detail = "triggered"
		if t.By != "" {
			entry.Detail += " by " + t.By
		}
	} else {
		planned := p.planned(nominal)
		entry.Late = lateBy(now.Sub(planned))
		if startAt.After(planned) {
			entry.Detail = "waited " + startAt.Sub(planned).Round(time.Second).String() + " for an allowed window"
			entry.Late = lateBy(now.Sub(startAt))
		}
	}
	if pr.Attempt > 0 {
		id = fmt.Sprintf("%s/retry-%d", pr.BaseID, pr.Attempt)
		entry.Late = ""
		entry.Detail = fmt.Sprintf("retry %d/%d", pr.Attempt, p.maxRetries())
	}
	entry.RunID = id
	if e := p.waitingEntry(nominal); e != nil && t == nil && pr.Attempt == 0 {
		*e = entry
	} else {
		p.record(entry)
	}
	cctx, cancel := workflow.WithCancel(ctx)
	cctx = workflow.WithChildOptions(cctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		TaskQueue:             activities.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation:   true,
		StaticSummary:         clip(summary, 200),
		TypedSearchAttributes: temporal.NewSearchAttributes(api.AttrPlan.ValueSet(p.spec.ID), api.AttrKind.ValueSet(string(p.spec.Kind))),
	})
	p.runFuture = p.executeRun(cctx, nominal)
	p.runCancel = cancel
	p.cancelReason = ""
	p.runsHere++
	p.st.Running = &api.RunRecord{ID: id, Nominal: nominal.UTC(), Started: now, Outcome: api.OutcomeRunning, Trigger: why, Attempt: pr.Attempt}
	p.notify(plan.EventRunStarted, "", "")
	if pr.Attempt == 0 {
		p.st.LastRunStart = nominal.UTC()
		p.st.Counters.Runs++
	}
}

// executeRun starts the plan's run workflow: the section of the spec
// that is set (backup or preheat) names it and is its request.
func (p *planner) executeRun(ctx workflow.Context, nominal time.Time) workflow.ChildWorkflowFuture {
	if pre := p.spec.Preheat; pre != nil {
		return workflow.ExecuteChildWorkflow(ctx, api.PreheatRunWorkflowName, api.PreheatRunRequest{
			PlanID: p.spec.ID, Nominal: nominal.UTC(), Host: p.spec.Host, Preheat: *pre, Retry: p.spec.Retry.Activity,
		})
	}
	req := BackupRunRequest{PlanID: p.spec.ID, Nominal: nominal.UTC(), Host: p.spec.Host, Retry: p.spec.Retry.Activity, Timezone: p.spec.Schedule.Timezone}
	if p.spec.Backup != nil {
		req.Backup = *p.spec.Backup
	}
	return workflow.ExecuteChildWorkflow(ctx, api.BackupRunWorkflowName, req)
}

// cancelRun cancels the run in flight, saying why in the ledger.
func (p *planner) cancelRun(reason string) {
	if p.runCancel != nil {
		p.cancelReason = reason
		p.runCancel()
	}
}

// finishRun records the outcome of the run in flight from its run report,
// whatever its kind. A failed run may carry its report as the error's
// details (a preheat's hosts that did succeed).
func (p *planner) finishRun(ctx workflow.Context, f workflow.Future) {
	var rep api.RunReport
	err := f.Get(ctx, &rep)
	if err != nil && !runDetails(err, &rep) {
		rep = api.RunReport{}
	}
	p.noteCacheExpiry(rep)
	p.runFuture, p.runCancel = nil, nil
	now := workflow.Now(ctx).UTC()
	switch {
	case err == nil:
		p.endRun(now, api.OutcomeSucceeded, "", &rep)
	case isCanceled(err):
		reason := "cancelled"
		if p.cancelReason != "" {
			reason = "cancelled: " + p.cancelReason
		}
		p.endRun(now, api.OutcomeCancelled, reason, nil)
	default:
		p.endRun(now, api.OutcomeFailed, runError(err), nil)
	}
	// The anchors may have moved.
	p.st.NextRun = p.sched.Next(p.st.Prev, p.anchors())
}

func (p *planner) endRun(now time.Time, outcome, errMsg string, rep *api.RunReport) {
	r := p.st.Running
	p.st.Running = nil
	if r == nil {
		return
	}
	r.Finished = &now
	r.Outcome = outcome
	if errMsg != "" {
		msg := clip(errMsg, 2*maxTextLen)
		r.Error = &msg
	}
	detail := clip(errMsg, 200)
	switch outcome {
	case api.OutcomeSucceeded:
		p.notify(plan.EventRunSucceeded, "", "")
		if p.st.ConsecutiveFailures > 0 {
			p.notify(plan.EventRecovered, "", fmt.Sprintf("succeeded after %d failed runs", p.st.ConsecutiveFailures))
		}
		p.st.Counters.Succeeded++
		p.st.LastSuccess = &now
		p.st.LastSuccessStart = r.Nominal
		p.st.Overdue = false
		p.st.ConsecutiveFailures = 0
		if rep != nil {
			rep.Fill(r)
		}
	case api.OutcomeCancelled:
		p.st.Counters.Cancelled++
	default:
		p.st.Counters.Failed++
		p.notify(plan.EventRunFailed, errMsg, "")
		if next, ok := p.scheduleRetry(r, now); ok {
			detail = fmt.Sprintf("%s; retry %d/%d at %s", detail, r.Attempt+1, p.maxRetries(), next.UTC().Format(time.RFC3339))
		} else {
			p.failedFinally(now, errMsg)
		}
	}
	p.updateLedger(r.ID, func(e *api.LedgerEntry) {
		e.Outcome, e.At, e.Reused = outcome, now, r.Reused
		e.Ended = &now
		if detail != "" {
			e.Detail = detail
		}
	})
	p.st.LastRun = r
	p.addRecord(*r, now)
	p.countRun(outcome, rep)
}

// runError is the activity's own words when a run failed in an activity,
// not the chain of wrappers around them.
func runError(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Error()
	}
	return err.Error()
}
