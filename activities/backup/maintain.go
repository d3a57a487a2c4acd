package backup

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/snapshot"
)

// Maintain runs kopia's maintenance of the repository (quick, or full with
// snapshot garbage collection), with kopia's full safety margins, holding
// the repository to itself on this host. It runs only as the repository's
// maintenance owner (steward on the host that created it): another owner
// is a bad-config error that says how to take ownership.
func (a *Activities) Maintain(ctx context.Context, req activities.MaintainRequest) (_ activities.MaintainResult, err error) {
	var res activities.MaintainResult
	r, done, err := a.open(ctx, req.Ref, false, false)
	if err != nil {
		return res, err
	}
	defer func() { done(err) }()
	st, err := exclusively(ctx, a, r, func() (snapshot.MaintainStats, error) { return r.Maintain(ctx, req.Full, snapshot.SafetyFull) })
	if err != nil {
		return res, err
	}
	return activities.MaintainResult{
		Full: st.Full, BytesBefore: st.BytesBefore, BytesAfter: st.BytesAfter, Freed: st.Freed(),
		BlobsBefore: st.BlobsBefore, BlobsAfter: st.BlobsAfter,
	}, nil
}

// exclusively runs job holding the repository's host lock exclusively
// (backups and restores of it wait), heartbeating while it waits and while
// job runs, so that a cancellation reaches it. Its errors are application
// errors, or the context's.
func exclusively[T any](ctx context.Context, a *Activities, r Repository, job func() (T, error)) (T, error) {
	var zero T
	unlock, err := r.Lock(ctx, true, func() { activity.RecordHeartbeat(ctx, "waiting for backups of the repository") })
	if err != nil {
		return zero, err
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
				activity.RecordHeartbeat(ctx, "working")
			}
		}
	}()
	v, err := job()
	if err != nil {
		if ctx.Err() != nil {
			return zero, err
		}
		return zero, applicationError(err)
	}
	return v, nil
}
