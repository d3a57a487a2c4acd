package prefetch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Cross-process locking. Several processes may share a cache directory (two
// workers, or the worker and a `steward cache evict`), so the in-process
// mutexes are backed by flock(2) locks on files under locks/:
//
//	locks/cache          the cache-wide lock: index writes, blob removal,
//	                     Evict and its clean-up hold it (briefly)
//	locks/key-<hash>     one per cache key, held across a whole download of
//	                     the key (partial file included)
//
// flock locks belong to an open file description, so two Cache values in one
// process exclude each other just as two processes do, and the kernel drops
// a lock when its holder dies: a crash never leaves a stale lock.

const (
	cacheLockName = "cache"
	keyLockPrefix = "key-"
)

// fileLock is a held flock(2) lock.
type fileLock struct{ f *os.File }

// unlock releases the lock (closing the file would too).
func (l *fileLock) unlock() {
	_ = flock(l.f, unix.LOCK_UN)
	_ = l.f.Close()
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// lockFile opens (creating) path and locks it exclusively; without block, ok
// is false when another holder has it. Evict deletes idle key lock files, so
// a file deleted between the open and the lock is not the lock any more:
// lockFile then starts over with the file now at path.
func lockFile(path string, block bool) (l *fileLock, ok bool, err error) {
	how := unix.LOCK_EX
	if !block {
		how |= unix.LOCK_NB
	}
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
		if err != nil {
			return nil, false, err
		}
		if err := flock(f, how); err != nil {
			f.Close()
			if !block && errors.Is(err, unix.EWOULDBLOCK) {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("flock %s: %w", path, err)
		}
		held, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, false, err
		}
		now, err := os.Stat(path)
		if err == nil && os.SameFile(held, now) {
			return &fileLock{f: f}, true, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
	}
}

// exclusive takes the cache-wide lock: the in-process mutex, then the lock
// file shared with other processes. It waits as long as needed: the holders
// only write a few small files (or run Evict).
func (c *Cache) exclusive() (unlock func(), err error) {
	c.mu.Lock()
	path := c.lockPath(cacheLockName)
	l, ok, err := lockFile(path, false)
	if err == nil && !ok {
		if c.onLockWait != nil {
			c.onLockWait(cacheLockName)
		}
		l, _, err = lockFile(path, true)
	}
	if err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("lock cache %s: %w", c.dir, err)
	}
	return func() {
		l.unlock()
		c.mu.Unlock()
	}, nil
}

// Polling bounds while waiting for another process's download of a key.
const (
	keyLockPollMin = 10 * time.Millisecond
	keyLockPollMax = 500 * time.Millisecond
)

// lockKey takes key's download lock, waiting while another process (or Cache
// value) downloads the key, until ctx ends. flock cannot wait for a context,
// so it polls.
func (c *Cache) lockKey(ctx context.Context, key string) (*fileLock, error) {
	wait, notified := keyLockPollMin, false
	for {
		l, ok, err := c.tryLockKey(key)
		if err != nil {
			return nil, err
		}
		if ok {
			return l, nil
		}
		if !notified && c.onLockWait != nil {
			c.onLockWait(key)
			notified = true
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for another process's download of the same key: %w", ctx.Err())
		}
		wait = min(2*wait, keyLockPollMax)
	}
}

// tryLockKey takes key's download lock if nobody holds it.
func (c *Cache) tryLockKey(key string) (*fileLock, bool, error) {
	return c.tryLockKeyHash(keyHash(key))
}

func (c *Cache) tryLockKeyHash(hash string) (*fileLock, bool, error) {
	l, ok, err := lockFile(c.lockPath(keyLockPrefix+hash), false)
	if err != nil {
		return nil, false, fmt.Errorf("lock download: %w", err)
	}
	return l, ok, nil
}

// removeIdleLocks deletes the key lock files nobody holds (one is left per
// key ever fetched otherwise). Called with the cache-wide lock held.
func (c *Cache) removeIdleLocks() error {
	dir := filepath.Join(c.dir, "locks")
	names, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("evict: %w", err)
	}
	for _, n := range names {
		hash, ok := strings.CutPrefix(n.Name(), keyLockPrefix)
		if !ok {
			continue
		}
		l, ok, err := c.tryLockKeyHash(hash)
		if err != nil {
			return fmt.Errorf("evict: %w", err)
		}
		if !ok {
			continue // a download is running
		}
		// Removed while held: a process that opened the file meanwhile
		// sees it is gone once it gets the lock, and starts over.
		err = os.Remove(filepath.Join(dir, n.Name()))
		l.unlock()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("evict: %w", err)
		}
	}
	return nil
}

func (c *Cache) lockPath(name string) string { return filepath.Join(c.dir, "locks", name) }
