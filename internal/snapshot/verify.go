package snapshot

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/snapshotfs"
)

// Verify stops after verifyMaxErrors problems and describes the first
// verifyShownErrors in its error.
const (
	verifyMaxErrors   = 10
	verifyShownErrors = 3
)

// Verify reads back every snapshot in the repository the way `kopia
// snapshot verify --verify-files-percent=percent` does: it walks each
// snapshot's directory tree, checks that every file's contents are in the
// index and in pack blobs that exist, and reads percent (0 to 100) of the
// files in full, which decrypts them and checks their integrity. Snapshots
// left incomplete by an interrupted run are checked too: later snapshots
// reuse their data.
//
// A problem found has the kind ErrCorrupt and names the snapshot and path.
func (r *Repo) Verify(ctx context.Context, percent float64) (VerifyStats, error) {
	var st VerifyStats
	if percent < 0 || percent > 100 {
		return st, fmt.Errorf("verify %s: percent %v: want 0 to 100", r.location, percent)
	}
	if err := r.verify(ctx, percent, &st); err != nil {
		return st, fmt.Errorf("verify snapshots in %s: %w", r.location, err)
	}
	return st, nil
}

// VerifyStats count what a verification checked: snapshots, and the
// distinct files of their trees.
type VerifyStats struct {
	Snapshots int
	Files     int64
}

func (r *Repo) verify(ctx context.Context, percent float64, st *VerifyStats) error {
	opts := snapshotfs.VerifierOptions{VerifyFilesPercent: percent}
	if dr, ok := r.rep.(repo.DirectRepository); ok {
		// With the list of pack blobs, a file whose contents are indexed
		// but whose pack is gone is found without reading it.
		blobs, err := blob.ReadBlobMap(ctx, dr.BlobReader())
		if err != nil {
			return classify(fmt.Errorf("list pack blobs: %w", err))
		}
		opts.BlobMap = blobs
	}
	ids, err := snapshot.ListSnapshotManifests(ctx, r.rep, nil, nil)
	if err != nil {
		return classify(fmt.Errorf("list snapshots: %w", err))
	}
	mans, err := snapshot.LoadSnapshots(ctx, r.rep, ids)
	if err != nil {
		return classify(fmt.Errorf("load snapshots: %w", err))
	}

	// kopia's verifier checks one file; the walker goes through the trees
	// in parallel, once per distinct object, and names what fails.
	v := snapshotfs.NewVerifier(ctx, r.rep, opts)
	var files atomic.Int64
	tw, err := snapshotfs.NewTreeWalker(ctx, snapshotfs.TreeWalkerOptions{
		MaxErrors: verifyMaxErrors,
		EntryCallback: func(ctx context.Context, e fs.Entry, oid object.ID, path string) error {
			if e.IsDir() {
				return nil
			}
			files.Add(1)
			if err := v.VerifyFile(ctx, oid, path, e.Size()); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	defer tw.Close(ctx)
	for _, man := range mans {
		if man.RootEntry == nil {
			continue
		}
		root, err := snapshotfs.SnapshotRoot(r.rep, man)
		if err != nil {
			return classify(fmt.Errorf("snapshot %s: %w", man.ID, err))
		}
		// The walker collects the errors; they are reported below.
		_ = tw.Process(ctx, root, fmt.Sprintf("snapshot %s %s", man.ID, man.Source.Path))
		st.Snapshots++
		if tw.TooManyErrors() || ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	st.Files = files.Load()
	errs, n := tw.GetErrors()
	if n == 0 {
		return nil
	}
	var msgs []string
	for _, e := range errs[:min(len(errs), verifyShownErrors)] {
		msgs = append(msgs, e.Error())
	}
	if n > len(msgs) {
		msgs = append(msgs, fmt.Sprintf("and %d more", n-len(msgs)))
	}
	return &kindError{kind: ErrCorrupt, err: fmt.Errorf("%d problems: %s", n, strings.Join(msgs, "; "))}
}
