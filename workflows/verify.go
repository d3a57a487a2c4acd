package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// Timeouts of a verification: it reads the whole repository's metadata
// and may take hours on a large one.
const (
	verifyStartToClose = 24 * time.Hour
	verifyHeartbeat    = time.Minute
)

// VerifyWorkflow reads back a backup plan's repository on its host: every
// snapshot's metadata and a share of file contents. It waits for backups
// and restores of the repository on that host to finish, and they wait for
// it.
func VerifyWorkflow(ctx workflow.Context, req api.VerifyRequest) (api.RunReport, error) {
	rep := api.RunReport{Kind: api.RunKindVerify, Start: workflow.Now(ctx)}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.HostTaskQueue(req.Host),
		StartToCloseTimeout: verifyStartToClose,
		HeartbeatTimeout:    verifyHeartbeat,
		RetryPolicy:         retryPolicy(plan.DefaultActivityRetry),
		Summary:             fmt.Sprintf("verify %s (%v%% of file contents)", req.Verify.Repository, req.Verify.Percent),
		WaitForCancellation: true,
	})
	var res activities.VerifyResult
	if err := workflow.ExecuteActivity(actx, activities.Verify, req.Verify).Get(ctx, &res); err != nil {
		return rep, err
	}
	rep.End = workflow.Now(ctx)
	rep.Files = res.Files
	rep.Verify = &res
	return rep, nil
}

// verifySpec is the plan's backup.verify, nil when it has none.
func (p *planner) verifySpec() *plan.Verify {
	if p.spec.Backup == nil {
		return nil
	}
	return p.spec.Backup.Verify
}

// armVerify keeps the verify timer in step with the spec: every
// backup.verify.every after the last verification ended (or after the plan
// was created), none without backup.verify.
func (p *planner) armVerify() {
	v := p.verifySpec()
	if v == nil {
		p.st.VerifyAt = nil
		return
	}
	if p.st.VerifyAt != nil || p.verifyFuture != nil {
		return
	}
	from := p.st.Created
	if l := p.st.LastVerify; l != nil && l.Finished != nil {
		from = *l.Finished
	}
	at := from.Add(v.Every.D()).UTC()
	p.st.VerifyAt = &at
}

// verifyDue is when the verify timer must wake the loop, or zero. A pause
// holds verification too: it reads the whole repository.
func (p *planner) verifyDue() time.Time {
	if p.st.VerifyAt == nil || p.verifyFuture != nil || p.paused() || p.st.Running != nil {
		return time.Time{}
	}
	return *p.st.VerifyAt
}

// handleVerify starts the verification due, if any.
func (p *planner) handleVerify(ctx workflow.Context, now time.Time) {
	due := p.verifyDue()
	if due.IsZero() || due.After(now) {
		return
	}
	p.st.VerifyAt = nil
	p.startVerify(ctx, due, p.verifySpec().Share(), "")
}

// startVerify starts a VerifyWorkflow reading percent of file contents,
// due at due, asked for by by (empty for the timer), and returns its ID.
func (p *planner) startVerify(ctx workflow.Context, due time.Time, percent float64, by string) string {
	now := workflow.Now(ctx).UTC()
	id := plan.WorkflowID(p.spec.ID) + "/verify/" + now.Format(time.RFC3339Nano)
	b := p.spec.Backup
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		TaskQueue:             activities.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		StaticSummary:         clip(fmt.Sprintf("verify the repository of %s (%v%% of file contents)", p.spec.ID, percent), 200),
	})
	p.verifyFuture = workflow.ExecuteChildWorkflow(cctx, api.VerifyWorkflowName, api.VerifyRequest{
		Plan: p.spec.ID, Host: p.spec.Host, Verify: activities.VerifyRequest{
			Repository: b.Repository, PasswordEnv: b.PasswordEnv, PasswordFile: b.PasswordFile, Percent: percent,
		},
	})
	p.verifyRunning = &api.VerifyRecord{ID: id, Started: now, Outcome: api.OutcomeRunning, Percent: percent, By: by}
	p.verifyDueAt = due.UTC()
	return id
}

// finishVerify records a verification's outcome: in the plan's state (a
// failure sets verify-failed, a success clears it) and in the ledger.
func (p *planner) finishVerify(ctx workflow.Context, f workflow.Future) {
	var rep api.RunReport
	err := f.Get(ctx, &rep)
	now := workflow.Now(ctx).UTC()
	rec := p.verifyRunning
	p.verifyFuture, p.verifyRunning = nil, nil
	if rec == nil {
		return
	}
	rec.Finished = &now
	entry := api.LedgerEntry{Nominal: p.verifyDueAt, Started: &rec.Started, RunID: rec.ID, At: now}
	switch {
	case err == nil:
		rec.Outcome, entry.Outcome = api.OutcomeSucceeded, api.LedgerVerified
		if v := rep.Verify; v != nil {
			rec.Snapshots, rec.Files = v.Snapshots, v.Files
		}
		entry.Detail = fmt.Sprintf("verified %d snapshots, %d files, %v%% of contents read", rec.Snapshots, rec.Files, rec.Percent)
		p.st.VerifyFailed = false
	case isCanceled(err):
		rec.Outcome, entry.Outcome = api.OutcomeCancelled, api.LedgerCancelled
		entry.Detail = "verification cancelled"
	default:
		msg := clip(runError(err), 2*maxTextLen)
		rec.Outcome, rec.Error = api.OutcomeFailed, &msg
		entry.Outcome, entry.Detail = api.LedgerVerifyFailed, clip(msg, 200)
		p.st.VerifyFailed = true
	}
	if rec.By != "" {
		entry.Detail += " (asked by " + clip(rec.By, 60) + ")"
	}
	p.record(entry)
	p.st.LastVerify = rec
	p.st.VerifyAt = nil
}

// verifyNow answers the verify Update: it starts a verification now, or
// joins the one in flight.
func (p *planner) verifyNow(req api.VerifyNow) api.VerifyStarted {
	if r := p.verifyRunning; r != nil {
		return api.VerifyStarted{ID: r.ID, Joined: true}
	}
	percent := p.verifySpec().Share()
	if req.Percent != nil {
		percent = *req.Percent
	}
	return api.VerifyStarted{ID: p.startVerify(p.ctx, workflow.Now(p.ctx), percent, req.By)}
}

// validateVerify refuses a verify Update the plan cannot run.
func (p *planner) validateVerify(req api.VerifyNow) error {
	if p.spec.Kind != plan.KindBackup || p.spec.Backup == nil {
		return fmt.Errorf("plan %s is a %s plan: only backup plans have a repository to verify", p.spec.ID, p.spec.Kind)
	}
	if pc := req.Percent; pc != nil && (*pc < 0 || *pc > 100) {
		return fmt.Errorf("percent %v: must be 0 to 100", *pc)
	}
	if len(req.By) > maxTextLen {
		return errors.New("by: too long")
	}
	return nil
}

// verifyStatus is the status's verify section: nil for a plan that has
// never been verified and has no backup.verify.
func (p *planner) verifyStatus() *api.VerifyStatus {
	if p.verifySpec() == nil && p.st.LastVerify == nil && p.verifyRunning == nil {
		return nil
	}
	return &api.VerifyStatus{Failed: p.st.VerifyFailed, NextAt: p.st.VerifyAt, Running: p.verifyRunning, Last: p.st.LastVerify}
}
