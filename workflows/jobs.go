package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// A backup plan's repository jobs (verification and maintenance) run as
// child workflows on the plan's timers, never while the plan's own run is
// in flight or the plan is paused. Across plans that share a repository,
// their activities take the repository's host lock exclusively, so backups
// and restores of it wait for them and they wait for backups and restores.

// repoJob is one kind of repository job of a plan, in flight or not.
type repoJob struct {
	future  workflow.Future
	running *api.JobRecord
	// dueAt is when the job in flight was due (its ledger entry's time).
	dueAt time.Time
}

// jobOutcomes name a job kind's ledger outcomes.
type jobOutcomes struct{ ok, failed string }

// startJob starts workflow wf with req as a job of kind, due at due, and
// returns its ID. rec holds what the record says besides its identity.
func (p *planner) startJob(ctx workflow.Context, j *repoJob, kind string, due time.Time, wf string, req any, rec api.JobRecord, summary string) string {
	now := workflow.Now(ctx).UTC()
	id := plan.WorkflowID(p.spec.ID) + "/" + kind + "/" + now.Format(time.RFC3339Nano)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		TaskQueue:             activities.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// Like an eviction: a removed plan's job stops with it (kopia's
		// maintenance and reads are safe to interrupt).
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_TERMINATE,
		StaticSummary:     clip(summary, 200),
	})
	j.future = workflow.ExecuteChildWorkflow(cctx, wf, req)
	rec.ID, rec.Kind, rec.Started, rec.Outcome = id, kind, now, api.OutcomeRunning
	j.running = &rec
	j.dueAt = due.UTC()
	return id
}

// finishJob ends the job in flight: it returns its record, finished, and
// its ledger entry, describing a success with describe. failed is true
// when the job failed (a cancelled job neither fails nor succeeds).
func (p *planner) finishJob(ctx workflow.Context, j *repoJob, f workflow.Future, out jobOutcomes, describe func(api.RunReport) string) (rec *api.JobRecord, entry api.LedgerEntry, failed bool) {
	var rep api.RunReport
	err := f.Get(ctx, &rep)
	now := workflow.Now(ctx).UTC()
	rec = j.running
	j.future, j.running = nil, nil
	if rec == nil {
		return nil, entry, false
	}
	rec.Finished = &now
	entry = api.LedgerEntry{Nominal: j.dueAt, Started: &rec.Started, RunID: rec.ID, At: now}
	switch {
	case err == nil:
		rec.Outcome, entry.Outcome = api.OutcomeSucceeded, out.ok
		rec.Report = &rep
		entry.Detail = describe(rep)
	case isCanceled(err):
		rec.Outcome, entry.Outcome = api.OutcomeCancelled, api.LedgerCancelled
		entry.Detail = rec.Kind + " cancelled"
	default:
		msg := clip(runError(err), 2*maxTextLen)
		rec.Outcome, rec.Error = api.OutcomeFailed, &msg
		entry.Outcome, entry.Detail = out.failed, clip(msg, 200)
		failed = true
	}
	if rec.By != "" {
		entry.Detail += " (asked by " + clip(rec.By, 60) + ")"
	}
	return rec, entry, failed
}

// jobsIdle reports whether no repository job is in flight (continue-as-new
// waits for them).
func (p *planner) jobsIdle() bool {
	return p.verifyJob.future == nil && p.maintainJob.future == nil
}

// jobDue is when a job timer at at may wake the loop: never while the
// job is in flight, the plan is paused, or its run is in flight.
func (p *planner) jobDue(j *repoJob, at *time.Time) time.Time {
	if at == nil || j.future != nil || p.paused() || p.st.Running != nil {
		return time.Time{}
	}
	return *at
}

// jobFailedDetail is the details line's mark of a failed job.
func jobFailedDetail(what string, last *api.JobRecord) string {
	if last == nil || last.Finished == nil {
		return ""
	}
	s := fmt.Sprintf("; %s FAILED %s", what, last.Finished.UTC().Format("2006-01-02 15:04 UTC"))
	if last.Error != nil {
		s += ": " + clip(*last.Error, 120)
	}
	return s
}
