package snapshot

import (
	"context"
	"fmt"
	"math"

	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/restore"
	"github.com/kopia/kopia/snapshot/snapshotfs"
)

// Restore writes the files of snapshot id into the directory target, creating
// it if needed, with the defaults of `kopia snapshot restore`: existing files
// are overwritten, and permission errors (such as setting an owner when not
// root) are ignored. Each file is written to a temporary name and renamed, so
// a cancelled restore leaves no partly written file under its real name.
func (r *Repo) Restore(ctx context.Context, id, target string) error {
	if err := r.restore(ctx, id, target); err != nil {
		return fmt.Errorf("restore snapshot %s from %s to %s: %w", id, r.location, target, classify(err))
	}
	return nil
}

func (r *Repo) restore(ctx context.Context, id, target string) error {
	man, err := snapshot.LoadSnapshot(ctx, r.rep, manifest.ID(id))
	if err != nil {
		return notFound(id, err)
	}
	root, err := snapshotfs.SnapshotRoot(r.rep, man)
	if err != nil {
		return err
	}
	out := &restore.FilesystemOutput{
		TargetPath:             target,
		OverwriteDirectories:   true,
		OverwriteFiles:         true,
		OverwriteSymlinks:      true,
		IgnorePermissionErrors: true,
		WriteFilesAtomically:   true,
	}
	if err := out.Init(ctx); err != nil {
		return err
	}
	cancel := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(cancel) })
	defer stop()
	_, err = restore.Entry(ctx, r.rep, out, root, restore.Options{
		// Deep: kopia writes placeholders below this depth.
		RestoreDirEntryAtDepth: math.MaxInt32,
		Cancel:                 cancel,
	})
	if ctx.Err() != nil {
		// kopia stops quietly when cancelled.
		return context.Cause(ctx)
	}
	return err
}
