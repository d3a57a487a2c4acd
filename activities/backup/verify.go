package backup

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/snapshot"
)

// Verify reads back the repository the way `kopia snapshot verify
// --verify-files-percent` does, holding it to itself on this host (backups
// and restores wait meanwhile), heartbeating so that a cancellation
// reaches it. A problem found is an ErrCorruptRepository error naming the
// snapshot and file.
func (a *Activities) Verify(ctx context.Context, req activities.VerifyRequest) (activities.VerifyResult, error) {
	var res activities.VerifyResult
	if req.Percent < 0 || req.Percent > 100 {
		return res, badConfig("verify: percent %v: want 0 to 100", req.Percent)
	}
	// Read from storage: a cached copy would hide damage to the stored one.
	r, done, err := a.open(ctx, snapshot.Options{Repository: req.Repository, Uncached: true}, req.PasswordEnv, req.PasswordFile)
	if err != nil {
		return res, err
	}
	defer done()
	unlock, err := r.Lock(ctx, true, func() { activity.RecordHeartbeat(ctx, "waiting for backups of the repository") })
	if err != nil {
		return res, err
	}
	defer unlock()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(a.HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, "verifying")
			}
		}
	}()
	st, err := r.Verify(ctx, req.Percent)
	if err != nil {
		if ctx.Err() != nil {
			return res, err
		}
		return res, applicationError(err)
	}
	return activities.VerifyResult{Snapshots: st.Snapshots, Files: st.Files}, nil
}
