// Command metrics measures what the worker's /metrics costs with many plans:
// the time of a scrape that lists the plans from visibility (every scrape
// once the listing is older than 10 s, so every scrape at a 15 s interval),
// of one that reuses the listing, and the CPU a scrape takes, from which
// the worker's added CPU at a 15 s scrape interval follows. The peer is the
// same listing through the temporal CLI (`temporal workflow list`), in the
// same run.
//
// It runs the embedded server and a worker with do-nothing activities in
// this process, applies -plans backup plans (every 1h: none runs), and
// writes bench/results/metrics.json.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/bench/internal/proc"
	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/devserver"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/internal/repository"
	"github.com/steward-ops/steward/internal/telemetry"
	"github.com/steward-ops/steward/workflows"
	"github.com/steward-ops/steward/workflows/api"
)

type options struct {
	plans, runs, parallel int
	out, temporal         string
}

// sample is one measured request.
type sample struct {
	Round   int     `json:"round"`
	WallMS  float64 `json:"wall_ms"`
	CPUMS   float64 `json:"cpu_ms"`
	Bytes   int     `json:"bytes,omitempty"`
	LoadAvg string  `json:"loadavg"`
}

type summary struct {
	Median, Min, Max float64
}

type results struct {
	Date    time.Time           `json:"date"`
	Machine map[string]any      `json:"machine"`
	Plans   int                 `json:"plans"`
	ApplyS  float64             `json:"apply_s"`
	Cases   map[string][]sample `json:"cases"`
	Wall    map[string]summary  `json:"wall_ms"`
	CPU     map[string]summary  `json:"cpu_ms"`
	Added   float64             `json:"added_cpu_percent_of_a_core_at_15s"`
	Notes   []string            `json:"notes"`
}

func main() {
	var o options
	flag.IntVar(&o.plans, "plans", 2000, "backup plans to apply")
	flag.IntVar(&o.runs, "runs", 5, "rounds of every case (medians are reported)")
	flag.IntVar(&o.parallel, "parallel", 16, "plans applied at once")
	flag.StringVar(&o.out, "out", "bench/results/metrics.json", "results file")
	flag.StringVar(&o.temporal, "temporal", "", "temporal CLI for the peer (default: $(go env GOPATH)/bin/temporal; none: skip it)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/metrics:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "steward-bench-metrics-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	port, err := devserver.FreePort(devserver.DefaultIP)
	if err != nil {
		return err
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		DBPath: filepath.Join(dir, "bench.db"), Port: port, UIPort: -1,
		SearchAttributes: api.SearchAttributes, Logger: logger, LogLevel: slog.LevelError,
	})
	if err != nil {
		return fmt.Errorf("start embedded Temporal: %w", err)
	}
	defer srv.Stop() //nolint:errcheck // the bench is over
	c, err := client.DialContext(ctx, client.Options{HostPort: srv.FrontendAddress(), Namespace: devserver.DefaultNamespace,
		Logger: sdklog.NewStructuredLogger(logger)})
	if err != nil {
		return err
	}
	defer c.Close()
	w := worker.New(c, activities.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.PlanWorkflow, workflow.RegisterOptions{Name: api.PlanWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.CheckPlanWorkflow, workflow.RegisterOptions{Name: api.CheckPlanWorkflowName})
	w.RegisterActivityWithOptions(func(context.Context, activities.CheckBackupRequest) (activities.CheckBackupResult, error) {
		return activities.CheckBackupResult{}, nil
	}, activity.RegisterOptions{Name: activities.CheckBackup})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()

	fmt.Printf("applying %d plans ...\n", o.plans)
	began := time.Now()
	if err := applyAll(ctx, c, o); err != nil {
		return err
	}
	res := &results{Date: time.Now().UTC(), Plans: o.plans, ApplyS: time.Since(began).Seconds(), Cases: map[string][]sample{},
		Machine: map[string]any{"cpus": runtime.NumCPU(), "cpu_model": proc.CPUModel(), "mem_total": proc.MemTotal(), "loadavg_start": proc.LoadAvg()}}
	fmt.Printf("  applied in %.0f s; waiting until visibility lists them all ...\n", res.ApplyS)
	if err := waitListed(ctx, c, o.plans); err != nil {
		return err
	}

	list := func(ctx context.Context) ([]control.Summary, error) { return control.List(ctx, c) }
	cold := scraper(telemetry.NewPlanCollector(list, 0, time.Minute), logger)
	defer cold.Close()
	warm := scraper(telemetry.NewPlanCollector(list, time.Hour, time.Minute), logger)
	defer warm.Close()
	if _, err := get(warm.URL); err != nil { // lists once
		return err
	}
	cases := map[string]func() (sample, error){
		"scrape, listing the plans": func() (sample, error) { return measure(func() (int, error) { return get(cold.URL) }) },
		"scrape, listing reused":    func() (sample, error) { return measure(func() (int, error) { return get(warm.URL) }) },
		"listing alone (control.List)": func() (sample, error) {
			return measure(func() (int, error) {
				ps, err := control.List(ctx, c)
				if err == nil && len(ps) != o.plans {
					err = fmt.Errorf("listed %d plans, want %d", len(ps), o.plans)
				}
				return 0, err
			})
		},
	}
	if t := temporalCLI(o.temporal); t != "" {
		cases["peer: temporal workflow list"] = func() (sample, error) {
			return measure(func() (int, error) {
				out, err := exec.CommandContext(ctx, t, "workflow", "list", "--address", srv.FrontendAddress(),
					"--query", fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", api.PlanWorkflowName),
					"--limit", fmt.Sprint(o.plans), "-o", "json").Output()
				return len(out), err
			})
		}
		res.Notes = append(res.Notes, "the peer's CPU is this process's (the server's side of its listing), not the CLI's own")
	}
	names := slices.Sorted(maps.Keys(cases))
	for r := range o.runs {
		order := append(names[r%len(names):], names[:r%len(names)]...)
		fmt.Printf("round %d of %d\n", r+1, o.runs)
		for _, name := range order {
			s, err := cases[name]()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			s.Round = r + 1
			res.Cases[name] = append(res.Cases[name], s)
			fmt.Printf("  %-32s %8.1f ms wall %8.1f ms CPU %9d bytes\n", name, s.WallMS, s.CPUMS, s.Bytes)
		}
	}
	res.Wall, res.CPU = map[string]summary{}, map[string]summary{}
	for name, ss := range res.Cases {
		res.Wall[name] = summarize(ss, func(s sample) float64 { return s.WallMS })
		res.CPU[name] = summarize(ss, func(s sample) float64 { return s.CPUMS })
	}
	// At a 15 s interval every scrape lists (a listing serves 10 s).
	res.Added = res.CPU["scrape, listing the plans"].Median / 15000 * 100
	res.Machine["loadavg_end"] = proc.LoadAvg()
	res.Notes = append(res.Notes,
		"cpu_ms is this whole process's user+system CPU over the request: the embedded server's side of the listing, the collector and the encoding",
		"added_cpu_percent_of_a_core_at_15s is the median CPU of a listing scrape over 15 s: at a 15 s interval every scrape lists, since a listing serves 10 s")
	fmt.Println()
	for _, name := range names {
		wl, cp := res.Wall[name], res.CPU[name]
		fmt.Printf("%-32s wall %7.1f ms (%.1f-%.1f)  CPU %7.1f ms (%.1f-%.1f)\n", name, wl.Median, wl.Min, wl.Max, cp.Median, cp.Min, cp.Max)
	}
	fmt.Printf("added CPU at a 15 s scrape interval: %.2f%% of one core\n", res.Added)
	if err := proc.WriteJSON(o.out, res); err != nil {
		return err
	}
	fmt.Println("results:", o.out)
	return nil
}

func applyAll(ctx context.Context, c client.Client, o options) error {
	sem := make(chan struct{}, o.parallel)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for i := range o.plans {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			id := fmt.Sprintf("metrics-%05d", i)
			p := plan.Plan{ID: id, Kind: plan.KindBackup, Schedule: plan.Schedule{Every: plan.Duration(time.Hour)},
				Backup: &plan.Backup{Source: "/srv/bench/" + id,
					Ref: repository.Ref{Repository: "/var/backups/bench/" + id, PasswordEnv: "BENCH_PASSWORD"}}}
			p.SetDefaults()
			if _, err := control.Apply(ctx, c, &plan.File{Plans: []plan.Plan{p}}, control.ApplyOptions{}); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("apply %s: %w", id, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

func waitListed(ctx context.Context, c client.Client, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		ps, err := control.List(ctx, c)
		if err == nil && len(ps) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("visibility lists %d plans after 5 minutes, want %d (%v)", len(ps), n, err)
		}
		time.Sleep(time.Second)
	}
}

// scraper serves /metrics of a registry holding collector alone.
func scraper(collector *telemetry.PlanCollector, logger *slog.Logger) *httptest.Server {
	reg := telemetry.NewRegistry()
	reg.MustRegister(collector)
	return httptest.NewServer(telemetry.Server(reg, telemetry.NewHealth("bench"), logger).Handler)
}

func get(base string) (int, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "steward_plans_listing_up 1")) {
		err = fmt.Errorf("GET /metrics: %s, listing up: %v", resp.Status, strings.Contains(string(b), "steward_plans_listing_up 1"))
	}
	return len(b), err
}

// measure runs f once, timing it and this process's CPU over it.
func measure(f func() (int, error)) (sample, error) {
	load := proc.LoadAvg()
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	start := time.Now()
	n, err := f()
	wall := time.Since(start)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	return sample{WallMS: ms(wall), CPUMS: ms(cpu), Bytes: n, LoadAvg: load}, err
}

func summarize(ss []sample, v func(sample) float64) summary {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = v(s)
	}
	slices.Sort(xs)
	return summary{Median: xs[len(xs)/2], Min: xs[0], Max: xs[len(xs)-1]}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func temporalCLI(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	p := filepath.Join(strings.Split(strings.TrimSpace(string(out)), string(os.PathListSeparator))[0], "bin", "temporal")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
