package workflows

import (
	"fmt"
	"time"

	"github.com/dustin/go-humanize"

	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// MaintenanceWorkflow runs kopia's maintenance of a backup plan's
// repository on its host: quick, or full (snapshot garbage collection and
// the deletion of unreferenced data past kopia's safety margins).
func MaintenanceWorkflow(ctx workflow.Context, req api.MaintenanceRequest) (api.RunReport, error) {
	rep := api.RunReport{Kind: api.RunKindMaintenance, Start: workflow.Now(ctx)}
	mode := "quick"
	if req.Maintain.Full {
		mode = "full"
	}
	actx := jobActivity(ctx, req.Host, fmt.Sprintf("%s maintenance of %s", mode, req.Maintain.Repository))
	var res activities.MaintainResult
	if err := workflow.ExecuteActivity(actx, activities.Maintain, req.Maintain).Get(ctx, &res); err != nil {
		return rep, err
	}
	rep.End = workflow.Now(ctx)
	rep.Bytes = res.BytesAfter
	rep.Maintenance = &res
	return rep, nil
}

// maintenanceSpec is the plan's backup.maintenance (defaults applied), nil
// for a preheat plan or an execution on a rung before maintenance.
func (p *planner) maintenanceSpec() *plan.Maintenance {
	if p.spec.Backup == nil || !p.atLeast(versionMaintenance) {
		return nil
	}
	return p.spec.Backup.Maintenance
}

// armMaintenance keeps the maintenance timers in step with the spec: quick
// maintenance every quick after the last one, full every full after the
// last full one (or after the plan was created).
func (p *planner) armMaintenance() {
	m := p.maintenanceSpec()
	if m == nil {
		p.st.MaintainAt, p.st.MaintainFullAt = nil, nil
		return
	}
	if p.maintainJob.future != nil {
		return
	}
	last, lastFull := p.st.Created, p.st.Created
	if l := p.st.LastMaintenance; l != nil && l.Finished != nil {
		last = *l.Finished
		if l.Full {
			lastFull = last
		}
	}
	if p.st.MaintainAt == nil {
		at := last.Add(m.Quick.D()).UTC()
		p.st.MaintainAt = &at
	}
	if p.st.MaintainFullAt == nil {
		at := lastFull.Add(m.Full.D()).UTC()
		p.st.MaintainFullAt = &at
	}
}

// maintenanceDue is when a maintenance timer must wake the loop, or zero.
// A verification in flight holds it: both need the repository to
// themselves.
func (p *planner) maintenanceDue() time.Time {
	if p.verifyJob.future != nil {
		return time.Time{}
	}
	return earliestTime(p.jobDue(&p.maintainJob, p.st.MaintainAt), p.jobDue(&p.maintainJob, p.st.MaintainFullAt))
}

// handleMaintenance starts the maintenance due, full when the full one is.
func (p *planner) handleMaintenance(ctx workflow.Context, now time.Time) {
	due := p.maintenanceDue()
	if due.IsZero() || due.After(now) {
		return
	}
	full := !p.st.MaintainFullAt.After(now)
	b := p.spec.Backup
	mode := "quick"
	if full {
		mode = "full"
	}
	p.startJob(ctx, &p.maintainJob, api.RunKindMaintenance, due, api.MaintenanceWorkflowName, api.MaintenanceRequest{
		Plan: p.spec.ID, Host: p.spec.Host, Maintain: activities.MaintainRequest{
			Ref: b.Ref, Full: full,
		},
	}, api.JobRecord{Full: full}, fmt.Sprintf("%s maintenance of the repository of %s", mode, p.spec.ID))
}

// finishMaintenance records a maintenance's outcome and arms the next: a
// full one also counts as the quick one.
func (p *planner) finishMaintenance(ctx workflow.Context, f workflow.Future) {
	rec, entry, failed := p.finishJob(ctx, &p.maintainJob, f, jobOutcomes{api.LedgerMaintained, api.LedgerMaintenanceFailed}, func(rep api.RunReport) string {
		m := rep.Maintenance
		if m == nil {
			return "maintained"
		}
		mode := "quick"
		if m.Full {
			mode = "full"
		}
		return fmt.Sprintf("%s maintenance freed %s; the repository holds %s in %d blobs", mode, humanize.IBytes(uint64(max(m.Freed, 0))), humanize.IBytes(uint64(max(m.BytesAfter, 0))), m.BlobsAfter)
	})
	if rec == nil {
		return
	}
	p.recordMaintenance(entry, rec)
	if rec.Outcome != api.OutcomeCancelled {
		p.st.MaintenanceFailed = failed
	}
	p.st.LastMaintenance = rec
	p.st.MaintainAt = nil
	if rec.Full && rec.Outcome == api.OutcomeSucceeded {
		p.st.MaintainFullAt = nil
	}
}

// recordMaintenance puts a maintenance in the ledger: a full one (what
// frees unreferenced data) and any that did not succeed. Successful quick
// maintenance runs hourly and only shows in status, so that it never
// crowds the plan's runs out of the bounded ledger.
func (p *planner) recordMaintenance(e api.LedgerEntry, rec *api.JobRecord) {
	if !rec.Full && rec.Outcome == api.OutcomeSucceeded {
		return
	}
	p.record(e)
}

// maintenanceStatus is the status's maintenance section: nil for plans
// that do not maintain a repository.
func (p *planner) maintenanceStatus() *api.JobStatus {
	if p.maintenanceSpec() == nil && p.st.LastMaintenance == nil {
		return nil
	}
	return &api.JobStatus{Failed: p.st.MaintenanceFailed, NextAt: p.st.MaintainAt, NextFullAt: p.st.MaintainFullAt,
		Running: p.maintainJob.running, Last: p.st.LastMaintenance}
}

// earliestTime is the earlier of two times, zero ones left out.
func earliestTime(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
