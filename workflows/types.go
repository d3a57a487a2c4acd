// Package workflows holds steward's deterministic orchestration: one
// long-running PlanWorkflow per plan, and the run workflows it starts as
// children. It does no I/O; real work happens in activities, reached only
// through the contract package activities.
package workflows

import (
	"time"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// PlanInput starts a PlanWorkflow. State is nil for a new plan and carries
// everything across continue-as-new.
type PlanInput struct {
	Spec  plan.Plan `json:"spec"`
	State *State    `json:"state,omitempty"`
}

// StateVersion is the schema version of State. State is a wire format kept
// in workflow histories: add fields only, never change a field's type.
const StateVersion = 1

// State is everything a PlanWorkflow knows. It holds absolute times only, so
// timers can be re-armed from it after continue-as-new.
type State struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// Prev is the last nominal fire time handled (run, skipped or missed).
	Prev time.Time `json:"prev"`
	// NextRun is the next nominal fire time.
	NextRun time.Time `json:"next_run"`
	// LastRunStart and LastSuccessStart anchor `every` schedules: the
	// nominal times of the last run and of the last successful run (a
	// trigger's nominal time is when it was received), so the grid stays put
	// however late a run started.
	LastRunStart     time.Time `json:"last_run_start"`
	LastSuccessStart time.Time `json:"last_success_start"`
	// LastSuccess is when the last successful run finished.
	LastSuccess  *time.Time        `json:"last_success"`
	Running      *api.RunRecord    `json:"running,omitempty"`
	LastRun      *api.RunRecord    `json:"last_run,omitempty"`
	RecentRuns   []api.RunRecord   `json:"recent_runs"`
	Leases       []api.Lease       `json:"leases"`
	PauseHistory []api.PauseRecord `json:"pause_history"`
	// ResumeFrom is set when the last pause lease ended: nominal times before
	// it were due while paused and are skipped unless CatchUp says otherwise.
	ResumeFrom *time.Time `json:"resume_from,omitempty"`
	CatchUp    string     `json:"catchup,omitempty"`
	// Trigger is a trigger signal waiting for the run in flight to end.
	Trigger       *api.TriggerSignal `json:"trigger,omitempty"`
	LeaseSeq      int                `json:"lease_seq"`
	Counters      api.Counters       `json:"counters"`
	LastRejection *string            `json:"last_rejection"`
	// Queue holds fire times waiting to run: a catch-up backlog, a run
	// buffered behind the one in flight, or one waiting for its window.
	Queue []time.Time `json:"queue,omitempty"`
	// Ledger is the bounded ring of outcomes, oldest first.
	Ledger []api.LedgerEntry `json:"ledger"`
	// Overdue is set while the last success is older than the deadline.
	Overdue bool `json:"overdue"`
	// Checking is the run whose preconditions are being checked.
	Checking *PendingRun `json:"checking,omitempty"`
	// Retry is the failed run waiting for its next run-level retry.
	Retry *PendingRun `json:"retry,omitempty"`
	// Recheck is when the queued run's preconditions are checked again.
	Recheck *time.Time `json:"recheck,omitempty"`
	// ConsecutiveFailures counts fire times that failed for good in a row.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// CacheExpiry is when a preheat plan's next cache entry expires on one
	// of its hosts: the plan evicts then, even with no run due.
	CacheExpiry *time.Time `json:"cache_expiry,omitempty"`
	// Requests are the newest answered pause, unpause and trigger Updates
	// that carried a request ID, so a retried request gets the same answer.
	Requests []api.RequestResult `json:"requests,omitempty"`
	// VerifyAt is when a backup plan with backup.verify next verifies its
	// repository; VerifyFailed is set while the last verification failed.
	VerifyAt     *time.Time     `json:"verify_at,omitempty"`
	LastVerify   *api.JobRecord `json:"last_verify,omitempty"`
	VerifyFailed bool           `json:"verify_failed,omitempty"`
	// MaintainAt and MaintainFullAt are when a backup plan next runs
	// quick and full maintenance of its repository; MaintenanceFailed is
	// set while the last one failed.
	MaintainAt        *time.Time     `json:"maintain_at,omitempty"`
	MaintainFullAt    *time.Time     `json:"maintain_full_at,omitempty"`
	LastMaintenance   *api.JobRecord `json:"last_maintenance,omitempty"`
	MaintenanceFailed bool           `json:"maintenance_failed,omitempty"`
	// Notify counts the plan's notifications (versionTelemetry).
	Notify *api.NotifyStatus `json:"notify,omitempty"`
}

// PendingRun is a run that is not in flight yet: its preconditions are
// being checked, or it waits for a run-level retry.
type PendingRun struct {
	Nominal time.Time          `json:"nominal"`
	StartAt time.Time          `json:"start_at"`
	Trigger *api.TriggerSignal `json:"trigger,omitempty"`
	// Attempt is the run-level retry this is (0: the first try); BaseID
	// is the first try's run ID.
	Attempt int    `json:"attempt,omitempty"`
	BaseID  string `json:"base_id,omitempty"`
	// NextAt is when a retry is due.
	NextAt time.Time `json:"next_at,omitempty"`
}

// BackupRunRequest starts a BackupRunWorkflow.
type BackupRunRequest struct {
	PlanID  string             `json:"plan_id"`
	Nominal time.Time          `json:"nominal"`
	Host    string             `json:"host,omitempty"`
	Backup  plan.Backup        `json:"backup"`
	Retry   plan.ActivityRetry `json:"retry"`
	// Timezone is the plan's: retention counts its periods in it.
	Timezone string `json:"timezone,omitempty"`
}
