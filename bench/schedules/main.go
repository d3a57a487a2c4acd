// Command schedules measures how punctually steward starts scheduled runs
// next to native Temporal Schedules, on the same embedded server in the same
// process and the same invocation (DESIGN.md section 9, issue 4).
//
// It starts the embedded server (internal/devserver) on a temporary SQLite
// file with the UI disabled, and one worker on the steward task queue that
// runs PlanWorkflow, BackupRunWorkflow and CheckPlanWorkflow with no-op
// activities, so the figures measure scheduling, not kopia. Then, one after
// the other:
//
//  1. steward: N plans `every: PERIOD` applied with control.Apply. Lateness
//     of a run is its ledger entry's Started minus its Nominal time (the
//     child run workflow's own start time is reported too); events per run
//     are PlanWorkflow history events per run started.
//  2. native: N Temporal Schedules with an interval spec of the same period,
//     overlap skip, starting BackupRunWorkflow on the same queue. Lateness is
//     each started workflow's StartTime minus its TemporalScheduledStartTime;
//     events per run are the history events of the server's per-schedule
//     workflow (temporal-sys-scheduler:<id>) per action.
//
// Both phases count only nominal times inside a window of -duration that
// begins at the first fire time after everything was created, and wait
// -settle after the window so late runs of the window can still start.
//
//	go run ./bench/schedules                         # 200 x every 10s x 5m per phase, ~13 minutes
//	go run ./bench/schedules -plans 5 -duration 30s  # smoke run, ~2 minutes
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/bench/internal/proc"
	"github.com/steward-ops/steward/internal/devserver"
	"github.com/steward-ops/steward/workflows"
	"github.com/steward-ops/steward/workflows/api"
)

type options struct {
	plans       int
	every       time.Duration
	duration    time.Duration
	settle      time.Duration
	phases      []string
	out         string
	parallel    int
	nativeRPS   float64
	runsSampled int
	logLevel    slog.Level
	note        string
}

// Phase names, as given to -phases and used as keys in the results file.
const (
	phaseSteward = "steward"
	phaseNative  = "native"
)

func main() {
	var o options
	var phases, level string
	flag.IntVar(&o.plans, "plans", 200, "plans (and native schedules)")
	flag.DurationVar(&o.every, "every", 10*time.Second, "period of every plan and schedule")
	flag.DurationVar(&o.duration, "duration", 5*time.Minute, "measured window of each phase, from its first fire time")
	flag.DurationVar(&o.settle, "settle", 30*time.Second, "wait after the window so late runs of the window can start")
	flag.StringVar(&phases, "phases", phaseSteward+","+phaseNative, "phases to run, in order")
	flag.StringVar(&o.out, "out", "bench/results/schedules.json", "results file")
	flag.IntVar(&o.parallel, "parallel", 8, "concurrent client calls while creating, collecting and removing")
	flag.Float64Var(&o.nativeRPS, "native-start-rps", 0,
		"override the server's worker.schedulerNamespaceStartWorkflowRPS (0: the server default, 30)")
	flag.IntVar(&o.runsSampled, "run-samples", 10, "run workflows per phase whose own history length is sampled")
	flag.StringVar(&level, "log-level", "warn", "level of server and SDK logs on stderr")
	flag.StringVar(&o.note, "note", "", "free text kept in the results file (what was measured, e.g. the commit)")
	flag.Parse()
	o.phases = strings.Split(phases, ",")
	if err := o.logLevel.UnmarshalText([]byte(level)); err != nil {
		fmt.Fprintf(os.Stderr, "schedules: -log-level %q: want debug, info, warn or error\n", level)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "schedules:", err)
		os.Exit(1)
	}
}

// result is what the results file holds.
type result struct {
	Date       time.Time               `json:"date"`
	Config     config                  `json:"config"`
	LoadBefore string                  `json:"load_before"`
	LoadAfter  string                  `json:"load_after"`
	Phases     map[string]*phaseResult `json:"phases"`
	// Ratios compare steward with native; absent unless both phases ran.
	Ratios map[string]float64 `json:"ratios,omitempty"`
}

type config struct {
	Plans          int     `json:"plans"`
	Every          string  `json:"every"`
	Duration       string  `json:"duration"`
	Settle         string  `json:"settle"`
	NativeStartRPS float64 `json:"native_start_rps"` // 0: server default
	CPUs           int     `json:"cpus"`
	GoVersion      string  `json:"go_version"`
	Server         string  `json:"server"`
	SDK            string  `json:"sdk"`
	Note           string  `json:"note,omitempty"`
}

func run(ctx context.Context, o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	res := &result{
		Date: time.Now().UTC(),
		Config: config{
			Plans: o.plans, Every: o.every.String(), Duration: o.duration.String(), Settle: o.settle.String(),
			NativeStartRPS: o.nativeRPS, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
			Server: "Temporal server v1.32.1 (internal/devserver, SQLite)", SDK: "go.temporal.io/sdk v1.50.0",
			Note: o.note,
		},
		LoadBefore: proc.LoadAvg(),
		Phases:     map[string]*phaseResult{},
	}
	logf("load average before: %s", res.LoadBefore)

	env, err := start(ctx, o)
	if err != nil {
		return err
	}
	defer env.close()

	for _, ph := range o.phases {
		var pr *phaseResult
		switch ph {
		case phaseSteward:
			pr, err = runSteward(ctx, env, o)
		case phaseNative:
			pr, err = runNative(ctx, env, o)
		}
		if err != nil {
			return fmt.Errorf("phase %s: %w", ph, err)
		}
		res.Phases[ph] = pr
	}
	res.LoadAfter = proc.LoadAvg()
	logf("load average after: %s", res.LoadAfter)
	res.Ratios = ratios(res.Phases)

	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	printSummary(os.Stdout, res, o)
	fmt.Printf("results written to %s\n", o.out)
	return nil
}

func (o *options) validate() error {
	switch {
	case o.plans < 1:
		return errors.New("-plans must be at least 1")
	case o.every < time.Second:
		return errors.New("-every must be at least 1s")
	case o.duration < o.every:
		return errors.New("-duration must be at least -every")
	case o.settle < 0:
		return errors.New("-settle must not be negative")
	case o.parallel < 1:
		return errors.New("-parallel must be at least 1")
	}
	for _, p := range o.phases {
		if p != phaseSteward && p != phaseNative {
			return fmt.Errorf("-phases: unknown phase %q (want %s, %s)", p, phaseSteward, phaseNative)
		}
	}
	return nil
}

// env is the embedded server, a client and the worker shared by both phases.
type env struct {
	dir    string
	srv    *devserver.Server
	client client.Client
	worker worker.Worker
	ns     string
}

func start(ctx context.Context, o options) (_ *env, err error) {
	e := &env{ns: devserver.DefaultNamespace}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "steward-bench-schedules-"); err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: o.logLevel}))
	port, err := devserver.FreePort(devserver.DefaultIP)
	if err != nil {
		return nil, fmt.Errorf("frontend port: %w", err)
	}
	dc := map[string]any{}
	if o.nativeRPS > 0 {
		dc["worker.schedulerNamespaceStartWorkflowRPS"] = o.nativeRPS
	}
	began := time.Now()
	e.srv, err = devserver.Start(ctx, devserver.Options{
		DBPath:           filepath.Join(e.dir, "bench.db"),
		Port:             port,
		UIPort:           -1,
		SearchAttributes: api.SearchAttributes,
		Logger:           logger.With("component", "temporal"),
		LogLevel:         o.logLevel,
		DynamicConfig:    dc,
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded Temporal: %w", err)
	}
	logf("embedded Temporal at %s (database %s) in %v", e.srv.FrontendAddress(), filepath.Join(e.dir, "bench.db"),
		time.Since(began).Round(time.Millisecond))

	e.client, err = client.DialContext(ctx, client.Options{
		HostPort:  e.srv.FrontendAddress(),
		Namespace: e.ns,
		Logger:    sdklog.NewStructuredLogger(logger.With("component", "sdk")),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to embedded Temporal: %w", err)
	}
	e.worker = newWorker(e.client)
	if err := e.worker.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	return e, nil
}

func (e *env) close() {
	if e.worker != nil {
		e.worker.Stop()
	}
	if e.client != nil {
		e.client.Close()
	}
	if e.srv != nil {
		if err := e.srv.Stop(); err != nil {
			logf("stop embedded Temporal: %v", err)
		}
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// newWorker registers steward's workflows under their names, as the real
// worker does, with activities that do nothing.
func newWorker(c client.Client) worker.Worker {
	w := worker.New(c, activities.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.PlanWorkflow, workflow.RegisterOptions{Name: api.PlanWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.BackupRunWorkflow, workflow.RegisterOptions{Name: api.BackupRunWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.CheckPlanWorkflow, workflow.RegisterOptions{Name: api.CheckPlanWorkflowName})
	w.RegisterActivityWithOptions(noopBackup, activity.RegisterOptions{Name: activities.Backup})
	w.RegisterActivityWithOptions(noopCheck, activity.RegisterOptions{Name: activities.CheckBackup})
	return w
}

func noopBackup(context.Context, activities.BackupRequest) (activities.BackupResult, error) {
	now := time.Now().UTC()
	return activities.BackupResult{SnapshotID: "noop", StartTime: now, EndTime: now}, nil
}

func noopCheck(context.Context, activities.CheckBackupRequest) (activities.CheckBackupResult, error) {
	return activities.CheckBackupResult{}, nil
}

// window is the measured span of nominal times, [Start, End).
type window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func (w window) has(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// nextWindow is the window that begins at the first epoch-aligned fire time
// after now: interval schedules (steward's `every` with the wall anchor and
// Temporal's interval spec) fire at multiples of the period since the epoch.
func nextWindow(now time.Time, every, d time.Duration) window {
	n := now.UnixNano()/int64(every) + 1
	s := time.Unix(0, n*int64(every)).UTC()
	return window{Start: s, End: s.Add(d)}
}

// nominalIn is how many fire times of one plan fall inside w.
func nominalIn(w window, every time.Duration) int {
	return int((w.End.Sub(w.Start) + every - 1) / every)
}

// waitWindow sleeps until the window and the settle time after it are over,
// logging progress once a minute.
func waitWindow(ctx context.Context, name string, w window, settle time.Duration) error {
	until := w.End.Add(settle)
	logf("%s: window %s .. %s UTC; collecting at %s", name, w.Start.Format("15:04:05"), w.End.Format("15:04:05"),
		until.Format("15:04:05"))
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	done := time.NewTimer(time.Until(until))
	defer done.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done.C:
			return nil
		case now := <-t.C:
			logf("%s: %v into the window, load average %s", name, now.Sub(w.Start).Round(time.Second), proc.LoadAvg())
		}
	}
}

// forEach calls f(i) for i in [0, n) with at most par calls at a time. It
// returns the first error, saying how many calls failed.
func forEach(ctx context.Context, n, par int, f func(ctx context.Context, i int) error) error {
	sem := make(chan struct{}, par)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = f(ctx, i)
		}()
	}
	wg.Wait()
	var first error
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed > 1 {
		return fmt.Errorf("%w (and %d more failures)", first, failed-1)
	}
	return first
}

// retry calls f up to 5 times, 2s apart, each with its own 30s deadline:
// collection runs while the plans keep firing on a saturated machine, where
// single queries and describes do time out.
func retry(ctx context.Context, f func(ctx context.Context) error) error {
	const attempts = 5
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(2 * time.Second):
			}
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = f(actx)
		cancel()
		if err == nil || ctx.Err() != nil || isNotFound(err) {
			return err
		}
	}
	return fmt.Errorf("%w (after %d attempts)", err, attempts)
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// ids returns n IDs with prefix, zero-padded so they sort.
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
