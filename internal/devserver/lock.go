package devserver

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"syscall"
)

// fileLock is an exclusive flock(2) on a lock file next to the database. The
// kernel drops it when the process dies, so a crash never leaves it stale.
type fileLock struct {
	f *os.File
}

// lockFile takes the lock at path without waiting. The lock file holds the
// owner's pid, for the error message another process sees.
func lockFile(path string) (*fileLock, error) {
	dbPath := strings.TrimSuffix(path, ".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("database %s: cannot create lock file: %w", dbPath, err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("database %s is in use by another %s (lock file %s)",
				dbPath, ownerDescription(f), path)
		}
		return nil, fmt.Errorf("database %s: locking %s: %w", dbPath, path, err)
	}
	if err := writePID(f); err != nil {
		_ = flock(f, syscall.LOCK_UN)
		_ = f.Close()
		return nil, fmt.Errorf("database %s: writing lock file: %w", dbPath, err)
	}
	return &fileLock{f: f}, nil
}

func (l *fileLock) release() error {
	// Leave the file in place: removing it would let two processes lock two
	// different inodes of the same path.
	err := flock(l.f, syscall.LOCK_UN)
	return errors.Join(err, l.f.Close())
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

func ownerDescription(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	switch {
	case err != nil || pid <= 0:
		return "process"
	case pid == os.Getpid():
		return fmt.Sprintf("server in this process (pid %d)", pid)
	default:
		return fmt.Sprintf("process (pid %d)", pid)
	}
}
