package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/workflows/api"
)

// Binaries built once for the package by TestMain.
var (
	workerBin   string
	stewardBin  string
	temporalBin string
	// kopiaBin is the kopia CLI (make test builds it), or "".
	kopiaBin string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "steward-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	workerBin = filepath.Join(dir, "steward-worker")
	stewardBin = filepath.Join(dir, "steward")
	for bin, pkg := range map[string]string{workerBin: "../worker", stewardBin: "../starter"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			return 1
		}
	}
	temporalBin = findTool("temporal")
	kopiaBin = findTool("kopia")
	return m.Run()
}

// findTool looks for a command on PATH and in GOBIN/GOPATH/bin, where `go
// install github.com/temporalio/cli/cmd/temporal@v1.5.1` puts the temporal
// CLI and make test the kopia CLI.
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, d := range lines {
		if d == "" {
			continue
		}
		if i == 1 {
			d = filepath.Join(strings.Split(d, string(os.PathListSeparator))[0], "bin")
		}
		if p := filepath.Join(d, name); isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// stack is one steward worker with its embedded Temporal server, run as a
// child process on a SQLite file that outlives the process.
type stack struct {
	t      *testing.T
	dir    string
	db     string
	port   int
	uiPort int
	// metricsPort serves the worker's /metrics, /healthz and /readyz
	// (start; other workers serve them on a port of their own choosing).
	metricsPort int
	env         []string

	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

func newStack(t *testing.T, env ...string) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{
		t:           t,
		dir:         dir,
		db:          filepath.Join(dir, "steward.db"),
		port:        freePort(t),
		uiPort:      freePort(t),
		metricsPort: freePort(t),
		env:         env,
	}
	t.Cleanup(s.kill)
	return s
}

func (s *stack) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// cacheDir is the preheat cache of the stack's worker (host e2e).
func (s *stack) cacheDir() string { return filepath.Join(s.dir, "cache-e2e") }

// start runs the worker with its embedded server and waits until it says
// it is ready.
func (s *stack) start(extra ...string) {
	s.t.Helper()
	s.startArgs(append([]string{"--dev", "--dev-db", s.db, "--dev-port", fmt.Sprint(s.port),
		"--dev-ui-port", fmt.Sprint(s.uiPort), "--host", "e2e", "--cache-dir", s.cacheDir(),
		"--metrics-addr", s.metricsAddr()}, extra...))
}

// metricsAddr is where start's worker serves metrics and health.
func (s *stack) metricsAddr() string { return fmt.Sprintf("127.0.0.1:%d", s.metricsPort) }

// startArgs runs the worker with args and waits until it says it is ready.
func (s *stack) startArgs(args []string) {
	s.t.Helper()
	s.out = &lockedBuffer{}
	s.cmd, s.done = launchWorker(s.t, "worker", args, s.env, s.out)
}

// launchWorker starts the worker binary with args and env, its output going
// to out, and waits until it says it is ready; done closes when it exits.
func launchWorker(t *testing.T, name string, args, env []string, out *lockedBuffer) (*exec.Cmd, chan struct{}) {
	t.Helper()
	if !slices.Contains(args, "--metrics-addr") {
		// Not the default port: tests run side by side.
		args = append(args, "--metrics-addr", "127.0.0.1:0")
	}
	cmd := exec.Command(workerBin, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(out, pw)
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "worker ready") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(done)
	}()
	select {
	case <-ready:
	case <-done:
		t.Fatalf("%s exited before it was ready:\n%s", name, out.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s not ready after 2m:\n%s", name, out.String())
	}
	return cmd, done
}

// kill9 kills the worker (and so its embedded server) without warning.
func (s *stack) kill9() {
	s.t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

func (s *stack) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
		if s.t.Failed() {
			s.t.Logf("worker output:\n%s", s.out.String())
		}
	}
}

// steward runs the steward CLI against this stack.
func (s *stack) steward(args ...string) (string, error) {
	cmd := exec.Command(stewardBin, append([]string{"--address", s.addr()}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// mustSteward runs the steward CLI and fails the test if it fails.
func (s *stack) mustSteward(args ...string) string {
	s.t.Helper()
	out, err := s.steward(args...)
	if err != nil {
		s.t.Fatalf("steward %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// temporal runs the real temporal CLI against this stack.
func (s *stack) temporal(args ...string) (string, error) {
	cmd := exec.Command(temporalBin, append(args, "--address", s.addr(), "--namespace", "default")...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (s *stack) client() client.Client {
	s.t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.addr(), Logger: quietLogger()})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(c.Close)
	return c
}

func (s *stack) status(c client.Client, id string) api.Status {
	s.t.Helper()
	st, err := tryStatus(c, id)
	if err != nil {
		s.t.Fatalf("status of %s: %v", id, err)
	}
	return st
}

// tryStatus queries a plan's status; right after a restart a query may
// fail until the worker has reconnected.
func tryStatus(c client.Client, id string) (api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return control.Status(ctx, c, id)
}

// tryLedger queries a plan's whole ledger.
func tryLedger(c client.Client, id string) ([]api.LedgerEntry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return control.Ledger(ctx, c, id, 0)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// writeTree writes files (path -> content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writePlans writes a plan file into the stack's directory.
func (s *stack) writePlans(yaml string) string {
	s.t.Helper()
	p := filepath.Join(s.dir, fmt.Sprintf("plans-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

func quietLogger() sdklog.Logger { return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }

// needKopia skips the test when the kopia CLI is not installed, or fails it
// in CI, where make test builds it.
func needKopia(t *testing.T) {
	t.Helper()
	if kopiaBin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("the kopia CLI is not installed: make test builds it")
		}
		t.Skip("the kopia CLI is not installed: make test builds it")
	}
}

// kopiaCLI is the kopia CLI with a config, cache and logs of its own,
// connected to one repository.
type kopiaCLI struct {
	t        *testing.T
	dir      string
	password string // KOPIA_PASSWORD of every command
}

// connectKopia connects the kopia CLI to the filesystem repository repo.
func connectKopia(t *testing.T, repo, password string) *kopiaCLI {
	t.Helper()
	needKopia(t)
	k := &kopiaCLI{t: t, dir: t.TempDir(), password: password}
	k.run("repository", "connect", "filesystem", "--path", repo)
	return k
}

// run runs kopia with args and returns its output; the test fails if it
// fails.
func (k *kopiaCLI) run(args ...string) string {
	k.t.Helper()
	cmd := exec.Command(kopiaBin, append(args, "--config-file", filepath.Join(k.dir, "kopia.config"))...)
	cmd.Env = append(os.Environ(), "KOPIA_PASSWORD="+k.password, "KOPIA_CACHE_DIRECTORY="+filepath.Join(k.dir, "cache"),
		"KOPIA_LOG_DIR="+filepath.Join(k.dir, "logs"), "KOPIA_CHECK_FOR_UPDATES=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		k.t.Fatalf("kopia %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
