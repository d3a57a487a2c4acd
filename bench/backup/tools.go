package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/steward-ops/steward/bench/internal/proc"
	"github.com/steward-ops/steward/internal/snapshot"
)

// password encrypts every repository of the bench.
const password = "steward-bench-password"

// tool is one backup program under test. Each round it gets a fresh
// repository (setup), takes backups of the data set into it, restores the
// latest one, and removes it all again (teardown).
type tool interface {
	name() string
	// setup makes the round's fresh repository (or plan), outside the
	// timings, and returns how long that took.
	setup(ctx context.Context, round int) (time.Duration, error)
	backup(ctx context.Context) (sample, error)
	// restore restores the latest snapshot into target, a directory that
	// does not exist yet, and returns the directory of target that holds
	// the data set.
	restore(ctx context.Context, target string) (sample, string, error)
	repoDir() string
	cacheDir() string
	teardown(ctx context.Context) error
}

// sample is one timed command.
type sample struct {
	Round   int           `json:"round"`
	LoadAvg string        `json:"loadavg"` // just before the command
	Wall    time.Duration `json:"wall_ns"`
	CPU     time.Duration `json:"cpu_ns"`
	RSS     int64         `json:"peak_rss_bytes"`
	// After a backup: the repository's size, and the tool's cache's.
	Repo  int64 `json:"repo_bytes,omitempty"`
	Cache int64 `json:"cache_bytes,omitempty"`
	// Init is the round's setup (initial case only), not in Wall.
	Init time.Duration `json:"init_ns,omitempty"`
	// steward only: CPU = WorkerCPU + CLICPU; RSS is the worker's.
	WorkerCPU time.Duration `json:"worker_cpu_ns,omitempty"`
	CLICPU    time.Duration `json:"cli_cpu_ns,omitempty"`
	CLIRSS    int64         `json:"cli_peak_rss_bytes,omitempty"`
	RSSBefore int64         `json:"worker_rss_before_bytes,omitempty"`
	// steward with -server separate only: the server's CPU time and
	// peak RSS over the command (in CPU and RSS with -server embedded),
	// and CPUWithServer = CPU + ServerCPU.
	ServerCPU       time.Duration `json:"server_cpu_ns,omitempty"`
	ServerRSS       int64         `json:"server_peak_rss_bytes,omitempty"`
	ServerRSSBefore int64         `json:"server_rss_before_bytes,omitempty"`
	CPUWithServer   time.Duration `json:"cpu_with_server_ns,omitempty"`
	// steward only, from the run's record or the restore's report.
	Run      time.Duration `json:"run_ns,omitempty"`
	Files    int64         `json:"files,omitempty"`
	Bytes    int64         `json:"bytes,omitempty"`
	Uploaded int64         `json:"uploaded_bytes,omitempty"`
	Snapshot string        `json:"snapshot_id,omitempty"`
}

// measure runs cmd and returns its wall time (exec to exit), CPU time and
// peak RSS (its rusage), and its standard output.
func measure(cmd *exec.Cmd) (sample, []byte, error) {
	var stdout bytes.Buffer
	var stderr proc.LimitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, nil, fmt.Errorf("%s: %v\n%s%s", strings.Join(cmd.Args, " "), err, proc.Clip(stdout.Bytes()), stderr.String())
	}
	ps := cmd.ProcessState
	s := sample{Wall: wall, CPU: ps.UserTime() + ps.SystemTime()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		s.RSS = ru.Maxrss << 10 // KiB on Linux
	}
	return s, stdout.Bytes(), nil
}

// kopiaTool is the kopia CLI, with its own config file, cache and logs
// under dir/kopia/ROUND.
type kopiaTool struct {
	bin, dir, src string
	base          string // this round's directory
}

func (t *kopiaTool) name() string     { return toolKopia }
func (t *kopiaTool) repoDir() string  { return filepath.Join(t.base, "repo") }
func (t *kopiaTool) cacheDir() string { return filepath.Join(t.base, "cache") }

func (t *kopiaTool) cmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, t.bin, append([]string{
		"--config-file", filepath.Join(t.base, "repository.config"), "--log-dir", filepath.Join(t.base, "logs"),
		"--no-progress", "--no-auto-maintenance",
	}, args...)...)
	cmd.Env = append(os.Environ(), "KOPIA_PASSWORD="+password, "KOPIA_CHECK_FOR_UPDATES=false")
	return cmd
}

func (t *kopiaTool) setup(ctx context.Context, round int) (time.Duration, error) {
	t.base = filepath.Join(t.dir, "kopia", fmt.Sprint(round+1))
	var d time.Duration
	for _, args := range [][]string{
		{"repository", "create", "filesystem", "--path", t.repoDir(), "--cache-directory", t.cacheDir()},
		{"policy", "set", "--global", "--compression", snapshot.Compressor},
	} {
		s, _, err := measure(t.cmd(ctx, args...))
		if err != nil {
			return 0, err
		}
		d += s.Wall
	}
	return d, nil
}

func (t *kopiaTool) backup(ctx context.Context) (sample, error) {
	s, _, err := measure(t.cmd(ctx, "snapshot", "create", t.src))
	return s, err
}

func (t *kopiaTool) restore(ctx context.Context, target string) (sample, string, error) {
	// A source path restores its latest snapshot.
	s, _, err := measure(t.cmd(ctx, "snapshot", "restore", t.src, target))
	return s, target, err
}

func (t *kopiaTool) teardown(context.Context) error { return os.RemoveAll(t.base) }

// resticTool is restic, with its repository and cache under
// dir/restic/ROUND.
type resticTool struct {
	bin, dir, src string
	base          string // this round's directory
	// version is the repository format restic cat config reports.
	version int
}

func (t *resticTool) name() string     { return toolRestic }
func (t *resticTool) repoDir() string  { return filepath.Join(t.base, "repo") }
func (t *resticTool) cacheDir() string { return filepath.Join(t.base, "cache") }

func (t *resticTool) cmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, t.bin, append(args, "--repo", t.repoDir(), "--cache-dir", t.cacheDir(), "--quiet")...)
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+password)
	return cmd
}

func (t *resticTool) setup(ctx context.Context, round int) (time.Duration, error) {
	t.base = filepath.Join(t.dir, "restic", fmt.Sprint(round+1))
	s, _, err := measure(t.cmd(ctx, "init", "--repository-version", "2"))
	if err != nil {
		return 0, err
	}
	_, out, err := measure(t.cmd(ctx, "cat", "config"))
	if err != nil {
		return 0, err
	}
	var cfg struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		return 0, fmt.Errorf("restic cat config: %v\n%s", err, proc.Clip(out))
	}
	t.version = cfg.Version
	return s.Wall, nil
}

func (t *resticTool) backup(ctx context.Context) (sample, error) {
	s, _, err := measure(t.cmd(ctx, "backup", "--compression", "auto", t.src))
	return s, err
}

func (t *resticTool) restore(ctx context.Context, target string) (sample, string, error) {
	s, _, err := measure(t.cmd(ctx, "restore", "latest", "--target", target))
	// restic restores the backed-up directory under its absolute path.
	return s, filepath.Join(target, t.src), err
}

func (t *resticTool) teardown(context.Context) error { return os.RemoveAll(t.base) }
