package precheck_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/steward-ops/steward/internal/precheck"
)

func TestMounted(t *testing.T) {
	dir := t.TempDir()
	toRoot := filepath.Join(dir, "root")
	toDir := filepath.Join(dir, "dir")
	if err := os.Symlink("/", toRoot); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "backup")
	if err := os.Mkdir(plain, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(plain, toDir); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "mnt")

	wantResult(t, precheck.Mounted("/"), precheck.Proceed, "")
	wantResult(t, precheck.Mounted(toRoot), precheck.Proceed, "")
	wantResult(t, precheck.Mounted(plain), precheck.Wait, plain+" is not a mount point")
	wantResult(t, precheck.Mounted(toDir), precheck.Wait, toDir+" ("+plain+") is not a mount point")
	wantResult(t, precheck.Mounted(missing), precheck.Wait, missing+": no such file or directory")
}

func TestMountedTmpfs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my backup") // the kernel escapes the space in mountinfo
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	wantResult(t, precheck.Mounted(dir), precheck.Wait, dir+" is not a mount point")

	mount(t, "tmpfs", dir, "tmpfs", 0, "size=1m")
	wantResult(t, precheck.Mounted(dir), precheck.Proceed, "")
	sub := filepath.Join(dir, "repo")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	wantResult(t, precheck.Mounted(sub), precheck.Wait, sub+" is not a mount point")
}

// TestMountedBind checks a bind mount of a directory onto itself: the same
// device as its parent, so only the mount table tells it is mounted.
func TestMountedBind(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bound")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mount(t, dir, dir, "", unix.MS_BIND, "")
	wantResult(t, precheck.Mounted(dir), precheck.Proceed, "")
}
