package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/snapshot"
)

// minPrefix is the shortest snapshot ID prefix a restore accepts.
const minPrefix = 6

// PrepareRestore chooses the plan's snapshot to restore and checks that
// the restore can start, writing nothing: the path is in the snapshot, and
// the target is missing, empty, or req.Overwrite is set. Its errors name
// what the user gave (the snapshot, --at, --path, --target).
func (a *Activities) PrepareRestore(ctx context.Context, req activities.PrepareRestoreRequest) (_ activities.PrepareRestoreResult, err error) {
	var res activities.PrepareRestoreResult
	if req.PlanID == "" {
		return res, badConfig("restore: the request names no plan")
	}
	if err := snapshot.CheckTarget(req.Target, req.Overwrite); err != nil {
		return res, badConfig("%v", err)
	}
	r, done, err := a.open(ctx, req.Ref, false, false)
	if err != nil {
		return res, err
	}
	defer func() { done(err) }()
	infos, err := r.ListTagged(ctx, TagPlan, req.PlanID)
	if err != nil {
		return res, applicationError(err)
	}
	in, err := choose(infos, req.PlanID, req.Snapshot, req.At)
	if err != nil {
		return res, badConfig("%v", err)
	}
	e, err := r.Stat(ctx, in.ID, insideSnapshot(req.Path, in.Source))
	if err != nil {
		return res, badConfig("--path: %v", err)
	}
	return activities.PrepareRestoreResult{
		SnapshotID: in.ID, Taken: in.Start, Source: in.Source, Path: e.Path, Host: a.Hostname,
		Dir: e.Dir, Files: e.Files, Bytes: e.Bytes,
	}, nil
}

// choose picks the snapshot sel names among a plan's snapshots (oldest
// first): an ID or a unique prefix of one, SnapshotLatest or empty for the
// newest, or with at the newest taken at or before it.
func choose(infos []snapshot.Info, plan, sel string, at *time.Time) (snapshot.Info, error) {
	if len(infos) == 0 {
		return snapshot.Info{}, fmt.Errorf("plan %s has no snapshots yet", plan)
	}
	switch {
	case at != nil:
		for i := len(infos) - 1; i >= 0; i-- {
			if !infos[i].Start.After(*at) {
				return infos[i], nil
			}
		}
		return snapshot.Info{}, fmt.Errorf("--at %s: plan %s has no snapshot taken at or before it; its first was taken %s",
			at.UTC().Format(time.RFC3339), plan, infos[0].Start.UTC().Format(time.RFC3339))
	case sel == "" || sel == activities.SnapshotLatest:
		return infos[len(infos)-1], nil
	}
	var found []snapshot.Info
	for _, in := range infos {
		if in.ID == sel {
			return in, nil
		}
		if len(sel) >= minPrefix && strings.HasPrefix(in.ID, sel) {
			found = append(found, in)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return snapshot.Info{}, fmt.Errorf("--snapshot %s: no snapshot of plan %s has this ID (see steward snapshots ls %s)", sel, plan, plan)
	default:
		return snapshot.Info{}, fmt.Errorf("--snapshot %s: %d snapshots of plan %s start with it; give more of the ID", sel, len(found), plan)
	}
}

// Restore writes path req.Path of snapshot req.SnapshotID into req.Target,
// never outside it, heartbeating progress. A retried attempt keeps the
// files an interrupted one finished (same size and time) and writes the
// rest; the target was checked by PrepareRestore before the first attempt.
func (a *Activities) Restore(ctx context.Context, req activities.RestoreRequest) (_ activities.RestoreResult, err error) {
	var res activities.RestoreResult
	if req.SnapshotID == "" || req.Target == "" {
		return res, badConfig("restore: the request names no snapshot or no target")
	}
	// A local repository is read without kopia's cache: caching file
	// data as it is restored copies every byte into the cache directory,
	// a third of a restore's CPU, for data read once. A remote one keeps
	// the cache, which spares it a download per directory.
	local := !strings.Contains(req.Repository, "://")
	r, done, err := a.open(ctx, req.Ref, false, local)
	if err != nil {
		return res, err
	}
	defer func() { done(err) }()
	resume := activity.GetInfo(ctx).Attempt > 1
	if resume {
		activity.GetLogger(ctx).Info("Resuming an interrupted restore", "snapshot", req.SnapshotID, "target", req.Target)
	}
	hb := &throttle{every: a.HeartbeatEvery, now: a.Now}
	unlock, err := r.Lock(ctx, false, func() {
		if hb.due() {
			activity.RecordHeartbeat(ctx, activities.RestoreProgress{TotalFiles: req.Files, TotalBytes: req.Bytes})
		}
	})
	if err != nil {
		return res, err
	}
	defer unlock()
	st, err := r.Restore(ctx, snapshot.RestoreRequest{
		ID: req.SnapshotID, Path: req.Path, Target: req.Target, Resume: resume,
	}, func(p snapshot.RestoreProgress) {
		if hb.due() {
			activity.RecordHeartbeat(ctx, activities.RestoreProgress{
				Files: p.Files, Bytes: p.Bytes, TotalFiles: req.Files, TotalBytes: req.Bytes,
			})
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return res, err
		}
		return res, applicationError(err)
	}
	return activities.RestoreResult{
		Files: st.Files, Dirs: st.Dirs, Symlinks: st.Symlinks, Bytes: st.Bytes,
		Kept: st.Kept, KeptBytes: st.KeptBytes,
	}, nil
}

// insideSnapshot is p as a path inside a snapshot of source: the source
// directory's own absolute path may be given ("/home/alice/docs" of a
// snapshot of /home/alice is "docs"); any other leading slash means the
// snapshot's root.
func insideSnapshot(p, source string) string {
	if source != "" && source != "/" {
		if rest, ok := strings.CutPrefix(p, strings.TrimSuffix(source, "/")+"/"); ok {
			return rest
		}
		if p == source {
			return ""
		}
	}
	return strings.TrimLeft(p, "/")
}
