// Package workflows holds steward's deterministic orchestration: one
// long-running PlanWorkflow per plan, and the run workflows it starts as
// children. It does no I/O; real work happens in activities, reached only
// through the contract package activities.
package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/internal/plan"
)

// Workflow type names, as registered by the worker.
const (
	PlanWorkflowName      = "PlanWorkflow"
	BackupRunWorkflowName = "BackupRunWorkflow"
	CheckPlanWorkflowName = "CheckPlanWorkflow"
	// PreheatRunWorkflowName runs one preheat; CacheEvictWorkflowName
	// evicts a preheat plan's caches; HostsWorkflowName is the host
	// registry.
	PreheatRunWorkflowName = "PreheatRunWorkflow"
	CacheEvictWorkflowName = "CacheEvictWorkflow"
	HostsWorkflowName      = "HostsWorkflow"
)

// Signal, query and update names: the contract with the steward CLI, the
// temporal CLI and the Web UI.
const (
	SignalPause   = "pause"
	SignalUnpause = "unpause"
	SignalTrigger = "trigger"
	QueryStatus   = "status"
	QueryLedger   = "ledger"
	QueryPreview  = "preview"
	// QuerySpec returns the plan as the workflow runs it, defaults applied.
	QuerySpec   = "spec"
	UpdateApply = "apply"
)

// Search attributes set by PlanWorkflow.
var (
	AttrPlan        = temporal.NewSearchAttributeKeyKeyword("StewardPlan")
	AttrKind        = temporal.NewSearchAttributeKeyKeyword("StewardKind")
	AttrState       = temporal.NewSearchAttributeKeyKeyword("StewardState")
	AttrPausedUntil = temporal.NewSearchAttributeKeyTime("StewardPausedUntil")
	AttrNextRun     = temporal.NewSearchAttributeKeyTime("StewardNextRun")
	AttrLastSuccess = temporal.NewSearchAttributeKeyTime("StewardLastSuccess")
	AttrOverdue     = temporal.NewSearchAttributeKeyBool("StewardOverdue")
)

// SearchAttributes lists every custom search attribute steward needs on a
// namespace, with its type, for registration.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	AttrPlan.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	AttrKind.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	AttrState.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	AttrPausedUntil.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
	AttrNextRun.GetName():     enumspb.INDEXED_VALUE_TYPE_DATETIME,
	AttrLastSuccess.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
	AttrOverdue.GetName():     enumspb.INDEXED_VALUE_TYPE_BOOL,
}

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
	LastSuccess  *time.Time    `json:"last_success"`
	Running      *RunRecord    `json:"running,omitempty"`
	LastRun      *RunRecord    `json:"last_run,omitempty"`
	RecentRuns   []RunRecord   `json:"recent_runs"`
	Leases       []Lease       `json:"leases"`
	PauseHistory []PauseRecord `json:"pause_history"`
	// ResumeFrom is set when the last pause lease ended: nominal times before
	// it were due while paused and are skipped unless CatchUp says otherwise.
	ResumeFrom *time.Time `json:"resume_from,omitempty"`
	CatchUp    string     `json:"catchup,omitempty"`
	// Trigger is a trigger signal waiting for the run in flight to end.
	Trigger       *TriggerSignal `json:"trigger,omitempty"`
	LeaseSeq      int            `json:"lease_seq"`
	Counters      Counters       `json:"counters"`
	LastRejection *string        `json:"last_rejection"`
	// Queue holds fire times waiting to run: a catch-up backlog, a run
	// buffered behind the one in flight, or one waiting for its window.
	Queue []time.Time `json:"queue,omitempty"`
	// Ledger is the bounded ring of outcomes, oldest first.
	Ledger []LedgerEntry `json:"ledger"`
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
}

// PendingRun is a run that is not in flight yet: its preconditions are
// being checked, or it waits for a run-level retry.
type PendingRun struct {
	Nominal time.Time      `json:"nominal"`
	StartAt time.Time      `json:"start_at"`
	Trigger *TriggerSignal `json:"trigger,omitempty"`
	// Attempt is the run-level retry this is (0: the first try); BaseID
	// is the first try's run ID.
	Attempt int    `json:"attempt,omitempty"`
	BaseID  string `json:"base_id,omitempty"`
	// NextAt is when a retry is due.
	NextAt time.Time `json:"next_at,omitempty"`
}

// Counters count what happened to a plan over its whole life.
type Counters struct {
	Runs            int `json:"runs"`
	Succeeded       int `json:"succeeded"`
	Failed          int `json:"failed"`
	Cancelled       int `json:"cancelled"`
	Skipped         int `json:"skipped"`
	Missed          int `json:"missed"`
	RejectedSignals int `json:"rejected_signals"`
	RejectedUpdates int `json:"rejected_updates"`
	// Skipped counts both of these.
	SkippedPaused       int `json:"skipped_paused"`
	OverlapSkipped      int `json:"overlap_skipped"`
	Coalesced           int `json:"coalesced"`
	SkippedPrecondition int `json:"skipped_precondition"`
	Retries             int `json:"retries"`
	// Pauses and Unpauses count the accepted signals.
	Pauses   int `json:"pauses"`
	Unpauses int `json:"unpauses"`
}

// Run outcomes.
const (
	OutcomeRunning   = "running"
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeCancelled = "cancelled"
)

// RunRecord is one run of a plan.
type RunRecord struct {
	ID       string     `json:"id"`
	Nominal  time.Time  `json:"nominal"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished"`
	Outcome  string     `json:"outcome"`
	Error    *string    `json:"error"`
	Trigger  string     `json:"trigger"` // schedule | trigger
	// Attempt is 0 for a run, N for its N-th run-level retry.
	Attempt    int    `json:"attempt,omitempty"`
	SnapshotID string `json:"snapshot_id,omitempty"`
	Files      int64  `json:"files,omitempty"`
	Bytes      int64  `json:"bytes,omitempty"`
	// Downloaded is what a preheat run transferred (0 when all was cached).
	Downloaded int64 `json:"downloaded,omitempty"`
}

// Pause modes.
const (
	ModeNewRuns = "new-runs"
	ModeAll     = "all"
)

// Lease is one active pause. The plan is paused while any lease is active.
type Lease struct {
	ID           string     `json:"id"`
	Until        *time.Time `json:"until"`
	UntilNextRun bool       `json:"until_next_run,omitempty"`
	Reason       string     `json:"reason"`
	By           string     `json:"by"`
	Mode         string     `json:"mode"`
	Since        time.Time  `json:"since"`
}

// PauseRecord is a lease that has ended, and how.
type PauseRecord struct {
	Lease
	Ended   time.Time `json:"ended"`
	EndedBy string    `json:"ended_by"` // expired | unpaused | replaced
	Actor   string    `json:"actor,omitempty"`
}

// PauseSignal is the payload of the pause signal; every field is optional.
// At most one of For, Until and UntilNextRun; none means indefinite.
type PauseSignal struct {
	For          string `json:"for,omitempty"`
	Until        string `json:"until,omitempty"`
	UntilNextRun bool   `json:"until_next_run,omitempty"`
	Reason       string `json:"reason,omitempty"`
	By           string `json:"by,omitempty"`
	ID           string `json:"id,omitempty"`
	Mode         string `json:"mode,omitempty"`
}

// UnpauseSignal is the payload of the unpause signal. Without ID it ends
// every lease. CatchUp ("skip", "latest" or "all") says what happens to the
// nominal times that came due during the pause; the default is skip.
type UnpauseSignal struct {
	ID      string `json:"id,omitempty"`
	Reason  string `json:"reason,omitempty"`
	By      string `json:"by,omitempty"`
	CatchUp string `json:"catchup,omitempty"`
}

// TriggerSignal is the payload of the trigger signal: run now. A trigger
// respects pause unless Force is set.
type TriggerSignal struct {
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
	Force  bool   `json:"force,omitempty"`
}

// Status is the result of the status query. Scripts rely on its shape:
// extend it only by adding fields.
type Status struct {
	Plan          string        `json:"plan"`
	Kind          string        `json:"kind"`
	State         string        `json:"state"`
	NextRun       *time.Time    `json:"next_run"`
	LastSuccess   *time.Time    `json:"last_success"`
	LastRun       *RunRecord    `json:"last_run"`
	Pause         PauseStatus   `json:"pause"`
	Retry         RetryStatus   `json:"retry"`
	Counters      Counters      `json:"counters"`
	RecentRuns    []RunRecord   `json:"recent_runs"`
	PauseHistory  []PauseRecord `json:"pause_history"`
	Details       string        `json:"details"`
	LastRejection *string       `json:"last_rejection"`
	// NextStart is when the next run is planned to start: NextRun plus its
	// jitter, or the queued run's start.
	NextStart  *time.Time  `json:"next_start"`
	Overdue    bool        `json:"overdue"`
	DeadlineAt *time.Time  `json:"deadline_at"`
	Queued     []time.Time `json:"queued"`
}

// FireTime is one upcoming fire time, in the preview query.
type FireTime struct {
	Nominal time.Time `json:"nominal"`
	Start   time.Time `json:"start"`
}

// PauseStatus says whether the plan is paused, until when and by which leases.
type PauseStatus struct {
	Paused bool       `json:"paused"`
	Until  *time.Time `json:"until"`
	Leases []Lease    `json:"leases"`
}

// RetryStatus describes run-level retries.
type RetryStatus struct {
	Attempt int        `json:"attempt"`
	Max     int        `json:"max"`
	NextAt  *time.Time `json:"next_at"`
}

// Plan states, as shown in status and the StewardState search attribute.
const (
	StateIdle     = "idle"
	StateRunning  = "running"
	StatePaused   = "paused"
	StateWaiting  = "waiting"
	StateRetrying = "retrying"
)

// BackupRunRequest starts a BackupRunWorkflow.
type BackupRunRequest struct {
	PlanID  string             `json:"plan_id"`
	Nominal time.Time          `json:"nominal"`
	Host    string             `json:"host,omitempty"`
	Backup  plan.Backup        `json:"backup"`
	Retry   plan.ActivityRetry `json:"retry"`
}

// BackupRunResult is the result of a BackupRunWorkflow.
type BackupRunResult struct {
	SnapshotID string `json:"snapshot_id"`
	Files      int64  `json:"files"`
	Bytes      int64  `json:"bytes"`
	Reused     bool   `json:"reused"`
	// Downloaded is set for preheat runs, whose report becomes a run record.
	Downloaded int64 `json:"downloaded,omitempty"`
}

// CheckPlanRequest asks the plan's host to check what only it can check.
type CheckPlanRequest struct {
	Path string    `json:"path"` // field path of the plan, like "plans[0]"
	Spec plan.Plan `json:"spec"`
}

// CheckPlanResult lists the problems found, each naming its field path,
// and notes on what could not be checked now.
type CheckPlanResult struct {
	Problems []string `json:"problems"`
	Notes    []string `json:"notes,omitempty"`
}
