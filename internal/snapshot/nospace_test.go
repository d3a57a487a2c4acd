package snapshot_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// smallDisk mounts a tmpfs of size bytes and returns its path, or skips the
// test where mounting is not allowed (it needs root, or CAP_SYS_ADMIN).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small file system: %v: %s", err, out)
	}
	t.Cleanup(func() {
		// Lazily: kopia leaves a file open when a write fails for lack of
		// space.
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func TestSnapshotOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("kopia retries a full disk for several seconds")
	}
	disk := smallDisk(t, "1m")
	opts := snapshottest.Options(t)
	opts.Repository = filepath.Join(disk, "repo")
	r := snapshottest.Open(t, opts)
	src := snapshottest.WriteTree(t, randomTree(t, 8, 4<<20))

	_, err := r.Snapshot(t.Context(), snapshot.Request{Source: src, Tags: map[string]string{"run": "r1"}}, nil)
	if !errors.Is(err, snapshot.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("snapshot onto a full disk: %v, want ErrNoSpace", err)
	}
	t.Log(err)
	if _, ok, err := r.FindByTag(t.Context(), "run", "r1"); ok || err != nil {
		t.Errorf("after a full disk, FindByTag(run, r1) = %v, %v; want no snapshot", ok, err)
	}
}
