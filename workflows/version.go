package workflows

import "go.temporal.io/sdk/workflow"

// planVersion is a rung of PlanWorkflow's version ladder, like the
// scheduler's SchedulerWorkflowVersion: each rung names a change in the
// commands the workflow issues. An execution keeps the rung it started on
// (its history says which), so executions started by older code replay
// unchanged; continue-as-new moves a plan to the newest rung.
type planVersion workflow.Version

// planVersionChange is the change ID of the ladder's marker.
const planVersionChange = "plan-version"

const (
	// versionBeforeLadder: executions started before the ladder existed.
	// Their preconditions and retries are governed by the older "failures"
	// marker.
	versionBeforeLadder planVersion = planVersion(workflow.DefaultVersion)
	// versionTruth: status tells the truth. A failed precondition is a
	// failed run; a paused plan's next run lies after its pause; pause
	// leases are bounded to 10 years and take days; a check of
	// preconditions is cancelled by pause mode all and never starts a run
	// while paused; the last result is a search attribute.
	versionTruth planVersion = 1
	// versionMaintenance: backup plans run kopia maintenance of their
	// repository on timers (backup.maintenance, on by default).
	versionMaintenance planVersion = 2
	// versionTelemetry: the plan's host and its last run's duration are
	// search attributes too (the worker's per-plan metrics read them).
	versionTelemetry planVersion = 3

	versionLatest = versionTelemetry
)

// getPlanVersion records (or, on replay, reads) the rung this execution
// runs on.
func getPlanVersion(ctx workflow.Context) planVersion {
	return planVersion(workflow.GetVersion(ctx, planVersionChange, workflow.Version(versionBeforeLadder), workflow.Version(versionLatest)))
}

// atLeast reports whether the execution runs on rung v or a newer one.
func (p *planner) atLeast(v planVersion) bool { return p.version >= v }
