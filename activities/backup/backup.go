package backup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/snapshot"
)

// Tag keys of steward's snapshots.
const (
	TagPlan = "plan"
	TagRun  = "run"
)

// Backup snapshots req.Source into req.Repository, creating the repository
// if the location holds none yet. It is idempotent: when a snapshot tagged
// with req.RunID exists (an earlier attempt finished but its result was
// lost), it returns that one with Reused set instead of taking another.
func (a *Activities) Backup(ctx context.Context, req activities.BackupRequest) (_ activities.BackupResult, err error) {
	log := activity.GetLogger(ctx)
	if req.RunID == "" {
		return activities.BackupResult{}, badConfig("backup: the request has no run ID")
	}
	r, release, err := a.open(ctx, req.Ref, true, false)
	if err != nil {
		return activities.BackupResult{}, err
	}
	defer func() { release(err) }()

	if done, ok, err := r.FindByTag(ctx, TagRun, req.RunID); err != nil {
		return activities.BackupResult{}, applicationError(err)
	} else if ok {
		log.Info("Snapshot of this run already made", "snapshot", done.ID)
		res := result(done)
		res.Reused = true
		return res, nil
	}

	if activity.HasHeartbeatDetails(ctx) {
		// kopia resumes by itself: data uploaded by the earlier attempt
		// is found again instead of uploaded.
		var was activities.BackupProgress
		if err := activity.GetHeartbeatDetails(ctx, &was); err == nil {
			log.Info("Resuming after an interrupted attempt", "files", was.Files, "bytes", was.Bytes)
		}
	}
	hb := &heartbeat{ctx: ctx, throttle: throttle{every: a.HeartbeatEvery, now: a.Now}}
	// Verification and maintenance of the repository have it to
	// themselves: wait for them, heartbeating so the wait is visible and
	// cancellable.
	unlock, err := r.Lock(ctx, false, func() { hb.progress(snapshot.Progress{}) })
	if err != nil {
		return activities.BackupResult{}, err
	}
	defer unlock()
	done, err := r.Snapshot(ctx, snapshot.Request{
		Source:      req.Source,
		Exclude:     req.Exclude,
		Tags:        map[string]string{TagPlan: req.PlanID, TagRun: req.RunID},
		Description: "steward run " + req.RunID,
	}, hb.progress)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled or timed out: the SDK reports it as such.
			return activities.BackupResult{}, err
		}
		return activities.BackupResult{}, applicationError(err)
	}
	res := result(done)
	res.Uploaded = hb.uploaded()
	log.Info("Snapshot saved", "snapshot", done.ID, "files", done.Files, "bytes", done.Bytes, "uploaded", res.Uploaded)
	return res, nil
}

// result describes a snapshot as the contract does.
func result(in snapshot.Info) activities.BackupResult {
	return activities.BackupResult{
		SnapshotID: in.ID,
		Files:      in.Files,
		Dirs:       in.Dirs,
		Bytes:      in.Bytes,
		StartTime:  in.Start,
		EndTime:    in.End,
	}
}

// heartbeat records snapshot progress as activity heartbeats, at most once
// per every: each one is a chance for a cancellation to reach the activity.
type heartbeat struct {
	ctx context.Context
	throttle

	mu     sync.Mutex
	latest snapshot.Progress
}

func (h *heartbeat) progress(p snapshot.Progress) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.latest = p
	if h.due() {
		activity.RecordHeartbeat(h.ctx, activities.BackupProgress{Files: p.Files, Bytes: p.Bytes, Uploaded: p.Uploaded,
			TotalFiles: p.EstimatedFiles, TotalBytes: p.EstimatedBytes})
	}
}

// throttle says when a heartbeat is due: the first time, then at most once
// per every. Its callers never call due from two goroutines at once.
type throttle struct {
	every time.Duration
	now   func() time.Time
	last  time.Time
}

func (t *throttle) due() bool {
	now := t.now()
	if !t.last.IsZero() && now.Sub(t.last) < t.every {
		return false
	}
	t.last = now
	return true
}

// uploaded is what the snapshot has written to the repository so far.
func (h *heartbeat) uploaded() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest.Uploaded
}

// applicationError turns an engine error into the application error whose
// type tells the workflow whether retrying can help. Its message is the
// engine's, which says what failed and with what; it never holds a password,
// since the engine never puts one in an error.
func applicationError(err error) error {
	var typ string
	switch {
	case errors.Is(err, snapshot.ErrWrongPassword):
		typ = activities.ErrAuth
	case errors.Is(err, snapshot.ErrNoSpace):
		typ = activities.ErrDiskFull
	case errors.Is(err, snapshot.ErrCorrupt):
		typ = activities.ErrCorruptRepository
	case errors.Is(err, snapshot.ErrNoSource), errors.Is(err, snapshot.ErrUnsupported),
		errors.Is(err, snapshot.ErrNoRepository), errors.Is(err, snapshot.ErrNotFound),
		errors.Is(err, snapshot.ErrTargetNotEmpty), errors.Is(err, snapshot.ErrUnsafePath),
		errors.Is(err, snapshot.ErrNotOwner):
		typ = activities.ErrBadConfig
	default:
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), typ, nil)
}

// badConfig is a non-retryable error of type ErrBadConfig.
func badConfig(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrBadConfig, nil)
}
