// Command backup measures steward's backup path against restic and the kopia
// CLI, in one run on one machine, on a synthetic data set it writes itself
// from a seed: by default 20,000 small files (1-64 KiB, about 100 per
// directory) and 12 large ones, about 2 GiB in all, a third each text-like
// (highly compressible), random (incompressible) and half of each.
//
// Each round gives every tool a fresh, empty repository and runs the cases in
// order, each tool in turn (the order rotating from round to round), with a
// sync of the file system before every timed command:
//
//   - initial: a full backup of the data set. Targets: steward's CPU <= 0.9x
//     the kopia CLI's, its repository <= 1.02x kopia's, its wall time <= 0.6x
//     restic's.
//   - no-change: a second backup right after, nothing changed. Targets:
//     wall time <= 0.35x restic's and <= 1.0x kopia's.
//   - change-5pct: 5% of the files partly rewritten and a few new files (the
//     same change for every tool), then a third backup. No target.
//   - restore: the latest snapshot into an empty directory, then compared
//     with the source (file list, sizes, sha256 of every file); any
//     difference fails the bench. Target: wall time <= 1.0x restic's.
//   - memory: the worker's RSS 60 s after the initial backup of the last
//     round within 50 MiB of its RSS before that backup (-no-settle skips
//     the wait); its peak during the initial backup <= 1.5x the kopia CLI's.
//
// The data set is restored to its original content after each round.
//
// steward runs the product path: one steward-worker for the whole bench, a
// backup plan per round applied with `steward plan apply`, each backup a
// `steward trigger PLAN --wait`, each restore a `steward restore PLAN --target
// DIR --wait`. Where its Temporal server runs is -server:
//
//   - separate (the default): the temporal CLI's dev server (`temporal
//     server start-dev --headless` on a new SQLite file; the CLI from
//     -temporal, by default $(go env GOPATH)/bin/temporal where make test
//     installs it) in a process of its own, `steward setup` run against it
//     once, and `steward-worker` without --dev connected to it, built
//     without the embedded server (-tags nodev) as the Dockerfile builds it. steward's compared
//     CPU time is the worker's, read from /proc, plus the CLI's; its
//     compared memory is the worker's. The server's CPU time and peak RSS
//     over each timed command are recorded next to them (server_cpu_ns,
//     server_peak_rss_bytes), and the summary also shows steward's CPU with
//     the server's added (cpu_with_server_ns), so the server's cost stays
//     visible though restic and kopia need none.
//   - embedded: `steward-worker --dev`, the Temporal server embedded in the
//     worker's process, as a single-machine install runs it. Its CPU time
//     and memory are then the worker's with the server's included, and no
//     server figures are recorded apart.
//
// restic (repository format 2, --compression auto) and the kopia CLI (global
// policy --compression zstd-fastest, as steward's snapshots) are measured by
// their own rusage. Wall time is from exec to exit of the command. Medians of
// the rounds are compared, as steward's over the peer's (below 1 means
// steward does better).
//
//	go run ./bench/backup        # ~15-25 minutes; needs ~10 GiB free in $TMPDIR (or -dir)
//	go run ./bench/backup -runs 1 -size 64MiB -small 500 -large 2 -no-settle -out /tmp/backup-smoke.json   # smoke run
//	go run ./bench/backup -steward /tmp/steward -worker /tmp/sw -restic /usr/bin/restic -keep
//	go run ./bench/backup -server embedded   # the worker with its embedded server, as measured before
//
// Results go to bench/results/backup.json, a summary to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/steward-ops/steward/bench/internal/proc"
	"github.com/steward-ops/steward/internal/plan"
)

type options struct {
	steward, worker string
	kopia, restic   string
	server          string // serverSeparate or serverEmbedded
	temporal        string // the temporal CLI, for -server separate
	dir             string
	keep            bool
	out             string
	runs            int
	seed            uint64
	small, large    int
	size            int64 // the whole data set, approximately
	noSettle        bool
}

// settleWait is how long after the last initial backup the worker's RSS is
// read again.
const settleWait = 60 * time.Second

// Values of -server: where steward's Temporal server runs.
const (
	serverSeparate = "separate"
	serverEmbedded = "embedded"
)

func main() {
	var o options
	var size string
	flag.StringVar(&o.steward, "steward", "", "steward CLI binary (default: go build ./starter)")
	flag.StringVar(&o.worker, "worker", "", "steward-worker binary (default: go build ./worker)")
	flag.StringVar(&o.kopia, "kopia", "", "kopia CLI binary (default: $(go env GOPATH)/bin/kopia, where make kopia-cli puts it)")
	flag.StringVar(&o.restic, "restic", "restic", "restic binary")
	flag.StringVar(&o.server, "server", serverSeparate, "where steward's Temporal server runs: separate (temporal server start-dev in its own process; the worker's cost is compared, the server's recorded apart) or embedded (steward-worker --dev; the worker's cost includes the server's)")
	flag.StringVar(&o.temporal, "temporal", "", "temporal CLI binary for -server separate (default: $(go env GOPATH)/bin/temporal)")
	flag.StringVar(&o.dir, "dir", "", "where to make the work directory for the data set, repositories and restores (default: $TMPDIR)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (worker.log, data set) instead of removing it")
	flag.StringVar(&o.out, "out", "bench/results/backup.json", "results file")
	flag.IntVar(&o.runs, "runs", 3, "rounds of every case (the median is compared; use at least 3 for real figures)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the data set and of the 5% change")
	flag.IntVar(&o.small, "small", 20000, "number of small files (1-64 KiB)")
	flag.IntVar(&o.large, "large", 12, "number of large files, sharing what -size leaves after the small ones")
	flag.StringVar(&size, "size", "2GiB", "approximate size of the data set")
	flag.BoolVar(&o.noSettle, "no-settle", false, "skip the 60 s wait before reading the worker's RSS after the last initial backup")
	flag.Parse()
	n, err := plan.ParseSize(size)
	if err != nil || n == 0 {
		fmt.Fprintf(os.Stderr, "backup: -size %q: want a size like 2GiB\n", size)
		os.Exit(2)
	}
	o.size = int64(n)
	if o.runs < 1 || o.small < 0 || o.large < 0 || o.small+o.large == 0 {
		fmt.Fprintln(os.Stderr, "backup: -runs must be at least 1, -small and -large at least 0 and not both 0")
		os.Exit(2)
	}
	if o.server != serverSeparate && o.server != serverEmbedded {
		fmt.Fprintf(os.Stderr, "backup: -server %q: want %s or %s\n", o.server, serverSeparate, serverEmbedded)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "backup:", err)
		os.Exit(1)
	}
}

// Tool names, as used in the results file.
const (
	toolSteward = "steward"
	toolKopia   = "kopia"
	toolRestic  = "restic"
)

// Case names, in the order they run.
const (
	caseInitial  = "initial"
	caseNoChange = "no-change"
	caseChange   = "change-5pct"
	caseRestore  = "restore"
)

type result struct {
	Date     time.Time          `json:"date"`
	Machine  machine            `json:"machine"`
	Options  map[string]any     `json:"options"`
	Data     dataInfo           `json:"data"`
	Cases    map[string]*caseRs `json:"cases"`
	Settle   *settle            `json:"worker_rss_settle,omitempty"`
	Targets  []targetRs         `json:"targets"`
	Summary  []string           `json:"summary"`
	Comments []string           `json:"comments"`
}

func run(ctx context.Context, o options) error {
	kopia, err := gopathBin(ctx, "kopia", o.kopia, "make kopia-cli builds it")
	if err != nil {
		return err
	}
	var temporal string
	if o.server == serverSeparate {
		if temporal, err = gopathBin(ctx, "temporal", o.temporal, "go install github.com/temporalio/cli/cmd/temporal@v1.5.1, or -server embedded"); err != nil {
			return err
		}
	}
	resticBin, err := exec.LookPath(o.restic)
	if err != nil {
		return fmt.Errorf("restic (-restic %s) is not installed; it is a peer of this benchmark: %w", o.restic, err)
	}

	if o.dir != "" {
		if err := os.MkdirAll(o.dir, 0o755); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp(o.dir, "steward-bench-backup-")
	if err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work directory (kept):", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	ds, err := planData(filepath.Join(dir, "data"), o.seed, o.small, o.large, o.size)
	if err != nil {
		return err
	}
	// The data set; three repositories (the incompressible third stays as
	// it is), one restore at a time, caches.
	need := 4*ds.bytes + 1<<30
	free, err := proc.FreeBytes(dir)
	if err != nil {
		return err
	}
	fmt.Printf("work directory %s: %s free, ~%s needed\n", dir, gib(free), gib(need))
	if free < need {
		return fmt.Errorf("not enough disk space in %s: %s free, ~%s needed (use -dir elsewhere, or a smaller -size / -small)", dir, gib(free), gib(need))
	}

	// Apart from its server, the worker is the one a deployment runs: built
	// without the embedded server, as the Dockerfile builds it.
	var workerTags []string
	if o.server == serverSeparate {
		workerTags = []string{"nodev"}
	}
	bin, err := proc.BuildBinaries(ctx, o.steward, o.worker, dir, workerTags...)
	if err != nil {
		return err
	}
	res := result{
		Date:    time.Now().UTC(),
		Machine: machineInfo(ctx, free, bin, kopia, resticBin),
		Options: map[string]any{"runs": o.runs, "seed": o.seed, "small": o.small, "large": o.large, "size": o.size,
			"no_settle": o.noSettle, "kopia": kopia, "restic": resticBin, "server": o.server},
	}
	if temporal != "" {
		res.Options["temporal"] = temporal
		res.Machine.Temporal = temporalVersion(temporal)
	}

	fmt.Printf("writing the data set (%d small + %d large files, %s) ...\n", o.small, o.large, gib(ds.bytes))
	start := time.Now()
	if err := ds.write(); err != nil {
		return err
	}
	fmt.Printf("  done in %v\n", time.Since(start).Round(time.Millisecond))
	res.Data = ds.info()

	w, err := startWorker(ctx, bin, dir, temporal)
	if err != nil {
		return err
	}
	defer w.stop()

	st := &stewardTool{w: w, dir: dir, src: ds.root}
	restic := &resticTool{bin: resticBin, dir: dir, src: ds.root}
	b := &bench{
		o:     o,
		dir:   dir,
		ds:    ds,
		st:    st,
		tools: []tool{st, &kopiaTool{bin: kopia, dir: dir, src: ds.root}, restic},
		cases: map[string]*caseRs{},
	}
	if err := b.warmUp(ctx); err != nil {
		return err
	}
	if err := b.rounds(ctx); err != nil {
		return err
	}
	res.Cases = b.cases
	res.Settle = b.settle
	res.Data.Change = b.change
	res.Machine.LoadAvgEnd = proc.LoadAvg()
	res.Machine.ResticRepoVersion = restic.version

	res.Targets = checkTargets(res.Cases, res.Settle)
	res.Summary = summarize(res.Cases, res.Settle, res.Targets, w.server != nil)
	res.Comments = comments(o)
	fmt.Println()
	for _, s := range res.Summary {
		fmt.Println(s)
	}
	if o.keep {
		fmt.Println("worker log:", w.logPath)
		if w.server != nil {
			fmt.Println("server log:", w.serverLog)
		}
	}
	if err := proc.WriteJSON(o.out, res); err != nil {
		return err
	}
	fmt.Println("results:", o.out)
	return nil
}

// comments explain how the figures were taken, for the results file.
func comments(o options) []string {
	serverCPU, serverRSS := "everything the worker did meanwhile, the embedded Temporal server's work included (-server embedded: steward-worker --dev)", "embedded server included"
	if o.server == serverSeparate {
		serverCPU, serverRSS = "everything the worker did meanwhile; the Temporal server runs in its own process (-server separate), its CPU time is server_cpu_ns, not in cpu_ns", "alone: the server's is server_peak_rss_bytes"
	}
	c := []string{
		"ratios are steward's median over the peer's median, so below 1 means steward uses less time, CPU, disk or memory",
		"wall_ns is from exec to exit of the timed command; steward's is `steward trigger PLAN --wait -o json` (or `steward restore PLAN --target DIR --wait -o json`): the CLI dialing the server, the plan's trigger Update, the run workflow and its activities, and the CLI waiting for the run workflow's end (one long poll) and then for the plan's record of it; run_ns is the run from its record (started to finished)",
		"cpu_ns is user+system time: for restic and kopia the process's rusage; for steward the worker's CPU time over the command from /proc/PID/stat (worker_cpu_ns: " + serverCPU + ") plus the CLI's rusage (cli_cpu_ns)",
		"peak_rss_bytes is the peak resident set: for restic and kopia the process's rusage maxrss; for steward the worker's (" + serverRSS + "), its VmHWM reset through /proc/PID/clear_refs before the command and read after it, or the highest VmRSS sampled every 50 ms if that is higher; worker_rss_before_bytes is its VmRSS before the command",
		"repo_bytes is the apparent size of the repository's files after the backup; caches (cache_bytes) live outside the repositories, a fresh one per tool and round",
		"each round creates fresh repositories outside the timings: restic init --repository-version 2, kopia repository create filesystem + kopia policy set --global --compression zstd-fastest, and for steward a new plan (its first run creates the repository, inside the timing); init_ns records that setup",
		"compression: steward and the kopia CLI use kopia's zstd-fastest; restic 0.14 offers only --compression auto|off|max, and auto (used here, its default) is zstd at its default level, which compresses text somewhat harder and slower than zstd-fastest",
		"kopia runs with --no-auto-maintenance, and steward's maintenance timers (1 h after a plan is created) do not come due within a round: no tool runs repository maintenance inside a timed command",
		"steward's snapshots also list extensions never to compress (.gz, .zip, .jpg, ...); the data set uses none of them, so the kopia CLI's policy compresses the same files",
		"the data set is written before the worker starts and stays in the page cache (page cache dropping needs root, which the bench does not assume): every tool reads it from memory; the file system is synced before every timed command, outside the timing",
		"restore targets are new empty directories; restic restores the source's absolute path under the target, which the comparison accounts for",
		"one steward run warms up the worker (a plan over a tiny source, a backup and a restore) before the first round; it is not counted",
	}
	if o.server == serverSeparate {
		c = append(c,
			"-server separate: steward's Temporal server is the temporal CLI's `temporal server start-dev --headless` (machine.temporal; SQLite file, its own default dynamic config rather than the embedded server's) in its own process on 127.0.0.1, steward's search attributes registered with `steward setup`, and steward-worker runs without --dev connected to it; restic and kopia need no server",
			"server_cpu_ns and server_peak_rss_bytes are the server process's CPU time (from /proc/PID/stat) and peak resident set (measured like the worker's) over each timed steward command, including whatever background work it did meanwhile; server_rss_before_bytes is its VmRSS before the command; cpu_with_server_ns is cpu_ns + server_cpu_ns, and its ratio in ratios is over the peer's cpu_ns; no target uses them")
	}
	if o.runs < 3 {
		c = append(c, fmt.Sprintf("only %d round(s): the medians are not meaningful figures", o.runs))
	}
	if o.noSettle {
		c = append(c, "-no-settle: the worker's RSS was not read 60 s after the last initial backup")
	}
	return c
}

// gopathBin returns the binary name to run: flagged (the -NAME flag), or
// GOPATH/bin/NAME; hint says how to get it.
func gopathBin(ctx context.Context, name, flagged, hint string) (string, error) {
	if flagged != "" {
		p, err := exec.LookPath(flagged)
		if err != nil {
			return "", fmt.Errorf("-%s %s: %w", name, flagged, err)
		}
		return p, nil
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOPATH: %w", err)
	}
	gopath, _, _ := strings.Cut(strings.TrimSpace(string(out)), string(os.PathListSeparator))
	p := filepath.Join(gopath, "bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the %s CLI is not at %s (%s; or pass -%s): %w", name, p, hint, name, err)
	}
	return p, nil
}

func gib(n int64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
