// Package backup implements steward's backup activities (Backup,
// CheckBackup, Forget) over the snapshot engine, internal/snapshot.
//
// It resolves secrets on the worker's host, so they never reach workflow
// history; heartbeats progress, so cancellation reaches a running snapshot;
// and turns engine errors into application errors whose types (from package
// activities) decide retryability.
package backup

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/repository"
	"github.com/steward-ops/steward/internal/snapshot"
)

// Repository is what the activities need of an open repository;
// *snapshot.Repo is one.
type Repository interface {
	Snapshot(ctx context.Context, req snapshot.Request, progress func(snapshot.Progress)) (snapshot.Info, error)
	FindByTag(ctx context.Context, key, value string) (snapshot.Info, bool, error)
	ListTagged(ctx context.Context, key, value string) ([]snapshot.Info, error)
	Forget(ctx context.Context, ids ...string) error
	Stat(ctx context.Context, id, path string) (snapshot.Entry, error)
	Lock(ctx context.Context, exclusive bool, waiting func()) (unlock func(), err error)
	Verify(ctx context.Context, percent float64) (snapshot.VerifyStats, error)
	Maintain(ctx context.Context, full bool, safety snapshot.Safety) (snapshot.MaintainStats, error)
	Restore(ctx context.Context, req snapshot.RestoreRequest, progress func(snapshot.RestoreProgress)) (snapshot.RestoreStats, error)
	Refresh(ctx context.Context) error
	Close(ctx context.Context) error
}

// Activities are the backup activities and what they depend on. The zero
// value is not ready: use New, then change fields before registering.
type Activities struct {
	// Open opens or creates a repository; New sets snapshot.Open.
	Open func(ctx context.Context, opts snapshot.Options) (Repository, error)
	// ConfigDir is the snapshot.Options.ConfigDir of every repository
	// opened: where kopia's connection configs and caches go. Empty means
	// the engine's default, under the user's cache directory.
	ConfigDir string
	// LookupEnv and ReadFile resolve password_env and password_file; New
	// sets os.LookupEnv and os.ReadFile.
	LookupEnv func(key string) (string, bool)
	ReadFile  func(name string) ([]byte, error)
	// Hostname names this host in problems and is the host of its
	// snapshots' kopia source; New sets the host name kopia would use.
	Hostname string
	// HeartbeatEvery is the least time between two progress heartbeats.
	HeartbeatEvery time.Duration
	// CheckTimeout bounds CheckBackup's look at the repository's storage,
	// so that a server that never answers is reported as a problem that
	// names it before the check activity itself times out.
	CheckTimeout time.Duration
	// Now tells the time for heartbeat throttling; New sets time.Now.
	Now func() time.Time

	poolOnce sync.Once
	pool     *pool // repositories kept open between activities
}

// New returns the activities with their real dependencies.
func New() *Activities {
	return &Activities{
		Open: func(ctx context.Context, opts snapshot.Options) (Repository, error) {
			return snapshot.Open(ctx, opts)
		},
		LookupEnv:      os.LookupEnv,
		ReadFile:       os.ReadFile,
		Hostname:       hostname(),
		HeartbeatEvery: time.Second,
		CheckTimeout:   20 * time.Second,
		Now:            time.Now,
	}
}

// Register registers the activities on r under their contract names.
func (a *Activities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.Backup, activity.RegisterOptions{Name: activities.Backup})
	r.RegisterActivityWithOptions(a.CheckBackup, activity.RegisterOptions{Name: activities.CheckBackup})
	r.RegisterActivityWithOptions(a.Forget, activity.RegisterOptions{Name: activities.Forget})
	r.RegisterActivityWithOptions(a.PrepareRestore, activity.RegisterOptions{Name: activities.PrepareRestore})
	r.RegisterActivityWithOptions(a.Restore, activity.RegisterOptions{Name: activities.Restore})
	r.RegisterActivityWithOptions(a.Verify, activity.RegisterOptions{Name: activities.Verify})
	r.RegisterActivityWithOptions(a.Maintain, activity.RegisterOptions{Name: activities.Maintain})
}

// hostname is this host's name as kopia normalizes it for snapshot sources
// (lower case, first label).
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	if i := strings.IndexByte(h, '.'); i > 0 {
		h = h[:i]
	}
	return strings.ToLower(h)
}

// open opens the repository ref names, with the secrets it references
// resolved on this host, creating it first if create is set and the
// location holds none. It comes from the worker's pool of open
// repositories unless uncached: a verification reads everything from
// storage, and a restore from a local repository needs no cache; both
// open their own. done gives it back; pass it the activity's error, so
// that a repository that failed a request is not reused.
func (a *Activities) open(ctx context.Context, ref repository.Ref, create, uncached bool) (r Repository, done func(error), err error) {
	opts, err := a.optionsOrError(ref)
	if err != nil {
		return nil, nil, err
	}
	opts.Create, opts.Uncached = create, uncached
	closeIt := func(r Repository) {
		if err := r.Close(context.WithoutCancel(ctx)); err != nil {
			activity.GetLogger(ctx).Warn("Closing the repository failed", "repository", repository.Redact(ref.Repository), "error", err)
		}
	}
	if uncached {
		r, err := a.Open(ctx, opts)
		if err != nil {
			return nil, nil, applicationError(err)
		}
		return r, func(error) { closeIt(r) }, nil
	}
	a.poolOnce.Do(func() { a.pool = newPool(a.Open) })
	r, release, err := a.pool.acquire(ctx, opts)
	if err != nil {
		return nil, nil, applicationError(err)
	}
	// A cancelled request says nothing about the repository; any other
	// failure might (a storage error, a repository changed underneath):
	// the next request opens it anew, which costs little.
	return r, func(err error) { release(err != nil && ctx.Err() == nil) }, nil
}

// Close closes the repositories the activities keep open. The worker
// calls it when it stops.
func (a *Activities) Close(ctx context.Context) {
	if a.pool != nil {
		a.pool.close(ctx)
	}
}
