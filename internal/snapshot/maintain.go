package snapshot

import (
	"context"
	"errors"
	"fmt"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/maintenance"
	"github.com/kopia/kopia/snapshot/snapshotmaintenance"
)

// Safety is kopia's maintenance safety: how old unreferenced data must be
// before it is deleted, so that maintenance never races a snapshot running
// elsewhere.
type Safety = maintenance.SafetyParameters

// SafetyFull is kopia's default (what `kopia maintenance run` uses);
// SafetyNone deletes unreferenced data at once (tests only).
var SafetyFull, SafetyNone = maintenance.SafetyFull, maintenance.SafetyNone

// ErrNotOwner: maintenance of the repository is owned by another kopia
// user@host.
var ErrNotOwner = errors.New("repository maintenance is owned by another client")

// MaintainStats says what a maintenance run did.
type MaintainStats struct {
	Full                    bool
	BytesBefore             int64 // total size of the repository's blobs before
	BytesAfter              int64 // and after
	BlobsBefore, BlobsAfter int
}

// Freed is what the run removed from storage (never negative).
func (s MaintainStats) Freed() int64 {
	return max(0, s.BytesBefore-s.BytesAfter)
}

// Maintain runs kopia's maintenance on the repository the way `kopia
// maintenance run [--full]` does (snapshotmaintenance.Run, not forced), with
// safety: quick (full false: in steward's repositories, which have kopia's
// epoch index, only index compaction; it deletes no data) or full (snapshot
// GC, which marks the contents no snapshot refers to as deleted, then
// rewriting of the contents of short packs, dropping of deleted contents from
// the index, deletion of the packs the index no longer refers to, index
// compaction, cleanup of kopia's logs).
//
// With SafetyFull nothing younger than kopia's margins is deleted (a day for
// unreferenced contents and orphaned packs, and two snapshot GC cycles at
// least four hours apart before deleted contents leave the index), so that
// maintenance never races a snapshot running on another host: the data only
// forgotten snapshots referred to goes with the full runs of the days after.
//
// With SafetyNone one full run removes it, with two quirks of kopia (tests
// that count on the space freed must mind them):
//   - kopia's content timestamps have a resolution of one second and a
//     content deleted (or rewritten) in the second it was written is stamped
//     one second later, past the time up to which that run drops deleted
//     contents: data written less than a second before the run stays, and a
//     full run in a later second removes it;
//   - with RewriteMinAge zero, the short-pack rewrite (packs under 60% of
//     kopia's 20 MB pack size, when there are two or more) copies the
//     just-deleted contents, with the live ones, into a new pack: once
//     dropped from the index their bytes stay in that pack, which is not
//     rewritten again while it is the only short one.
//
// Maintenance runs only when this Repo's user@host is the repository's
// maintenance owner (steward sets itself as owner when it creates a
// repository); otherwise the error has the kind ErrNotOwner, names the owner
// and says how to take ownership. kopia skips the run, without error, while
// another maintenance holds its local lock for the same connection config
// (the .mlock beside it).
//
// MaintainStats counts all the repository's blobs, before and after; the run
// itself writes a few (maintenance schedule, indexes, kopia's logs).
// Cancelling ctx returns context.Cause(ctx).
func (r *Repo) Maintain(ctx context.Context, full bool, safety Safety) (MaintainStats, error) {
	st, err := r.maintain(ctx, full, safety)
	if err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return st, fmt.Errorf("maintain %s: %w", r.location, classify(err))
	}
	return st, nil
}

func (r *Repo) maintain(ctx context.Context, full bool, safety Safety) (MaintainStats, error) {
	st := MaintainStats{Full: full}
	if err := ctx.Err(); err != nil {
		return st, context.Cause(ctx)
	}
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return st, fmt.Errorf("%w: maintenance needs direct access to the repository's storage", ErrUnsupported)
	}
	var err error
	if st.BlobsBefore, st.BytesBefore, err = blobUsage(ctx, dr); err != nil {
		return st, err
	}
	mode := maintenance.ModeQuick
	if full {
		mode = maintenance.ModeFull
	}
	err = repo.DirectWriteSession(ctx, dr, repo.WriteSessionOptions{Purpose: "steward: maintenance"},
		func(ctx context.Context, w repo.DirectRepositoryWriter) error {
			return snapshotmaintenance.Run(ctx, w, mode, false, safety)
		})
	if err != nil {
		return st, r.notOwner(err)
	}
	if st.BlobsAfter, st.BytesAfter, err = blobUsage(ctx, dr); err != nil {
		return st, err
	}
	return st, nil
}

// notOwner gives kopia's "not the maintenance owner" error the kind
// ErrNotOwner and says what to do about it.
func (r *Repo) notOwner(err error) error {
	var no maintenance.NotOwnedError
	if !errors.As(err, &no) {
		return err
	}
	me := r.user + "@" + r.host
	return &kindError{kind: ErrNotOwner, err: fmt.Errorf(
		"repository maintenance is owned by %s, not %s: run it there, or take ownership with `kopia maintenance set --owner=%s`: %w",
		no.Owner, me, me, err)}
}

// blobUsage counts the repository's blobs and their bytes.
func blobUsage(ctx context.Context, dr repo.DirectRepository) (blobs int, bytes int64, err error) {
	err = dr.BlobReader().ListBlobs(ctx, "", func(m blob.Metadata) error {
		blobs++
		bytes += m.Length
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("list blobs: %w", err)
	}
	return blobs, bytes, nil
}
