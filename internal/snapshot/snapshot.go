package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kopia/kopia/fs/localfs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/policy"
	"github.com/kopia/kopia/snapshot/upload"
)

// Request says what to snapshot.
type Request struct {
	// Source is the directory to snapshot.
	Source string
	// Exclude lists gitignore-style patterns, relative to Source, of files
	// and directories to leave out ("*.tmp", ".cache/", "/build/"). They are
	// stored as the source's kopia ignore policy.
	Exclude []string
	// Tags are stored on the snapshot the way `kopia snapshot create --tags
	// key:value` stores them. Keys must not be empty or contain ':'.
	Tags map[string]string
	// Description is free text shown by `kopia snapshot list`.
	Description string
}

// Progress describes a running snapshot.
type Progress struct {
	Files    int64 // files done so far, read or found unchanged
	Dirs     int64 // directories done so far
	Bytes    int64 // bytes of source data done so far
	Uploaded int64 // bytes written to the repository, after deduplication and compression
	// EstimatedFiles and EstimatedBytes are the size of the whole source,
	// from kopia's estimate (a walk of the tree beside the upload, as `kopia
	// snapshot create` makes for its ETA); zero until it is done.
	EstimatedFiles, EstimatedBytes int64
}

// tagPrefix is the label prefix kopia's CLI gives user tags.
const tagPrefix = "tag:"

// flushTimeout bounds the flush that keeps the data of a failed or cancelled
// snapshot.
const flushTimeout = time.Minute

// Snapshot takes a snapshot of req.Source and returns it once its manifest is
// saved. progress, if not nil, is called as work advances, never by two
// goroutines at once.
//
// Any file or directory that cannot be read fails the snapshot: a snapshot
// that lacks files is never recorded as a success. Cancelling ctx stops the
// snapshot promptly. A failed or cancelled snapshot writes no snapshot
// manifest; the data it already uploaded is kept (and indexed), so that a
// retry does not upload it again, and maintenance removes it if no snapshot
// ever refers to it.
func (r *Repo) Snapshot(ctx context.Context, req Request, progress func(Progress)) (Info, error) {
	fail := func(err error) error {
		return fmt.Errorf("snapshot %s to %s: %w", req.Source, r.location, classify(err))
	}
	src, root, err := source(req.Source)
	if err != nil {
		return Info{}, fail(err)
	}
	labels, err := tagLabels(req.Tags)
	if err != nil {
		return Info{}, fail(err)
	}
	exclude := append([]string(nil), req.Exclude...)
	for _, dir := range []string{r.location, r.configDir} {
		if rule, ok := excludeInside(src, dir); ok {
			exclude = append(exclude, rule)
		}
	}
	si := snapshot.SourceInfo{Host: r.host, UserName: r.user, Path: src}
	p := &uploadProgress{report: progress}

	ctx, w, err := r.rep.NewWriter(ctx, repo.WriteSessionOptions{
		Purpose:  "steward: snapshot",
		OnUpload: p.uploaded,
	})
	if err != nil {
		return Info{}, fail(err)
	}
	defer w.Close(context.WithoutCancel(ctx)) //nolint:errcheck // flushed or deliberately dropped below

	man, previous, err := uploadTree(ctx, w, si, root, exclude, labels, p)
	if err == nil {
		man.Tags = labels
		man.Description = req.Description
		err = save(ctx, w, man, previous)
	}
	if err != nil {
		err = classify(err)
		if !errors.Is(err, ErrNoSpace) {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
			w.Flush(fctx) //nolint:errcheck // best effort; err says what went wrong
			cancel()
		}
		return Info{}, fail(err)
	}
	if err := w.Flush(ctx); err != nil {
		return Info{}, fail(err)
	}
	return info(man), nil
}

// uploadTree uploads the tree at root as source si and returns its manifest,
// not yet saved, and the previous snapshots it started from. Kopia saves a checkpoint (an incomplete snapshot labelled
// with labels) every 45 minutes, so that a retry of a long snapshot after a
// crash starts from it.
func uploadTree(ctx context.Context, w repo.RepositoryWriter, si snapshot.SourceInfo, root string, exclude []string, labels map[string]string, p *uploadProgress) (man *snapshot.Manifest, previous []*snapshot.Manifest, err error) {
	if err := applyPolicy(ctx, w, si, exclude); err != nil {
		return nil, nil, err
	}
	tree, err := policy.TreeForSource(ctx, w, si)
	if err != nil {
		return nil, nil, fmt.Errorf("read policy of %s: %w", si, err)
	}
	previous, err = snapshot.FindPreviousManifests(ctx, w, si, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("find previous snapshots of %s: %w", si, err)
	}
	p.estimateFrom(previous)
	dir, err := localfs.Directory(root)
	if err != nil {
		return nil, nil, err
	}

	u := upload.NewUploader(w)
	u.Progress = p
	u.FailFast = true
	u.EnableActions = false
	u.CheckpointLabels = labels
	stop := context.AfterFunc(ctx, u.Cancel)
	defer stop()

	man, err = u.Upload(ctx, dir, tree, si, previous...)
	switch {
	case ctx.Err() != nil:
		return nil, nil, context.Cause(ctx)
	case err != nil:
		return nil, nil, err
	case p.err() != nil:
		return nil, nil, p.err()
	case man.IncompleteReason != "":
		return nil, nil, fmt.Errorf("snapshot incomplete: %s", man.IncompleteReason)
	}
	return man, previous, nil
}

// save stores man; the caller flushes. Checkpoints of earlier, interrupted
// snapshots of the source served as previous snapshots; the complete one
// replaces them, as kopia's retention would.
func save(ctx context.Context, w repo.RepositoryWriter, man *snapshot.Manifest, previous []*snapshot.Manifest) error {
	if _, err := snapshot.SaveSnapshot(ctx, w, man); err != nil {
		return fmt.Errorf("save snapshot manifest: %w", err)
	}
	// Nothing may fail after the manifest is saved: a failed snapshot must
	// leave none. A checkpoint left behind is harmless.
	for _, m := range previous {
		if m.IncompleteReason != "" {
			w.DeleteManifest(ctx, m.ID) //nolint:errcheck // see above
		}
	}
	return nil
}

// source checks the directory to snapshot and returns its clean absolute path
// (the kopia source path) and the directory it resolves to through symbolic
// links (what is read).
func source(path string) (src, root string, err error) {
	if path == "" {
		return "", "", fmt.Errorf("%w: no source directory given", ErrNoSource)
	}
	src, err = filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	fi, err := os.Stat(src)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", "", ErrNoSource
	case err != nil:
		return "", "", err
	case !fi.IsDir():
		return "", "", &kindError{kind: ErrNoSource, err: errors.New("not a directory")}
	}
	root, err = filepath.EvalSymlinks(src)
	if err != nil {
		return "", "", err
	}
	return src, root, nil
}

// tagLabels turns tags into kopia manifest labels.
func tagLabels(tags map[string]string) (map[string]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	labels := make(map[string]string, len(tags))
	for k, v := range tags {
		if k == "" || strings.Contains(k, ":") {
			return nil, fmt.Errorf("tag key %q: must be non-empty and without ':'", k)
		}
		labels[tagPrefix+k] = v
	}
	return labels, nil
}
