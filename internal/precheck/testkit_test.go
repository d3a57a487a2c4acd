package precheck_test

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/steward-ops/steward/internal/precheck"
)

// mount mounts a file system on dir for the test, or skips the test when
// this process may not mount (not root, no CAP_SYS_ADMIN in a container).
func mount(t *testing.T, source, dir, fstype string, flags uintptr, data string) {
	t.Helper()
	what := fstype
	if flags&unix.MS_BIND != 0 {
		what = "a bind mount of " + source
	}
	if err := unix.Mount(source, dir, fstype, flags, data); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			t.Skipf("cannot mount %s on %s here (%v): run the tests as root to check real mounts", what, dir, err)
		}
		t.Fatalf("mount %s on %s: %v", what, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// lookPath returns where the command runs name from, as its reasons say.
func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: %v", name, err)
	}
	return p
}

// pids reads the process IDs a hook printed, one a line.
func pids(t *testing.T, output string) []int {
	t.Helper()
	var out []int
	for _, line := range strings.Fields(output) {
		pid, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("hook output %q: want process IDs, one a line", output)
		}
		out = append(out, pid)
	}
	if len(out) == 0 {
		t.Fatalf("hook printed no process ID")
	}
	return out
}

// waitGone waits until process pid has ended (a zombie counts: it runs no
// more, and reaping it is its new parent's business), failing the test
// after a while.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || zombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) S ...: comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

func wantResult(t *testing.T, got precheck.Result, verdict precheck.Verdict, reason string) {
	t.Helper()
	if got.Verdict != verdict || got.Reason != reason {
		t.Errorf("result = %v %q, want %v %q (output %q)", got.Verdict, got.Reason, verdict, reason, got.Output)
	}
}
