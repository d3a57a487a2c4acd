package snapshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot"
)

// Info describes a snapshot.
type Info struct {
	// ID is the kopia snapshot (manifest) ID, as `kopia snapshot list`
	// shows it and `kopia snapshot restore` takes it.
	ID string
	// Source is the directory snapshotted; Host and User complete kopia's
	// source identity (user@host:path).
	Source, Host, User string
	Start, End         time.Time
	// Tags are the snapshot's user tags, without kopia's "tag:" prefix.
	Tags               map[string]string
	Files, Dirs, Bytes int64
}

// info describes man.
func info(man *snapshot.Manifest) Info {
	in := Info{
		ID:     string(man.ID),
		Source: man.Source.Path,
		Host:   man.Source.Host,
		User:   man.Source.UserName,
		Start:  man.StartTime.ToTime().UTC(),
		End:    man.EndTime.ToTime().UTC(),
		Files:  int64(man.Stats.TotalFileCount),
		Dirs:   int64(man.Stats.TotalDirectoryCount),
		Bytes:  man.Stats.TotalFileSize,
	}
	if s := man.RootEntry; s != nil && s.DirSummary != nil {
		in.Files = s.DirSummary.TotalFileCount
		in.Dirs = s.DirSummary.TotalDirCount
		in.Bytes = s.DirSummary.TotalFileSize
	}
	for k, v := range man.Tags {
		if key, ok := strings.CutPrefix(k, tagPrefix); ok {
			if in.Tags == nil {
				in.Tags = map[string]string{}
			}
			in.Tags[key] = v
		}
	}
	return in
}

// List returns the repository's complete snapshots of every source, oldest
// first. Checkpoints of snapshots still running or interrupted are left out.
func (r *Repo) List(ctx context.Context) ([]Info, error) {
	infos, err := r.find(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list snapshots in %s: %w", r.location, classify(err))
	}
	return infos, nil
}

// FindByTag returns the newest complete snapshot tagged key=value, if there
// is one. A caller that tags each snapshot with a unique run ID finds out
// this way whether a run already made its snapshot.
func (r *Repo) FindByTag(ctx context.Context, key, value string) (Info, bool, error) {
	infos, err := r.find(ctx, map[string]string{tagPrefix + key: value})
	if err != nil {
		return Info{}, false, fmt.Errorf("find snapshot tagged %s=%s in %s: %w", key, value, r.location, classify(err))
	}
	if len(infos) == 0 {
		return Info{}, false, nil
	}
	return infos[len(infos)-1], true, nil
}

// ListTagged returns the complete snapshots tagged key=value, oldest
// first: a plan's own snapshots in a repository it may share.
func (r *Repo) ListTagged(ctx context.Context, key, value string) ([]Info, error) {
	infos, err := r.find(ctx, map[string]string{tagPrefix + key: value})
	if err != nil {
		return nil, fmt.Errorf("list snapshots tagged %s=%s in %s: %w", key, value, r.location, classify(err))
	}
	return infos, nil
}

// find returns the complete snapshots whose manifests have labels, oldest
// first.
func (r *Repo) find(ctx context.Context, labels map[string]string) ([]Info, error) {
	ids, err := snapshot.ListSnapshotManifests(ctx, r.rep, nil, labels)
	if err != nil {
		return nil, err
	}
	mans, err := snapshot.LoadSnapshots(ctx, r.rep, ids)
	if err != nil {
		return nil, err
	}
	if len(mans) < len(ids) {
		// Deleted by another client since they were listed, or unreadable:
		// either way, retrying tells.
		return nil, fmt.Errorf("%d of %d snapshot manifests cannot be read", len(ids)-len(mans), len(ids))
	}
	infos := make([]Info, 0, len(mans))
	for _, m := range mans {
		if m.IncompleteReason == "" {
			infos = append(infos, info(m))
		}
	}
	slices.SortFunc(infos, func(a, b Info) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return infos, nil
}

// Forget deletes the snapshots with the given IDs. Their data stays in the
// repository until maintenance finds it unreferenced.
func (r *Repo) Forget(ctx context.Context, ids ...string) error {
	if err := r.forget(ctx, ids); err != nil {
		return fmt.Errorf("forget snapshots in %s: %w", r.location, classify(err))
	}
	return nil
}

func (r *Repo) forget(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if _, err := snapshot.LoadSnapshot(ctx, r.rep, manifest.ID(id)); err != nil {
			return notFound(id, err)
		}
	}
	return repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "steward: forget snapshots"},
		func(ctx context.Context, w repo.RepositoryWriter) error {
			for _, id := range ids {
				if err := w.DeleteManifest(ctx, manifest.ID(id)); err != nil {
					return fmt.Errorf("delete snapshot %s: %w", id, err)
				}
			}
			return nil
		})
}

// notFound gives kopia's "no such snapshot" errors for id the kind
// ErrNotFound.
func notFound(id string, err error) error {
	if errors.Is(err, snapshot.ErrSnapshotNotFound) || errors.Is(err, manifest.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return fmt.Errorf("load snapshot %s: %w", id, err)
}
