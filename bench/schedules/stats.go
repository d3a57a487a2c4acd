package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// phaseResult is what one phase measured.
type phaseResult struct {
	Name string `json:"name"`
	// Window is the span of nominal times counted.
	Window window `json:"window"`
	// SetupSeconds is how long creating every plan or schedule took.
	SetupSeconds float64 `json:"setup_seconds"`
	// Expected is the number of nominal times inside the window, over all
	// plans or schedules; Started how many of them started a run.
	Expected   int     `json:"expected_runs"`
	Started    int     `json:"started_runs"`
	StartedPct float64 `json:"started_pct"`
	// NotStarted counts the nominal times of the window that did not start,
	// by reason (ledger outcome for steward; for native, "not started" plus
	// the schedules' own lifetime counters under "schedule_*").
	NotStarted map[string]int `json:"not_started"`
	// Lateness is actual start minus nominal time of the window's runs: the
	// ledger's Started for steward, the started workflow's StartTime for
	// native.
	Lateness latency `json:"lateness"`
	// ChildLateness (steward only) is the run workflow's own StartTime minus
	// its nominal time: the same definition as native's.
	ChildLateness *latency `json:"child_start_lateness,omitempty"`
	// Events counts the history events of the scheduling workflows
	// (PlanWorkflow; native: temporal-sys-scheduler:<id>).
	Events events `json:"scheduler_events"`
	// RunEvents is the mean history length of a sample of run workflows
	// (BackupRunWorkflow, started by either).
	RunEvents     float64 `json:"run_workflow_events_mean"`
	RunEventsFrom int     `json:"run_workflow_events_sampled"`
	// ScheduleInfo (native only) sums the schedules' own lifetime counters
	// from DescribeSchedule.
	ScheduleInfo map[string]int64 `json:"schedule_info,omitempty"`
	// Steward (steward only) explains runs that did not start.
	Steward *stewardDiag `json:"steward_diagnostics,omitempty"`
	// Notes says what was not measurable, or anything odd seen.
	Notes []string `json:"notes,omitempty"`
}

// latency summarises durations, in milliseconds.
type latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
	// OverOneSecond counts samples later than 1s (DESIGN.md's target).
	OverOneSecond int `json:"over_1s"`
}

func summarize(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
	var sum time.Duration
	over := 0
	for _, d := range ds {
		sum += d
		if d > time.Second {
			over++
		}
	}
	return latency{
		N: len(ds), P50: ms(pct(ds, 0.50)), P90: ms(pct(ds, 0.90)), P99: ms(pct(ds, 0.99)),
		Max: ms(ds[len(ds)-1]), Mean: ms(sum / time.Duration(len(ds))), OverOneSecond: over,
	}
}

// pct is the nearest-rank percentile of sorted ds.
func pct(ds []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(ds)))) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

// events counts scheduling-workflow history events, by window and in all.
type events struct {
	Workflows int `json:"workflows"`
	// Runs is the number of workflow runs (more than Workflows after
	// continue-as-new).
	Runs int `json:"runs"`
	// Life: every event recorded before the end of the window, over every
	// run started before it.
	LifeEvents int     `json:"life_events"`
	LifeRuns   int     `json:"life_scheduled_runs"`
	LifePerRun float64 `json:"life_events_per_run"`
	// Window: events recorded inside the window, over the runs started
	// inside it.
	WindowEvents int     `json:"window_events"`
	WindowRuns   int     `json:"window_scheduled_runs"`
	PerRun       float64 `json:"window_events_per_run"`
	// ByType is the window's events per run, by event type.
	ByType map[string]float64 `json:"window_events_per_run_by_type"`

	byType map[string]int
}

func (e *events) add(o events) {
	e.Workflows += o.Workflows
	e.Runs += o.Runs
	e.LifeEvents += o.LifeEvents
	e.LifeRuns += o.LifeRuns
	e.WindowEvents += o.WindowEvents
	e.WindowRuns += o.WindowRuns
	if e.byType == nil {
		e.byType = map[string]int{}
	}
	for k, v := range o.byType {
		e.byType[k] += v
	}
}

func (e *events) finish() {
	if e.LifeRuns > 0 {
		e.LifePerRun = round2(float64(e.LifeEvents) / float64(e.LifeRuns))
	}
	if e.WindowRuns > 0 {
		e.PerRun = round2(float64(e.WindowEvents) / float64(e.WindowRuns))
		e.ByType = map[string]float64{}
		for k, v := range e.byType {
			e.ByType[k] = round2(float64(v) / float64(e.WindowRuns))
		}
	}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// countHistory counts the events of workflow id recorded before w.End, and
// those inside w, following its continue-as-new chain back to the first run.
func countHistory(ctx context.Context, c client.Client, id string, w window) (events, error) {
	ev := events{Workflows: 1, byType: map[string]int{}}
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return ev, fmt.Errorf("describe workflow %s: %w", id, err)
	}
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	for runID != "" {
		ev.Runs++
		prev := ""
		it := c.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return ev, fmt.Errorf("history of workflow %s run %s: %w", id, runID, err)
			}
			if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				prev = a.GetContinuedExecutionRunId()
			}
			at := e.GetEventTime().AsTime()
			if at.Before(w.End) {
				ev.LifeEvents++
			}
			if w.has(at) {
				ev.WindowEvents++
				ev.byType[strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_")]++
			}
		}
		runID = prev
	}
	return ev, nil
}

// sampleRunEvents is the mean history length of the run workflows ids.
func sampleRunEvents(ctx context.Context, c client.Client, ids []string) (float64, int, error) {
	total := 0
	for _, id := range ids {
		var desc *workflowservice.DescribeWorkflowExecutionResponse
		err := retry(ctx, func(ctx context.Context) (err error) {
			desc, err = c.DescribeWorkflowExecution(ctx, id, "")
			return err
		})
		if err != nil {
			return 0, 0, fmt.Errorf("describe run workflow %s: %w", id, err)
		}
		total += int(desc.GetWorkflowExecutionInfo().GetHistoryLength())
	}
	if len(ids) == 0 {
		return 0, 0, nil
	}
	return round2(float64(total) / float64(len(ids))), len(ids), nil
}

// sample picks up to n of ids, spread evenly.
func sample(ids []string, n int) []string {
	if len(ids) <= n || n <= 0 {
		return ids
	}
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, ids[i*len(ids)/n])
	}
	return out
}

// waitClosed polls until workflow id is no longer running.
func waitClosed(ctx context.Context, c client.Client, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		desc, err := c.DescribeWorkflowExecution(ctx, id, "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			return nil
		case err != nil:
			return fmt.Errorf("describe workflow %s: %w", id, err)
		case desc.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workflow %s still running after %v", id, timeout)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func ratios(phases map[string]*phaseResult) map[string]float64 {
	s, n := phases[phaseSteward], phases[phaseNative]
	if s == nil || n == nil {
		return nil
	}
	r := map[string]float64{}
	div := func(key string, a, b float64) {
		if b > 0 {
			r[key] = round2(a / b)
		}
	}
	div("lateness_p99_steward_over_native", s.Lateness.P99, n.Lateness.P99)
	div("lateness_p50_steward_over_native", s.Lateness.P50, n.Lateness.P50)
	if s.ChildLateness != nil {
		div("child_start_lateness_p99_steward_over_native", s.ChildLateness.P99, n.Lateness.P99)
	}
	div("window_events_per_run_steward_over_native", s.Events.PerRun, n.Events.PerRun)
	div("started_pct_steward_over_native", s.StartedPct, n.StartedPct)
	return r
}

func printSummary(w io.Writer, res *result, o options) {
	fmt.Fprintf(w, "\nschedules: %d plans/schedules every %v, window %v per phase (+%v settle), %d CPUs\n",
		o.plans, o.every, o.duration, o.settle, res.Config.CPUs)
	fmt.Fprintf(w, "load average before %s, after %s\n\n", res.LoadBefore, res.LoadAfter)
	var cols []*phaseResult
	for _, name := range []string{phaseSteward, phaseNative} {
		if p := res.Phases[name]; p != nil {
			cols = append(cols, p)
		}
	}
	row := func(label string, f func(p *phaseResult) string) {
		fmt.Fprintf(w, "%-34s", label)
		for _, p := range cols {
			fmt.Fprintf(w, "%22s", f(p))
		}
		fmt.Fprintln(w)
	}
	row("", func(p *phaseResult) string { return p.Name })
	row("window (UTC)", func(p *phaseResult) string {
		return p.Window.Start.Format("15:04:05") + "-" + p.Window.End.Format("15:04:05")
	})
	row("runs started / nominal", func(p *phaseResult) string {
		return fmt.Sprintf("%d/%d %.2f%%", p.Started, p.Expected, p.StartedPct)
	})
	row("lateness p50", func(p *phaseResult) string { return ms(p.Lateness.P50) })
	row("lateness p90", func(p *phaseResult) string { return ms(p.Lateness.P90) })
	row("lateness p99", func(p *phaseResult) string { return ms(p.Lateness.P99) })
	row("lateness max", func(p *phaseResult) string { return ms(p.Lateness.Max) })
	row("runs started > 1s late", func(p *phaseResult) string { return fmt.Sprint(p.Lateness.OverOneSecond) })
	row("run workflow start p50/p99", func(p *phaseResult) string {
		l := p.Lateness
		if p.ChildLateness != nil {
			l = *p.ChildLateness
		}
		return ms(l.P50) + " / " + ms(l.P99)
	})
	row("scheduler events/run (window)", func(p *phaseResult) string { return fmt.Sprintf("%.2f", p.Events.PerRun) })
	row("scheduler events/run (life)", func(p *phaseResult) string { return fmt.Sprintf("%.2f", p.Events.LifePerRun) })
	row("run workflow events (mean)", func(p *phaseResult) string { return fmt.Sprintf("%.1f", p.RunEvents) })
	row("setup", func(p *phaseResult) string { return fmt.Sprintf("%.1fs", p.SetupSeconds) })
	for _, p := range cols {
		if len(p.NotStarted) > 0 {
			var parts []string
			for _, k := range sortedKeys(p.NotStarted) {
				parts = append(parts, fmt.Sprintf("%s %d", k, p.NotStarted[k]))
			}
			fmt.Fprintf(w, "%s not started: %s\n", p.Name, strings.Join(parts, ", "))
		}
		for _, n := range p.Notes {
			fmt.Fprintf(w, "%s: %s\n", p.Name, n)
		}
	}
	if len(res.Ratios) > 0 {
		fmt.Fprintf(w, "steward p99 / native p99: %.2f (ledger start), %.2f (run workflow start); target <= 1.2 (issue 4), <= 0.5 (DESIGN 9)\n",
			res.Ratios["lateness_p99_steward_over_native"], res.Ratios["child_start_lateness_p99_steward_over_native"])
		fmt.Fprintf(w, "steward / native scheduler events per run: %.2f; target <= 1\n",
			res.Ratios["window_events_per_run_steward_over_native"])
	}
}

func ms(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2fs", v/1000)
	}
	return fmt.Sprintf("%.0fms", v)
}
