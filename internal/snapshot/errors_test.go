package snapshot

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	pkgerrors "github.com/pkg/errors"
)

func TestClassifyNoSpace(t *testing.T) {
	// The way kopia's filesystem storage reports a full disk: a
	// *os.PathError wrapped with github.com/pkg/errors, then with fmt.
	write := &os.PathError{Op: "write", Path: "/mnt/repo/p1/ab/p1abcd.f.tmp.1234", Err: syscall.ENOSPC}
	err := fmt.Errorf("snapshot /src to /mnt/repo: %w", classify(pkgerrors.Wrap(pkgerrors.Wrap(write, "can't write temporary file"), "error writing pack")))
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("%v: want ErrNoSpace and syscall.ENOSPC", err)
	}
	if got, want := err.Error(), "snapshot /src to /mnt/repo: error writing pack: can't write temporary file: write /mnt/repo/p1/ab/p1abcd.f.tmp.1234: no space left on device"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestExcludeInside(t *testing.T) {
	for _, tc := range []struct {
		source, dir, rule string
	}{
		{"/home/alice", "/home/alice/backup/repo", "/backup/repo/"},
		{"/home/alice", "/home/alice/.cache/steward/kopia", "/.cache/steward/kopia/"},
		{"/home/alice", "/home/alicia/repo", ""},
		{"/home/alice", "/mnt/backup", ""},
		{"/home/alice", "/home", ""},
		{"/home/alice", "/home/alice", ""},
	} {
		rule, ok := excludeInside(tc.source, tc.dir)
		if rule != tc.rule || ok != (tc.rule != "") {
			t.Errorf("excludeInside(%s, %s) = %q, %v; want %q", tc.source, tc.dir, rule, ok, tc.rule)
		}
	}
}
