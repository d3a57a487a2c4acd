// Package api is the contract between steward's clients (the steward CLI,
// scripts, dashboards) and its workflows: workflow, signal, query and Update
// names, their payload types, the status shape and the search attributes.
// The CLI imports this package and never the workflows themselves.
//
// Every type here travels as JSON in workflow histories or query results:
// add fields only, never rename one or change its type.
package api

import (
	"encoding/json"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
)

// SnapshotsRequest starts a SnapshotsWorkflow: the Forget request to run
// on the plan's host (a dry run lists the snapshots with their reasons).
type SnapshotsRequest struct {
	Host   string                   `json:"host,omitempty"`
	Forget activities.ForgetRequest `json:"forget"`
}

// PlanStart is what a client starts a PlanWorkflow with: the plan alone.
// It is the JSON form of the workflow's own input with no carried state.
type PlanStart struct {
	Spec plan.Plan `json:"spec"`
}

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
	// SnapshotsWorkflowName lists or forgets a backup plan's snapshots on
	// its host.
	SnapshotsWorkflowName = "SnapshotsWorkflow"
	// RestoreWorkflowName restores a backup plan's snapshot on its host.
	RestoreWorkflowName = "RestoreWorkflow"
	// NotifyWorkflowName delivers one notification on its own, for a
	// workflow that ends before its receiver may answer.
	NotifyWorkflowName = "NotifyWorkflow"
	// VerifyWorkflowName reads back a backup plan's repository on its
	// host; the plan starts it on its verify timer and for `steward
	// snapshots verify`.
	VerifyWorkflowName = "VerifyWorkflow"
	// MaintenanceWorkflowName runs kopia maintenance of a backup plan's
	// repository on its host, on the plan's maintenance timers.
	MaintenanceWorkflowName = "MaintenanceWorkflow"
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
	// The pause, unpause and trigger Updates take the signals' payloads
	// plus a request ID and answer with a RequestResult, so the steward
	// CLI learns exactly what its own request did.
	UpdatePause   = "pause"
	UpdateUnpause = "unpause"
	UpdateTrigger = "trigger"
	// UpdateVerify verifies a backup plan's repository now (steward
	// snapshots verify) and answers with a VerifyStarted.
	UpdateVerify = "verify"
	// UpdateNotifyTest sends a test message to the plan's notification
	// targets (the worker's defaults for a plan with none) and answers
	// with an activities.NotifyResult.
	UpdateNotifyTest = "notify-test"
)

// PauseRequest is the payload of the pause Update.
type PauseRequest struct {
	PauseSignal
	// RequestID makes a retried request idempotent: a request ID the plan
	// has answered before gets the first answer again, and changes nothing.
	RequestID string `json:"request_id,omitempty"`
}

// UnpauseRequest is the payload of the unpause Update.
type UnpauseRequest struct {
	UnpauseSignal
	RequestID string `json:"request_id,omitempty"`
}

// TriggerRequest is the payload of the trigger Update.
type TriggerRequest struct {
	TriggerSignal
	RequestID string `json:"request_id,omitempty"`
}

// What a pause, unpause or trigger Update did (RequestResult.Outcome). A
// request the plan refuses (a trigger while paused, an unknown lease, a
// malformed payload) fails the Update with the reason instead, and
// changes nothing.
const (
	RequestPaused   = "paused"
	RequestUnpaused = "unpaused"
	// RequestStarted: the trigger started a run now (or the check of its
	// preconditions).
	RequestStarted = "started"
	// RequestQueued: the trigger runs once the run in flight (or the wait
	// for preconditions) is over.
	RequestQueued = "queued"
	// RequestJoined: a trigger was already waiting; this one joins it and
	// adds no run.
	RequestJoined = "joined"
)

// RequestResult is the answer to a pause, unpause or trigger Update.
type RequestResult struct {
	RequestID string `json:"request_id,omitempty"`
	// Request is the Update's name; Outcome one of the Request* constants.
	Request string    `json:"request"`
	Outcome string    `json:"outcome"`
	At      time.Time `json:"at"`
	// Lease is the lease a pause added.
	Lease *Lease `json:"lease,omitempty"`
	// Ended are the IDs of the leases an unpause ended.
	Ended []string `json:"ended,omitempty"`
	// Paused and Until are the plan's pause after the request: Until is
	// when it ends by itself, null when indefinite or not paused.
	Paused bool       `json:"paused"`
	Until  *time.Time `json:"until"`
	// RunID is the run a trigger started, or the run it waits behind.
	RunID string `json:"run_id,omitempty"`
	// Detail says more, for people.
	Detail string `json:"detail,omitempty"`
	// Repeated is set when the plan had answered this request ID before:
	// this is that answer, and nothing changed now.
	Repeated bool `json:"repeated,omitempty"`
}

// Search attributes set by PlanWorkflow.
var (
	AttrPlan        = temporal.NewSearchAttributeKeyKeyword("StewardPlan")
	AttrKind        = temporal.NewSearchAttributeKeyKeyword("StewardKind")
	AttrState       = temporal.NewSearchAttributeKeyKeyword("StewardState")
	AttrPausedUntil = temporal.NewSearchAttributeKeyTime("StewardPausedUntil")
	AttrNextRun     = temporal.NewSearchAttributeKeyTime("StewardNextRun")
	AttrLastSuccess = temporal.NewSearchAttributeKeyTime("StewardLastSuccess")
	AttrOverdue     = temporal.NewSearchAttributeKeyBool("StewardOverdue")
	// AttrLastResult is the outcome of the last finished run (succeeded,
	// failed or cancelled; a failed precondition is a failed run), and
	// AttrLastRunEnd when it finished, in Unix seconds (SQL visibility has
	// no Datetime slot left).
	AttrLastResult = temporal.NewSearchAttributeKeyKeyword("StewardLastResult")
	AttrLastRunEnd = temporal.NewSearchAttributeKeyInt64("StewardLastRunEnd")
	// AttrVerifyFailed is set while the last verification of a backup
	// plan's repository failed.
	AttrVerifyFailed = temporal.NewSearchAttributeKeyBool("StewardVerifyFailed")
	// AttrHost is the host the plan's work runs on (unset for a plan
	// without one), and AttrLastRunMillis how long its last finished run
	// took: labels and values of the worker's per-plan metrics.
	AttrHost          = temporal.NewSearchAttributeKeyKeyword("StewardHost")
	AttrLastRunMillis = temporal.NewSearchAttributeKeyInt64("StewardLastRunMillis")
)

// SearchAttributes lists every custom search attribute steward needs on a
// namespace, with its type, for registration.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	AttrPlan.GetName():          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	AttrKind.GetName():          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	AttrState.GetName():         enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	AttrPausedUntil.GetName():   enumspb.INDEXED_VALUE_TYPE_DATETIME,
	AttrNextRun.GetName():       enumspb.INDEXED_VALUE_TYPE_DATETIME,
	AttrLastSuccess.GetName():   enumspb.INDEXED_VALUE_TYPE_DATETIME,
	AttrOverdue.GetName():       enumspb.INDEXED_VALUE_TYPE_BOOL,
	AttrLastResult.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	AttrLastRunEnd.GetName():    enumspb.INDEXED_VALUE_TYPE_INT,
	AttrVerifyFailed.GetName():  enumspb.INDEXED_VALUE_TYPE_BOOL,
	AttrHost.GetName():          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	AttrLastRunMillis.GetName(): enumspb.INDEXED_VALUE_TYPE_INT,
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
	// Uploaded is what a backup run added to the repository, after
	// deduplication and compression: Bytes/Uploaded is its dedup ratio.
	Uploaded int64 `json:"uploaded,omitempty"`
	// Forgotten is how many older snapshots of the plan the run's
	// retention (backup.keep) deleted.
	Forgotten int `json:"forgotten,omitempty"`
	// Reused is true when the run found its work done by an earlier
	// attempt (a backup whose snapshot was already made).
	Reused bool `json:"reused,omitempty"`
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
	// Actor is who ended the lease: the unpause's by, or the by of the
	// lease that replaced it; empty for an expiry.
	Actor string `json:"actor,omitempty"`
	// EndReason is the reason the unpause gave.
	EndReason string `json:"end_reason,omitempty"`
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
	// Verify and Maintenance are a backup plan's repository jobs: null
	// for plans that have none.
	Verify      *JobStatus `json:"verify"`
	Maintenance *JobStatus `json:"maintenance"`
	// Notify counts the plan's notifications; null before the first.
	Notify *NotifyStatus `json:"notify"`
}

// NotifyStatus counts a plan's notifications: events delivered to all
// their targets, and those that failed for good (after their retries) or
// reached only some targets, with the last failure.
type NotifyStatus struct {
	Sent        int        `json:"sent"`
	Failed      int        `json:"failed"`
	Pending     int        `json:"pending"`
	LastError   *string    `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// JobStatus is the state of a backup plan's repository job (verification
// or maintenance). Failed is set while the last one failed (the plan's
// verify-failed or maintenance-failed state).
type JobStatus struct {
	Failed bool       `json:"failed"`
	NextAt *time.Time `json:"next_at"`
	// NextFullAt is when maintenance next runs in full (null for
	// verification).
	NextFullAt *time.Time `json:"next_full_at,omitempty"`
	Running    *JobRecord `json:"running"`
	Last       *JobRecord `json:"last"`
}

// JobRecord is one verification or maintenance of a backup plan's
// repository. Report is the job's run report once it succeeded.
type JobRecord struct {
	ID       string     `json:"id"`
	Kind     string     `json:"kind"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished"`
	Outcome  string     `json:"outcome"`
	Error    *string    `json:"error"`
	// Percent is the share of file contents a verification reads; Full
	// says a maintenance ran in full.
	Percent float64 `json:"percent,omitempty"`
	Full    bool    `json:"full,omitempty"`
	// By says who asked: empty for the plan's timer.
	By     string     `json:"by,omitempty"`
	Report *RunReport `json:"report,omitempty"`
}

// VerifyRequest starts a VerifyWorkflow on Host.
type VerifyRequest struct {
	Plan   string                   `json:"plan"`
	Host   string                   `json:"host,omitempty"`
	Verify activities.VerifyRequest `json:"verify"`
}

// MaintenanceRequest starts a MaintenanceWorkflow on Host.
type MaintenanceRequest struct {
	Plan     string                     `json:"plan"`
	Host     string                     `json:"host,omitempty"`
	Maintain activities.MaintainRequest `json:"maintain"`
}

// VerifyNow is the payload of the verify Update: verify the plan's
// repository now, reading Percent of file contents (nil: the plan's
// setting).
type VerifyNow struct {
	Percent *float64 `json:"percent,omitempty"`
	By      string   `json:"by,omitempty"`
}

// VerifyStarted answers the verify Update: the verification's workflow ID,
// and whether it joined one already running.
type VerifyStarted struct {
	ID     string `json:"id"`
	Joined bool   `json:"joined"`
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

// Ledger outcomes: what happened to a nominal fire time.
const (
	LedgerStarted        = "started"
	LedgerWaiting        = "waiting"
	LedgerSucceeded      = OutcomeSucceeded
	LedgerFailed         = OutcomeFailed
	LedgerCancelled      = OutcomeCancelled
	LedgerMissed         = "missed"
	LedgerCoalesced      = "coalesced"
	LedgerOverlapSkipped = "overlap-skipped"
	LedgerSkippedPaused  = "skipped-paused"
	LedgerDeadlineMissed = "deadline-missed"
	// LedgerVerified and LedgerVerifyFailed record a verification of the
	// plan's repository (its nominal time is when it was due).
	LedgerVerified     = "verified"
	LedgerVerifyFailed = "verify-failed"
	// LedgerMaintained and LedgerMaintenanceFailed record a maintenance of
	// the plan's repository.
	LedgerMaintained        = "maintained"
	LedgerMaintenanceFailed = "maintenance-failed"
)

// LedgerEntry is the outcome of one nominal fire time (or one trigger).
type LedgerEntry struct {
	Nominal time.Time `json:"nominal"`
	Outcome string    `json:"outcome"`
	// Late is how much later than planned the run started ("" on time).
	Late    string     `json:"late,omitempty"`
	Started *time.Time `json:"started,omitempty"`
	// Ended is when the run ended; Reused is set when it found its work
	// already done by an earlier attempt.
	Ended  *time.Time `json:"ended,omitempty"`
	Reused bool       `json:"reused,omitempty"`
	RunID  string     `json:"run_id,omitempty"`
	Detail string     `json:"detail,omitempty"`
	// At is when the outcome was recorded.
	At time.Time `json:"at"`
}

// PreheatRunRequest starts a PreheatRunWorkflow: for a plan's run, or a
// one-off preheat (PlanID empty).
type PreheatRunRequest struct {
	PlanID  string    `json:"plan_id,omitempty"`
	Nominal time.Time `json:"nominal,omitzero"`
	// Host is the plan's host, used when Preheat names no hosts.
	Host    string             `json:"host,omitempty"`
	Preheat plan.Preheat       `json:"preheat"`
	Retry   plan.ActivityRetry `json:"retry"`
}

// PreheatRunResult is the report of a preheat run: one entry per host.
type PreheatRunResult struct {
	Hosts       []activities.PreheatFetchResult `json:"hosts"`
	Offline     []string                        `json:"offline,omitempty"`
	ImageDigest string                          `json:"image_digest,omitempty"`
	Platforms   []string                        `json:"platforms,omitempty"`
	Items       int                             `json:"items"`
	Bytes       int64                           `json:"bytes"`
	Downloaded  int64                           `json:"downloaded"`
	// NextExpiry is the earliest cache expiry over the hosts, for the
	// plan's eviction timer.
	NextExpiry *time.Time `json:"next_expiry,omitempty"`
}

// HostsState is the registry of worker hosts, carried across
// continue-as-new.
type HostsState struct {
	Hosts []activities.Host `json:"hosts"`
	// Rejected counts malformed registrations.
	Rejected int `json:"rejected"`
}

// Ledger outcome of a fire time whose preconditions said skip.
const LedgerSkippedPrecondition = "skipped-precondition"

// RestoreRequest starts a RestoreWorkflow: which of plan Plan's snapshots
// (Select.Snapshot or Select.At) to restore, what of it (Select.Path), and
// where (Select.Target on Host).
type RestoreRequest struct {
	Plan   string                           `json:"plan"`
	Host   string                           `json:"host,omitempty"`
	Select activities.PrepareRestoreRequest `json:"select"`
	// Notify are the plan's targets of restore-finished.
	Notify []activities.NotifyTarget `json:"notify,omitempty"`
}

// NotifyRequest starts a NotifyWorkflow: Request, sent from Host.
type NotifyRequest struct {
	Host    string                   `json:"host,omitempty"`
	Request activities.NotifyRequest `json:"request"`
}

// Run kinds of a RunReport.
const (
	RunKindBackup      = "backup"
	RunKindPreheat     = "preheat"
	RunKindRestore     = "restore"
	RunKindVerify      = "verify"
	RunKindMaintenance = "maintenance"
)

// RunReport is what a run workflow returns, whatever its kind: when it
// started and ended, whether it reused earlier work, the files and bytes it
// handled, and the details of its kind.
type RunReport struct {
	Kind  string    `json:"kind"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Reused is true when the run found its work already done (a retried
	// backup whose snapshot exists) or resumed an interrupted attempt.
	Reused      bool                       `json:"reused,omitempty"`
	Files       int64                      `json:"files"`
	Bytes       int64                      `json:"bytes"`
	Backup      *BackupDetails             `json:"backup,omitempty"`
	Preheat     *PreheatRunResult          `json:"preheat,omitempty"`
	Restore     *RestoreDetails            `json:"restore,omitempty"`
	Verify      *activities.VerifyResult   `json:"verify,omitempty"`
	Maintenance *activities.MaintainResult `json:"maintenance,omitempty"`
}

// BackupDetails describe a backup run: the snapshot it made (or reused),
// what it added to the repository, and what its retention did.
type BackupDetails struct {
	SnapshotID string `json:"snapshot_id"`
	Dirs       int64  `json:"dirs,omitempty"`
	// Uploaded is what the snapshot added to the repository, after
	// deduplication and compression.
	Uploaded int64 `json:"uploaded,omitempty"`
	// Forgotten is how many of the plan's snapshots retention deleted
	// after this one; Kept how many it kept.
	Forgotten int `json:"forgotten,omitempty"`
	Kept      int `json:"kept,omitempty"`
}

// UnmarshalJSON reads a run report, and also the results run workflows
// returned before the report existed (a backup's {snapshot_id, files, ...}
// or a preheat's {hosts, items, ...}), which histories recorded then
// still hold.
func (r *RunReport) UnmarshalJSON(b []byte) error {
	type plain RunReport
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Kind != "" {
		*r = RunReport(p)
		return nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil || len(keys) == 0 {
		*r = RunReport(p)
		return err
	}
	if _, ok := keys["hosts"]; ok {
		var pr PreheatRunResult
		if err := json.Unmarshal(b, &pr); err != nil {
			return err
		}
		*r = RunReport{Kind: RunKindPreheat, Files: int64(pr.Items), Bytes: pr.Bytes, Preheat: &pr}
		return nil
	}
	var legacy struct {
		BackupDetails
		Files  int64 `json:"files"`
		Bytes  int64 `json:"bytes"`
		Reused bool  `json:"reused"`
	}
	if err := json.Unmarshal(b, &legacy); err != nil {
		return err
	}
	*r = RunReport{Kind: RunKindBackup, Files: legacy.Files, Bytes: legacy.Bytes, Reused: legacy.Reused, Backup: &legacy.BackupDetails}
	return nil
}

// Fill writes what the report says into a plan's record of the run.
func (r RunReport) Fill(rec *RunRecord) {
	rec.Files, rec.Bytes, rec.Reused = r.Files, r.Bytes, r.Reused
	if b := r.Backup; b != nil {
		rec.SnapshotID, rec.Uploaded, rec.Forgotten = b.SnapshotID, b.Uploaded, b.Forgotten
	}
	if p := r.Preheat; p != nil {
		rec.Downloaded = p.Downloaded
	}
}

// RestoreDetails describe a restore: what was restored where, and what an
// interrupted attempt had already written.
type RestoreDetails struct {
	Plan     string                          `json:"plan"`
	Host     string                          `json:"host,omitempty"`
	Target   string                          `json:"target"`
	Snapshot activities.PrepareRestoreResult `json:"snapshot"`
	Result   activities.RestoreResult        `json:"result"`
}
