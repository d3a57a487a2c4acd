package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// Timeouts of a repository job (verification or maintenance): it reads
// the whole repository's metadata and may take hours on a large one.
const (
	jobStartToClose = 24 * time.Hour
	jobHeartbeat    = time.Minute
)

// jobActivity is the activity options of a repository job on host.
func jobActivity(ctx workflow.Context, host, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.HostTaskQueue(host),
		StartToCloseTimeout: jobStartToClose,
		HeartbeatTimeout:    jobHeartbeat,
		RetryPolicy:         retryPolicy(plan.DefaultActivityRetry),
		Summary:             summary,
		WaitForCancellation: true,
	})
}

// VerifyWorkflow reads back a backup plan's repository on its host: every
// snapshot's metadata and a share of file contents.
func VerifyWorkflow(ctx workflow.Context, req api.VerifyRequest) (api.RunReport, error) {
	rep := api.RunReport{Kind: api.RunKindVerify, Start: workflow.Now(ctx)}
	actx := jobActivity(ctx, req.Host, fmt.Sprintf("verify %s (%v%% of file contents)", req.Verify.Repository, req.Verify.Percent))
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
	if p.st.VerifyAt != nil || p.verifyJob.future != nil {
		return
	}
	from := p.st.Created
	if l := p.st.LastVerify; l != nil && l.Finished != nil {
		from = *l.Finished
	}
	at := from.Add(v.Every.D()).UTC()
	p.st.VerifyAt = &at
}

// verifyDue is when the verify timer must wake the loop, or zero.
func (p *planner) verifyDue() time.Time { return p.jobDue(&p.verifyJob, p.st.VerifyAt) }

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
	b := p.spec.Backup
	return p.startJob(ctx, &p.verifyJob, api.RunKindVerify, due, api.VerifyWorkflowName, api.VerifyRequest{
		Plan: p.spec.ID, Host: p.spec.Host, Verify: activities.VerifyRequest{
			Ref: b.Ref, Percent: percent,
		},
	}, api.JobRecord{Percent: percent, By: by}, fmt.Sprintf("verify the repository of %s (%v%% of file contents)", p.spec.ID, percent))
}

// finishVerify records a verification's outcome: a failure sets
// verify-failed, a success clears it.
func (p *planner) finishVerify(ctx workflow.Context, f workflow.Future) {
	rec, entry, failed := p.finishJob(ctx, &p.verifyJob, f, jobOutcomes{api.LedgerVerified, api.LedgerVerifyFailed}, func(rep api.RunReport) string {
		if v := rep.Verify; v != nil {
			return fmt.Sprintf("verified %d snapshots, %d files", v.Snapshots, v.Files)
		}
		return "verified"
	})
	if rec == nil {
		return
	}
	p.record(entry)
	if rec.Outcome != api.OutcomeCancelled {
		p.st.VerifyFailed = failed
	}
	if failed {
		p.notify(plan.EventVerifyFailed, entry.Detail, "")
	}
	p.st.LastVerify = rec
	p.st.VerifyAt = nil
}

// verifyNow answers the verify Update: it starts a verification now, or
// joins the one in flight.
func (p *planner) verifyNow(req api.VerifyNow) api.VerifyStarted {
	if r := p.verifyJob.running; r != nil {
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
func (p *planner) verifyStatus() *api.JobStatus {
	if p.verifySpec() == nil && p.st.LastVerify == nil && p.verifyJob.running == nil {
		return nil
	}
	return &api.JobStatus{Failed: p.st.VerifyFailed, NextAt: p.st.VerifyAt, Running: p.verifyJob.running, Last: p.st.LastVerify}
}
