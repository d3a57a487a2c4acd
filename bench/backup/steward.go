package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/steward-ops/steward/bench/internal/proc"
)

// passwordEnv is the variable the plans name for their repository password;
// it is set in the worker's environment.
const passwordEnv = "STEWARD_BENCH_PASSWORD"

// worker is the one steward-worker of the bench, and the Temporal server it
// works for when that runs apart (-server separate).
type worker struct {
	bin     proc.Binaries
	addr    string
	logPath string
	// kopiaDir is where its kopia connection configs and caches go.
	kopiaDir string
	cmd      *exec.Cmd
	// server is `temporal server start-dev`, logging to serverLog; nil
	// when the server is embedded in the worker (--dev).
	server    *exec.Cmd
	serverLog string
}

// startWorker runs steward-worker, its log in dir/worker.log, with the
// plans' password in its environment and its user cache directory (where
// steward keeps kopia's caches) in dir. With temporal (the temporal CLI) it
// first starts `temporal server start-dev` on a new database in dir, runs
// `steward setup` against it and starts the worker without --dev connected
// to it; without, the worker runs with --dev, its embedded server on a new
// database in dir.
func startWorker(ctx context.Context, bin proc.Binaries, dir, temporal string) (*worker, error) {
	ports, err := proc.FreePorts(1)
	if err != nil {
		return nil, err
	}
	xdg := filepath.Join(dir, "xdg-cache")
	w := &worker{bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), logPath: filepath.Join(dir, "worker.log"),
		kopiaDir: filepath.Join(xdg, "steward", "kopia")}
	args := []string{"--host", "bench", "--metrics-addr", "127.0.0.1:0", "--cache-dir", filepath.Join(dir, "preheat-cache")}
	what := "steward-worker --dev"
	if temporal != "" {
		if err := w.startServer(ctx, temporal, dir, ports[0]); err != nil {
			return nil, err
		}
		args = append([]string{"--address", w.addr}, args...)
		what = "steward-worker --address " + w.addr
	} else {
		args = append([]string{"--dev", "--dev-db", filepath.Join(dir, "steward.db"),
			"--dev-port", fmt.Sprint(ports[0]), "--dev-ui-port", "-1"}, args...)
	}
	logf, err := os.Create(w.logPath)
	if err != nil {
		w.stop()
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	w.cmd = exec.CommandContext(ctx, bin.Worker, args...)
	w.cmd.Env = append(os.Environ(), passwordEnv+"="+password, "XDG_CACHE_HOME="+xdg)
	w.cmd.Stderr = logf
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		w.stop()
		return nil, err
	}
	if err := w.cmd.Start(); err != nil {
		w.cmd = nil
		w.stop()
		return nil, err
	}
	fmt.Printf("starting %s ...\n", what)
	if err := proc.WaitLine(io.TeeReader(stdout, logf), "worker ready", 2*time.Minute); err != nil {
		w.stop()
		return nil, fmt.Errorf("steward-worker (log: %s): %w", w.logPath, err)
	}
	return w, nil
}

// startServer runs `temporal server start-dev` without its Web UI on port
// of 127.0.0.1 and a new database in dir, its log in dir/temporal.log, waits
// until its default namespace answers, and registers steward's search
// attributes with `steward setup`.
func (w *worker) startServer(ctx context.Context, temporal, dir string, port int) error {
	w.serverLog = filepath.Join(dir, "temporal.log")
	logf, err := os.Create(w.serverLog)
	if err != nil {
		return err
	}
	defer logf.Close()
	// The HTTP API and metrics take random free ports.
	w.server = exec.CommandContext(ctx, temporal, "server", "start-dev", "--headless",
		"--ip", "127.0.0.1", "--port", fmt.Sprint(port), "--db-filename", filepath.Join(dir, "temporal.db"),
		"--log-level", "error")
	w.server.Stdout, w.server.Stderr = logf, logf
	fmt.Printf("starting temporal server start-dev on %s ...\n", w.addr)
	if err := w.server.Start(); err != nil {
		w.server = nil
		return fmt.Errorf("temporal server start-dev: %w", err)
	}
	if err := waitServer(ctx, temporal, w.addr, w.server.Process.Pid, time.Minute); err != nil {
		w.stop()
		return fmt.Errorf("temporal server start-dev (log: %s): %w", w.serverLog, err)
	}
	out, err := w.cli(ctx, "setup").CombinedOutput()
	if err != nil {
		w.stop()
		return fmt.Errorf("steward --address %s setup: %v\n%s", w.addr, err, proc.Clip(out))
	}
	fmt.Printf("  %s", out)
	return nil
}

// waitServer waits until the default namespace of the server at addr, the
// process pid, answers `temporal operator namespace describe`.
func waitServer(ctx context.Context, temporal, addr string, pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := exec.CommandContext(actx, temporal, "operator", "namespace", "describe",
			"--address", addr, "-n", "default", "-o", "none").Run()
		cancel()
		if err == nil {
			return nil
		}
		if state, serr := procState(pid); serr != nil || state == "Z" {
			return errors.New("it exited")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("its default namespace did not answer within %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop stops the worker, then the server.
func (w *worker) stop() {
	if w.cmd != nil {
		proc.Stop(w.cmd)
	}
	if w.server != nil {
		proc.Stop(w.server)
	}
}

func (w *worker) pid() int { return w.cmd.Process.Pid }

// cli is the steward CLI with args, talking to the worker's server.
func (w *worker) cli(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, w.bin.Steward, append([]string{"--address", w.addr}, args...)...)
}

// measure runs the steward CLI with args and measures the product path:
// CPU time is the CLI's plus what the worker used meanwhile; peak RSS is
// the worker's during the command. A separate server's CPU time and peak
// RSS over the command are recorded apart.
func (w *worker) measure(ctx context.Context, args ...string) (sample, []byte, error) {
	ww, err := watch(w.pid())
	if err != nil {
		return sample{}, nil, fmt.Errorf("steward-worker: %w", err)
	}
	var sw *watcher
	if w.server != nil {
		if sw, err = watch(w.server.Process.Pid); err != nil {
			_, _ = ww.stop()
			return sample{}, nil, fmt.Errorf("temporal server: %w", err)
		}
	}
	s, out, err := measure(w.cli(ctx, args...))
	wu, werr := ww.stop()
	var su usage
	var serr error
	if sw != nil {
		su, serr = sw.stop()
	}
	if err != nil {
		return s, nil, err
	}
	if werr != nil {
		return s, nil, fmt.Errorf("steward-worker: %w", werr)
	}
	if serr != nil {
		return s, nil, fmt.Errorf("temporal server: %w", serr)
	}
	s.CLICPU, s.CLIRSS = s.CPU, s.RSS
	s.WorkerCPU = wu.CPU
	s.CPU = s.CLICPU + s.WorkerCPU
	s.RSSBefore = wu.RSSBefore
	s.RSS = wu.Peak
	if sw != nil {
		s.ServerCPU, s.ServerRSS, s.ServerRSSBefore = su.CPU, su.Peak, su.RSSBefore
		s.CPUWithServer = s.CPU + s.ServerCPU
	}
	return s, out, nil
}

// stewardTool is steward's product path: a backup plan per round on the
// worker, triggered and restored with the steward CLI.
type stewardTool struct {
	w        *worker
	dir, src string
	plan     string // this round's plan ID
}

func (t *stewardTool) name() string     { return toolSteward }
func (t *stewardTool) base() string     { return filepath.Join(t.dir, "steward", t.plan) }
func (t *stewardTool) repoDir() string  { return filepath.Join(t.base(), "repo") }
func (t *stewardTool) cacheDir() string { return t.w.kopiaDir }

func (t *stewardTool) setup(ctx context.Context, round int) (time.Duration, error) {
	return t.apply(ctx, fmt.Sprintf("bench-%d", round+1), t.src)
}

// apply creates plan id over src with `steward plan apply`, its repository
// not created yet.
func (t *stewardTool) apply(ctx context.Context, id, src string) (time.Duration, error) {
	t.plan = id
	if err := os.MkdirAll(t.base(), 0o755); err != nil {
		return 0, err
	}
	file := filepath.Join(t.base(), "plan.yaml")
	if err := os.WriteFile(file, []byte(planYAML(id, src, t.repoDir())), 0o644); err != nil {
		return 0, err
	}
	s, out, err := measure(t.w.cli(ctx, "plan", "apply", "-f", file))
	if err != nil {
		return 0, err
	}
	if !strings.Contains(string(out), "created "+id) {
		return 0, fmt.Errorf("steward plan apply -f %s did not create plan %s:\n%s", file, id, proc.Clip(out))
	}
	return s.Wall, nil
}

// planYAML is a backup plan that never runs on its own: every run is
// triggered. A failure fails the bench instead of a retry slowing a run.
func planYAML(id, src, repo string) string {
	return fmt.Sprintf(`plans:
  - id: %s
    kind: backup
    schedule: {cron: "0 0 29 2 *"}   # 29 February only: runs are triggered
    retry:
      activity: {max_attempts: 1}
      run: {max_retries: 0}
    backup:
      source: %q
      repository: %q
      password_env: %s
`, id, src, repo, passwordEnv)
}

// runRecord is the part of `steward trigger --wait -o json` read here.
type runRecord struct {
	Run *struct {
		ID         string     `json:"id"`
		Started    time.Time  `json:"started"`
		Finished   *time.Time `json:"finished"`
		Outcome    string     `json:"outcome"`
		SnapshotID string     `json:"snapshot_id"`
		Files      int64      `json:"files"`
		Bytes      int64      `json:"bytes"`
		Uploaded   int64      `json:"uploaded"`
	} `json:"run"`
}

func (t *stewardTool) backup(ctx context.Context) (sample, error) {
	s, out, err := t.w.measure(ctx, "trigger", t.plan, "--wait", "-o", "json")
	if err != nil {
		return s, err
	}
	var rec runRecord
	if err := json.Unmarshal(out, &rec); err != nil {
		return s, fmt.Errorf("steward trigger %s --wait -o json: %v\n%s", t.plan, err, proc.Clip(out))
	}
	r := rec.Run
	if r == nil || r.Finished == nil || r.Outcome != "succeeded" {
		return s, fmt.Errorf("steward trigger %s --wait -o json: no succeeded run in its output:\n%s", t.plan, proc.Clip(out))
	}
	s.Run = r.Finished.Sub(r.Started)
	s.Files, s.Bytes, s.Uploaded, s.Snapshot = r.Files, r.Bytes, r.Uploaded, r.SnapshotID
	return s, nil
}

// restoreReport is the part of `steward restore --wait -o json` read here.
type restoreReport struct {
	Report *struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
		Files int64     `json:"files"`
		Bytes int64     `json:"bytes"`
	} `json:"report"`
	Error *string `json:"error"`
}

func (t *stewardTool) restore(ctx context.Context, target string) (sample, string, error) {
	s, out, err := t.w.measure(ctx, "restore", t.plan, "--target", target, "--wait", "-o", "json")
	if err != nil {
		return s, "", err
	}
	var rep restoreReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return s, "", fmt.Errorf("steward restore %s --wait -o json: %v\n%s", t.plan, err, proc.Clip(out))
	}
	if rep.Report == nil || rep.Error != nil {
		return s, "", fmt.Errorf("steward restore %s --wait -o json: no report in its output:\n%s", t.plan, proc.Clip(out))
	}
	s.Run = rep.Report.End.Sub(rep.Report.Start)
	s.Files, s.Bytes = rep.Report.Files, rep.Report.Bytes
	return s, target, nil
}

// teardown removes the round's plan, its repository and steward's kopia
// caches.
func (t *stewardTool) teardown(ctx context.Context) error {
	if _, _, err := measure(t.w.cli(ctx, "plan", "rm", t.plan)); err != nil {
		return err
	}
	if err := os.RemoveAll(t.base()); err != nil {
		return err
	}
	return os.RemoveAll(t.cacheDir())
}
