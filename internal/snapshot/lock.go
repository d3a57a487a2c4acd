package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// lockPoll is how often a waiting Lock tries again.
const lockPoll = 500 * time.Millisecond

// Lock takes this host's lock on the repository: shared for work that adds
// to it or reads it back for a user (backups, restores), exclusive for work
// that must have it to itself (verification, maintenance). It waits while
// another holder's lock excludes it, calling waiting (if not nil) at each
// try, until ctx ends. The lock is an flock(2) on a file beside kopia's
// connection config: the kernel drops it when its holder dies, so a crash
// never leaves a stale lock.
func (r *Repo) Lock(ctx context.Context, exclusive bool, waiting func()) (unlock func(), err error) {
	if err := os.MkdirAll(r.configDir, 0o700); err != nil {
		return nil, fmt.Errorf("lock repository %s: %w", r.location, err)
	}
	fl := flock.New(filepath.Join(r.configDir, "steward.lock"))
	try := fl.TryRLock
	if exclusive {
		try = fl.TryLock
	}
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for {
		ok, err := try()
		if err != nil {
			return nil, fmt.Errorf("lock repository %s: %w", r.location, err)
		}
		if ok {
			return func() { _ = fl.Unlock() }, nil
		}
		if waiting != nil {
			waiting()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock repository %s: %w", r.location, context.Cause(ctx))
		case <-t.C:
		}
	}
}
