// Command preheat measures `steward preheat` against curl, in one run on one
// machine, from a loopback HTTP server this command serves itself
// (DESIGN.md section 9):
//
//   - single: one 1 GiB file. steward verifies the sha256 digest given with
//     --digest and fsyncs the cache entry; the peer is `curl -sS -o FILE URL`,
//     reported plain and followed by an fsync of FILE (the fair comparison).
//     Target: steward >= 0.9x curl's throughput.
//   - many: 1,000 files of 1 MiB (distinct content), steward with
//     --concurrency 8 vs one `curl -sS -o FILE URL` process per file in
//     sequence (the peer). Target: >= 2x. For information only, also
//     the same with an fsync of every file, one curl process fetching every
//     URL over one connection, and curl --parallel --parallel-max 8.
//   - repeat: each cold steward preheat is repeated on its warm cache (a
//     cache hit: "downloaded" must be 0; without a digest steward revalidates
//     every file with If-Modified-Since). The peer is `curl -z FILE -o FILE`,
//     a conditional GET answered 304. No target.
//   - overhead: one 1 KiB file, cold: the fixed cost of the product path
//     (CLI, workflow, activities), no peer.
//
// steward runs the real product path: `steward-worker --dev` with its
// embedded server, and `steward preheat --wait --output json` for every
// preheat, each cold one into a fresh --cache-dir. Each case runs -runs times
// (tools rotating order), and the medians are compared. Wall times are from
// exec to exit of the command; for steward the workflow history also gives
// the PreheatFetch activity's own time. Outputs of one run are deleted and
// the file system synced before the next one, outside the timings. aria2c
// joins as an extra peer when it is installed.
//
//	go run ./bench/preheat                  # ~3 minutes; needs ~7 GiB free in $TMPDIR (or -dir)
//	go run ./bench/preheat -runs 1 -size 64MiB -files 100   # smoke run
//	go run ./bench/preheat -steward /tmp/steward -worker /tmp/sw -keep
//
// Results go to bench/results/preheat.json, a summary to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/steward-ops/steward/bench/internal/proc"
	"github.com/steward-ops/steward/internal/plan"
)

type options struct {
	steward, worker string
	dir             string
	keep            bool
	out             string
	runs            int
	size            int64 // the single file
	files           int   // the many files
	fileSize        int64 // each of them
	concurrency     int
}

func main() {
	var o options
	var size, fileSize string
	flag.StringVar(&o.steward, "steward", "", "steward CLI binary (default: go build ./starter)")
	flag.StringVar(&o.worker, "worker", "", "steward-worker binary (default: go build ./worker)")
	flag.StringVar(&o.dir, "dir", "", "work directory for the served files, caches and outputs (default: a new one in $TMPDIR)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (worker.log, caches) instead of removing it")
	flag.StringVar(&o.out, "out", "bench/results/preheat.json", "results file")
	flag.IntVar(&o.runs, "runs", 3, "repetitions of each case (the median is compared)")
	flag.StringVar(&size, "size", "1GiB", "size of the single file")
	flag.IntVar(&o.files, "files", 1000, "number of files in the many-files case")
	flag.StringVar(&fileSize, "file-size", "1MiB", "size of each of the many files")
	flag.IntVar(&o.concurrency, "concurrency", 8, "steward preheat --concurrency")
	flag.Parse()
	for _, s := range []struct {
		flag string
		in   string
		out  *int64
	}{{"size", size, &o.size}, {"file-size", fileSize, &o.fileSize}} {
		n, err := plan.ParseSize(s.in)
		if err != nil || n == 0 {
			fmt.Fprintf(os.Stderr, "preheat: -%s %q: want a size like 1GiB\n", s.flag, s.in)
			os.Exit(2)
		}
		*s.out = int64(n)
	}
	if o.runs < 1 || o.files < 1 || o.concurrency < 1 {
		fmt.Fprintln(os.Stderr, "preheat: -runs, -files and -concurrency must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "preheat:", err)
		os.Exit(1)
	}
}

// Tool names, as used in the results file.
const (
	toolSteward       = "steward"
	toolCurl          = "curl"
	toolCurlFsync     = "curl+fsync"
	toolCurlSeq       = "curl-sequential"
	toolCurlSeqFsync  = "curl-sequential+fsync"
	toolCurlOneProc   = "curl-one-process"
	toolCurlParallel  = "curl-parallel"
	toolAria2         = "aria2c"
	toolCurlCondition = "curl -z"
	toolCurlSeqCond   = "curl -z sequential"
)

type result struct {
	Date     time.Time          `json:"date"`
	Machine  machine            `json:"machine"`
	Options  map[string]any     `json:"options"`
	Cases    map[string]*caseRs `json:"cases"`
	Summary  []string           `json:"summary"`
	Comments []string           `json:"comments"`
}

func run(ctx context.Context, o options) error {
	for _, tool := range []string{"curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (it is the peer of this benchmark): %w", tool, err)
		}
	}
	aria2, _ := exec.LookPath("aria2c")

	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "steward-bench-preheat-")
		if err != nil {
			return err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work directory (kept):", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	// Served: the single file and the many; at most two copies of either
	// at a time (a cache and a peer's output), plus slack.
	need := 3*o.size + 3*int64(o.files)*o.fileSize + 512<<20
	free, err := proc.FreeBytes(dir)
	if err != nil {
		return err
	}
	fmt.Printf("work directory %s: %s free, ~%s needed\n", dir, gib(free), gib(need))
	if free < need {
		return fmt.Errorf("not enough disk space in %s: %s free, ~%s needed (use -dir elsewhere, or smaller -size / -files)", dir, gib(free), gib(need))
	}

	res := result{
		Date:    time.Now().UTC(),
		Machine: machineInfo(ctx, free),
		Options: map[string]any{"runs": o.runs, "single_size": o.size, "files": o.files, "file_size": o.fileSize, "concurrency": o.concurrency},
		Cases:   map[string]*caseRs{},
	}

	bin, err := proc.BuildBinaries(ctx, o.steward, o.worker, dir)
	if err != nil {
		return err
	}

	fmt.Printf("writing the served files (%s + %d x %s) ...\n", gib(o.size), o.files, mib(o.fileSize))
	data, err := writeData(filepath.Join(dir, "www"), o.size, o.files, o.fileSize)
	if err != nil {
		return err
	}
	srv, err := serve(filepath.Join(dir, "www"))
	if err != nil {
		return err
	}
	defer srv.Close()

	w, err := startWorker(ctx, bin, dir)
	if err != nil {
		return err
	}
	defer w.stop()

	b := &bench{o: o, dir: dir, w: w, srv: srv, data: data, aria2: aria2}
	if err := b.warmUp(ctx); err != nil {
		return err
	}
	for _, c := range []func(context.Context) (*caseRs, error){b.overhead, b.single, b.many} {
		cr, err := c(ctx)
		if err != nil {
			return err
		}
		res.Cases[cr.Name] = cr
		if cr.Repeat != nil {
			res.Cases[cr.Repeat.Name] = cr.Repeat
		}
	}
	res.Machine.LoadAvgEnd = proc.LoadAvg()

	res.Summary = summarize(res.Cases)
	res.Comments = []string{
		"wall times are from exec to exit of each command; steward's include the CLI dialing the server, the PreheatRunWorkflow and its activities, and waiting for the result (see the overhead case for this fixed cost); fetch_activity_ns is the PreheatFetch activity from scheduled to completed, from the workflow history",
		"mb_per_s is 10^6 bytes per second of content fetched; a ratio is steward's throughput over the peer's (the peer's median wall time over steward's), so above 1 means steward is faster",
		"steward hashes every byte (sha256; the single file is checked against --digest) and fsyncs each cache entry and its directory before renaming it in; plain curl does neither, curl+fsync adds an fsync of the output file",
		"the server is this process (net/http FileServer on 127.0.0.1, files in the page cache), so it shares the 2 cores with the client being measured, alike for every tool",
		"before every timed command the previous outputs are deleted and the file system synced, so no tool pays for another's writeback",
		"before every timed run of the single and many cases, a scratch file somewhat larger than the content is written and deleted (warmPages): on this VM a write into page-cache pages freed a while ago runs 2-3x slower, which otherwise decided the ratio by the order of the runs (curl alone varied 1.2-3.2 s for 1 GiB)",
	}
	if aria2 == "" {
		res.Comments = append(res.Comments, "aria2c is not installed: no aria2c peer")
	}
	fmt.Println()
	for _, s := range res.Summary {
		fmt.Println(s)
	}
	if w.logPath != "" && o.keep {
		fmt.Println("worker log:", w.logPath)
	}
	if err := proc.WriteJSON(o.out, res); err != nil {
		return err
	}
	fmt.Println("results:", o.out)
	return nil
}

// machine describes where the figures come from.
type machine struct {
	CPUs         int    `json:"cpus"`
	CPUModel     string `json:"cpu_model,omitempty"`
	MemTotal     string `json:"mem_total,omitempty"`
	GoVersion    string `json:"go_version"`
	OS           string `json:"os"`
	Kernel       string `json:"kernel,omitempty"`
	Curl         string `json:"curl"`
	Aria2        string `json:"aria2c,omitempty"`
	FreeDisk     int64  `json:"free_disk_bytes"`
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
}

func machineInfo(ctx context.Context, free int64) machine {
	m := machine{
		CPUs:         runtime.NumCPU(),
		CPUModel:     proc.CPUModel(),
		MemTotal:     proc.MemTotal(),
		GoVersion:    runtime.Version(),
		OS:           runtime.GOOS + "/" + runtime.GOARCH,
		FreeDisk:     free,
		LoadAvgStart: proc.LoadAvg(),
	}
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "uname", "-r").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "curl", "--version").Output(); err == nil {
		m.Curl, _, _ = strings.Cut(string(out), "\n")
	}
	if out, err := exec.CommandContext(ctx, "aria2c", "--version").Output(); err == nil {
		m.Aria2, _, _ = strings.Cut(string(out), "\n")
	}
	return m
}

func gib(n int64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }
func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
