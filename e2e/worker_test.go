package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkerStartErrors: a busy port, an unusable database path, a database
// already in use and a broken plan file each stop the worker with a clear
// error, and nothing is left running.
func TestWorkerStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	badPlans := filepath.Join(dir, "plans.yaml")
	if err := os.WriteFile(badPlans, []byte("plans:\n  - id: x\n    kind: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"busy frontend port", []string{"--dev-port", fmt.Sprint(busyPort)}, fmt.Sprintf("listen 127.0.0.1:%d: port already in use", busyPort)},
		{"busy UI port", []string{"--dev-ui-port", fmt.Sprint(busyPort)}, fmt.Sprintf("listen 127.0.0.1:%d: port already in use", busyPort)},
		{"database under a file", []string{"--dev-db", filepath.Join(file, "steward.db")}, "is not a directory"},
		{"missing database directory", []string{"--dev-db", filepath.Join(dir, "nope", "steward.db")}, "nope: no such file or directory"},
		{"bad plan file", []string{"--plans", badPlans}, `plans[0].kind: unknown kind "nope"`},
		{"missing plan file", []string{"--plans", filepath.Join(dir, "missing.yaml")}, "missing.yaml: no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--dev", "--dev-db", filepath.Join(t.TempDir(), "s.db"),
				"--dev-port", fmt.Sprint(freePort(t)), "--dev-ui-port", fmt.Sprint(freePort(t))}
			out, err := exec.Command(workerBin, append(args, tc.args...)...).CombinedOutput()
			if err == nil {
				t.Fatalf("worker started:\n%s", out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("worker output:\n%s\nwant %q", out, tc.want)
			}
		})
	}

	t.Run("database in use", func(t *testing.T) {
		s := newStack(t)
		s.start()
		out, err := exec.Command(workerBin, "--dev", "--dev-db", s.db, "--dev-port", fmt.Sprint(freePort(t)),
			"--dev-ui-port", fmt.Sprint(freePort(t))).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "is in use by another process") {
			t.Fatalf("second worker on the same database: %v\n%s", err, out)
		}
	})
}

// TestWorkerShutsDownOnSIGTERMAndConnectsWithoutDev: a second worker joins
// the first one's server with the temporal CLI's environment variables; both
// stop cleanly on SIGTERM/SIGINT, and the database opens again afterwards.
func TestWorkerShutsDownOnSIGTERMAndConnectsWithoutDev(t *testing.T) {
	s := newStack(t)
	s.start()

	other := exec.Command(workerBin, "--host", "other", "--metrics-addr", "127.0.0.1:0")
	other.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+s.addr(), "TEMPORAL_NAMESPACE=default")
	var out lockedBuffer
	other.Stdout, other.Stderr = &out, &out
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the second worker to be ready", func() bool {
		return strings.Contains(out.String(), "worker ready on host other, task queues steward, steward@other")
	})
	if err := other.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(other, 30*time.Second); err != nil {
		t.Fatalf("second worker after SIGINT: %v\n%s", err, out.String())
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("worker still running 30s after SIGTERM:\n%s", s.out.String())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("worker exit code after SIGTERM = %d:\n%s", code, s.out.String())
	}
	if !strings.Contains(s.out.String(), "shutting down") {
		t.Fatalf("worker output after SIGTERM:\n%s", s.out.String())
	}
	s.cmd = nil
	s.start() // the lock was released
}

func waitExit(cmd *exec.Cmd, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		return fmt.Errorf("still running after %v", timeout)
	}
}
