package backup

import (
	"context"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/snapshot"
)

// Verify reads back the repository the way `kopia snapshot verify
// --verify-files-percent` does, holding it to itself on this host (backups
// and restores wait meanwhile), heartbeating so that a cancellation
// reaches it. A problem found is an ErrCorruptRepository error naming the
// snapshot and file.
func (a *Activities) Verify(ctx context.Context, req activities.VerifyRequest) (_ activities.VerifyResult, err error) {
	var res activities.VerifyResult
	if req.Percent < 0 || req.Percent > 100 {
		return res, badConfig("verify: percent %v: want 0 to 100", req.Percent)
	}
	// Read from storage: a cached copy would hide damage to the stored one.
	r, done, err := a.open(ctx, req.Ref, false, true)
	if err != nil {
		return res, err
	}
	defer func() { done(err) }()
	st, err := exclusively(ctx, a, r, func() (snapshot.VerifyStats, error) { return r.Verify(ctx, req.Percent) })
	if err != nil {
		return res, err
	}
	return activities.VerifyResult{Snapshots: st.Snapshots, Files: st.Files}, nil
}
