package precheck_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/steward-ops/steward/internal/precheck"
)

func TestPathExists(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "gone"), dangling); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "backup")
	for _, tc := range []struct {
		path    string
		verdict precheck.Verdict
		reason  string
	}{
		{dir, precheck.Proceed, ""},
		{file, precheck.Proceed, ""},
		{link, precheck.Proceed, ""},
		{missing, precheck.Wait, missing + ": no such file or directory"},
		{dangling, precheck.Wait, dangling + ": no such file or directory"},
		{filepath.Join(file, "sub"), precheck.Wait, filepath.Join(file, "sub") + ": not a directory"},
	} {
		wantResult(t, precheck.PathExists(tc.path), tc.verdict, tc.reason)
	}
}

func TestMinFree(t *testing.T) {
	dir := t.TempDir()
	wantResult(t, precheck.MinFree(dir, 1), precheck.Proceed, "")
	wantResult(t, precheck.MinFree(dir, 0), precheck.Proceed, "")

	got := precheck.MinFree(dir, 4<<60)
	re := regexp.MustCompile("^" + regexp.QuoteMeta(dir) + `: [0-9]+(\.[0-9])? [KMGTPE]?i?B free, want 4 EiB$`)
	if got.Verdict != precheck.Wait || !re.MatchString(got.Reason) {
		t.Errorf("MinFree(%s, 4 EiB) = %v %q, want wait and a reason matching %s", dir, got.Verdict, got.Reason, re)
	}

	missing := filepath.Join(dir, "backup")
	wantResult(t, precheck.MinFree(missing, 1), precheck.Wait, missing+": no such file or directory")
}

// TestMinFreeOnSmallFileSystem measures a 1 MiB tmpfs, whose free space is
// known to the byte.
func TestMinFreeOnSmallFileSystem(t *testing.T) {
	dir := t.TempDir()
	mount(t, "tmpfs", dir, "tmpfs", 0, "size=1m")
	wantResult(t, precheck.MinFree(dir, 1<<20), precheck.Proceed, "")
	wantResult(t, precheck.MinFree(dir, 10<<20), precheck.Wait, dir+": 1 MiB free, want 10 MiB")
	wantResult(t, precheck.MinFree(dir, 1<<20+1), precheck.Wait,
		dir+": 1 MiB (1048576 bytes) free, want 1 MiB (1048577 bytes)")

	if err := os.WriteFile(filepath.Join(dir, "fill"), make([]byte, 800<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	wantResult(t, precheck.MinFree(dir, 1<<20), precheck.Wait, dir+": 224 KiB free, want 1 MiB")
}
