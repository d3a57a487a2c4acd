// Package activities is the contract between steward's workflows and the code
// that does real work: activity names, one request and one response type per
// activity, task-queue naming and the error types that decide retryability.
//
// Implementations live in sub-packages (activities/backup, ...). Workflows
// import this package only, never an implementation.
package activities

import (
	"fmt"
	"time"

	"github.com/steward-ops/steward/internal/repository"
	"github.com/steward-ops/steward/internal/retention"
)

// Activity names, as registered by the worker and scheduled by workflows.
const (
	// Backup snapshots a source directory into a kopia repository.
	Backup = "Backup"
	// CheckBackup checks on the host that will run a backup plan that its
	// source and password are usable, before the plan is applied.
	CheckBackup = "CheckBackup"
)

// Error types carried by application errors from steward activities. A
// workflow decides retryability from these constants only.
const (
	// ErrBadConfig: the request cannot work as written (missing source
	// directory, unset password variable, unsupported repository URL).
	ErrBadConfig = "StewardBadConfig"
	// ErrAuth: the repository exists but the password does not open it.
	ErrAuth = "StewardAuth"
	// ErrDiskFull: the repository's file system has no space left.
	ErrDiskFull = "StewardDiskFull"
	// ErrCorruptRepository: the repository cannot be read consistently.
	ErrCorruptRepository = "StewardCorruptRepository"
)

// NonRetryableErrors lists the error types that retrying cannot fix.
var NonRetryableErrors = []string{ErrBadConfig, ErrAuth, ErrDiskFull, ErrCorruptRepository}

// TaskQueue is the queue that runs steward's workflows, and the activities of
// plans that do not name a host.
const TaskQueue = "steward"

// HostTaskQueue returns the activity queue of the worker started with --host
// host; an empty host means any worker.
func HostTaskQueue(host string) string {
	if host == "" {
		return TaskQueue
	}
	return TaskQueue + "@" + host
}

// BackupRequest asks for one snapshot of Source into Repository. Secrets are
// referenced, never carried: the activity reads the password from the
// environment variable PasswordEnv or the file PasswordFile on its own host.
type BackupRequest struct {
	PlanID  string   `json:"plan_id"`
	RunID   string   `json:"run_id"`
	Source  string   `json:"source"`
	Exclude []string `json:"exclude,omitempty"`
	// Ref names the repository and references its secrets.
	repository.Ref
}

// BackupResult describes the snapshot a Backup activity made, or found
// already made for the same run.
type BackupResult struct {
	SnapshotID string    `json:"snapshot_id"`
	Files      int64     `json:"files"`
	Dirs       int64     `json:"dirs"`
	Bytes      int64     `json:"bytes"`
	StartTime  time.Time `json:"start_time"`
	EndTime    time.Time `json:"end_time"`
	// Reused is true when a snapshot tagged with this run already existed
	// (the activity was retried after it had finished).
	Reused bool `json:"reused"`
	// Uploaded is what this snapshot added to the repository, after
	// deduplication and compression (0 when reused).
	Uploaded int64 `json:"uploaded,omitempty"`
}

// Forget applies a backup plan's retention policy to the plan's own
// snapshots (those tagged with its ID), or in a dry run only reports what
// it would do.
const Forget = "Forget"

// ForgetRequest names a plan's repository and its retention policy.
// Timezone is the plan's: periods (days, weeks, ...) are counted in it.
type ForgetRequest struct {
	PlanID string `json:"plan_id"`
	// Ref names the repository and references its secrets.
	repository.Ref
	Policy   retention.Policy `json:"policy"`
	Timezone string           `json:"timezone,omitempty"`
	DryRun   bool             `json:"dry_run,omitempty"`
	// Brief leaves the kept snapshots out of the result (a run's own
	// retention: its history need not list every snapshot each time).
	Brief bool `json:"brief,omitempty"`
}

// SnapshotDecision is one of a plan's snapshots and what the policy says
// of it, with the reasons it is kept.
type SnapshotDecision struct {
	ID      string    `json:"id"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Run     string    `json:"run,omitempty"`
	Files   int64     `json:"files"`
	Bytes   int64     `json:"bytes"`
	Keep    bool      `json:"keep"`
	Reasons []string  `json:"reasons,omitempty"`
}

// ForgetResult lists the plan's snapshots, newest first, with the
// decisions (only the forgotten ones when the request was brief), and how
// many were forgotten (0 in a dry run).
type ForgetResult struct {
	Snapshots []SnapshotDecision `json:"snapshots"`
	Kept      int                `json:"kept"`
	Forgotten int                `json:"forgotten"`
}

// BackupProgress is the heartbeat detail of a running Backup activity.
type BackupProgress struct {
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
	// Uploaded is what reached the repository so far, after deduplication
	// and compression.
	Uploaded int64 `json:"uploaded,omitempty"`
	// TotalFiles and TotalBytes estimate the whole source (0 until
	// known), for a percentage and an ETA.
	TotalFiles int64 `json:"total_files,omitempty"`
	TotalBytes int64 `json:"total_bytes,omitempty"`
}

// CheckBackupRequest names the fields of a backup plan that only its host can
// check. Path is the field path of the plan's backup section, used to prefix
// problems (for example "plans[0].backup").
type CheckBackupRequest struct {
	Path   string `json:"path"`
	Source string `json:"source"`
	// Ref names the repository and references its secrets.
	repository.Ref
	// Guards are the plan's path_exists and mounted preconditions. A
	// source or repository under a guard that does not hold now (the
	// external drive is not plugged in) is not checked: its runs wait for
	// the guard, and a note says so.
	Guards []Guard `json:"guards,omitempty"`
}

// Guard is a path_exists (Mounted false) or mounted precondition.
type Guard struct {
	Path    string `json:"path"`
	Mounted bool   `json:"mounted,omitempty"`
}

// GuardNote is the note for field (its value path) left unchecked because
// it lies under the guard kind guardPath, which does not hold: why.
func GuardNote(field, path, kind, guardPath, why string) string {
	return fmt.Sprintf("%s: %s is not checked now: it lies under precondition %s %s, and %s; runs wait until it holds",
		field, path, kind, guardPath, why)
}

// CheckBackupResult lists the problems found, each naming its field path
// ("plans[0].backup.source: /x: no such directory"). Empty means usable.
// Notes are what was left unchecked, and why.
type CheckBackupResult struct {
	Problems []string `json:"problems"`
	Notes    []string `json:"notes,omitempty"`
}

// CheckPreconditions checks a plan's preconditions on its host before a run.
const CheckPreconditions = "CheckPreconditions"

// Precondition verdicts, from the exit code protocol of command hooks (0
// proceed, 1 skip, 75 wait, anything else fail) and from the built-in checks
// (a built-in check that does not hold says wait: the drive may be plugged
// in, the disk may be freed).
const (
	VerdictProceed = "proceed"
	VerdictSkip    = "skip"
	VerdictWait    = "wait"
	VerdictFail    = "fail"
)

// Precondition is one check. Exactly one of PathExists, Mounted, MinFree
// (bytes free on the file system holding MinFreePath) and Command is set.
type Precondition struct {
	PathExists  string   `json:"path_exists,omitempty"`
	Mounted     string   `json:"mounted,omitempty"`
	MinFree     int64    `json:"min_free,omitempty"`
	MinFreePath string   `json:"min_free_path,omitempty"`
	Command     []string `json:"command,omitempty"`
	// Timeout bounds a command; the whole process group is killed at it.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// CheckPreconditionsRequest lists a plan's preconditions. Env holds plan
// values given to commands as environment variables (STEWARD_PLAN, ...),
// never interpolated into their arguments.
type CheckPreconditionsRequest struct {
	PlanID        string            `json:"plan_id"`
	Nominal       time.Time         `json:"nominal"`
	Preconditions []Precondition    `json:"preconditions"`
	Env           map[string]string `json:"env,omitempty"`
}

// CheckPreconditionsResult is the verdict of the first precondition that
// does not say proceed (or proceed when all do), and why.
type CheckPreconditionsResult struct {
	Verdict string `json:"verdict"`
	// Index is the precondition that decided, -1 when all proceed.
	Index  int    `json:"index"`
	Reason string `json:"reason,omitempty"`
	// Output is the command's combined output, capped.
	Output string `json:"output,omitempty"`
}

// PrepareRestore chooses the snapshot a restore reads and checks that the
// restore can start: the path is in the snapshot, and the target on the
// plan's host is missing, empty, or Overwrite is set. It writes nothing.
const PrepareRestore = "PrepareRestore"

// Restore writes a snapshot (or one path of it) into a target directory on
// its host, never outside it. A retried attempt keeps what an interrupted
// one finished.
const Restore = "Restore"

// SnapshotLatest selects a plan's newest snapshot.
const SnapshotLatest = "latest"

// PrepareRestoreRequest selects one of plan PlanID's snapshots: Snapshot
// (an ID, a unique prefix of one, or SnapshotLatest), or the newest taken
// at or before At.
type PrepareRestoreRequest struct {
	PlanID string `json:"plan_id"`
	// Ref names the repository and references its secrets.
	repository.Ref
	Snapshot string     `json:"snapshot,omitempty"`
	At       *time.Time `json:"at,omitempty"`
	// Path is a slash-separated path inside the snapshot; empty means all.
	Path      string `json:"path,omitempty"`
	Target    string `json:"target"`
	Overwrite bool   `json:"overwrite,omitempty"`
}

// PrepareRestoreResult names the snapshot chosen and the size of what will
// be restored from it.
type PrepareRestoreResult struct {
	SnapshotID string    `json:"snapshot_id"`
	Taken      time.Time `json:"taken"`
	Source     string    `json:"source"`
	// Path is the path restored, inside the snapshot ("" for all).
	Path string `json:"path,omitempty"`
	// Host is the worker host that checked the target.
	Host string `json:"host"`
	// Dir is false when Path names a file or a symbolic link.
	Dir   bool  `json:"dir"`
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
}

// RestoreRequest restores path Path of snapshot SnapshotID into Target.
// Files and Bytes are the totals PrepareRestore found, for progress.
type RestoreRequest struct {
	// Ref names the repository and references its secrets.
	repository.Ref
	SnapshotID string `json:"snapshot_id"`
	Path       string `json:"path,omitempty"`
	Target     string `json:"target"`
	Files      int64  `json:"files"`
	Bytes      int64  `json:"bytes"`
}

// RestoreResult counts what a restore wrote. Kept counts the files an
// interrupted attempt had already written, found intact and not written
// again.
type RestoreResult struct {
	Files     int64 `json:"files"`
	Dirs      int64 `json:"dirs"`
	Symlinks  int64 `json:"symlinks"`
	Bytes     int64 `json:"bytes"`
	Kept      int64 `json:"kept,omitempty"`
	KeptBytes int64 `json:"kept_bytes,omitempty"`
}

// RestoreProgress is the heartbeat detail of a running Restore activity:
// done so far of the totals.
type RestoreProgress struct {
	Files      int64 `json:"files"`
	Bytes      int64 `json:"bytes"`
	TotalFiles int64 `json:"total_files"`
	TotalBytes int64 `json:"total_bytes"`
}

// Verify reads back a backup repository: all metadata of every snapshot,
// and a share of file contents. It has the repository to itself on its
// host while it runs.
const Verify = "Verify"

// VerifyRequest names the repository and the percent (0 to 100) of file
// contents to read back.
type VerifyRequest struct {
	// Ref names the repository and references its secrets.
	repository.Ref
	Percent float64 `json:"percent"`
}

// VerifyResult counts what a verification checked.
type VerifyResult struct {
	Snapshots int   `json:"snapshots"`
	Files     int64 `json:"files"`
}

// Maintain runs kopia's maintenance of a backup repository (quick or
// full, with kopia's safety margins) on the host that owns it. It has the
// repository to itself on its host while it runs.
const Maintain = "Maintain"

// MaintainRequest names the repository and the kind of maintenance.
type MaintainRequest struct {
	// Ref names the repository and references its secrets.
	repository.Ref
	Full bool `json:"full,omitempty"`
}

// MaintainResult says what a maintenance run found and freed: the size of
// the repository's storage before and after.
type MaintainResult struct {
	Full        bool  `json:"full,omitempty"`
	BytesBefore int64 `json:"bytes_before"`
	BytesAfter  int64 `json:"bytes_after"`
	Freed       int64 `json:"freed"`
	BlobsBefore int   `json:"blobs_before"`
	BlobsAfter  int   `json:"blobs_after"`
}
