package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/internal/repository"
	"github.com/steward-ops/steward/workflows/api"
)

// planPrefix names the bench's plans: bench-0000, bench-0001, ...
const planPrefix = "bench-"

// benchPlan is plan id firing every period. Its paths are never touched:
// the bench's activities do nothing.
func benchPlan(id string, every time.Duration) plan.Plan {
	p := plan.Plan{
		ID:       id,
		Kind:     plan.KindBackup,
		Schedule: plan.Schedule{Every: plan.Duration(every)},
		Backup: &plan.Backup{
			Source: "/srv/bench/" + id,
			Ref:    repository.Ref{Repository: "/var/backups/bench/" + id, PasswordEnv: "BENCH_PASSWORD"},
		},
	}
	p.SetDefaults()
	return p
}

// planOutcome is what one plan contributes to the phase.
type planOutcome struct {
	started   []time.Duration // ledger Started - Nominal, window runs
	child     []time.Duration // run workflow StartTime - Nominal, window runs
	notStart  map[string]int  // window nominal times by non-start outcome
	expected  int
	runIDs    []string
	events    events
	lifeRuns  int
	winRuns   int
	childMiss int // window runs whose run workflow was not found in visibility
	diag      stewardDiag
	err       error
}

// stewardDiag explains runs that did not start, from the ledger and the run
// workflows' own start and close times.
type stewardDiag struct {
	// OverlapSkipped counts window slots skipped because a run was in
	// flight; RunClosedBefore those of them whose run in flight had already
	// closed (its workflow's CloseTime) at the skipped nominal time.
	OverlapSkipped  int `json:"overlap_skipped"`
	RunClosedBefore int `json:"run_in_flight_closed_before_nominal"`
	// InFlightCloseAfterNominal: CloseTime of the run in flight minus the
	// skipped nominal time.
	InFlightCloseAfterNominal latency `json:"run_in_flight_close_minus_skipped_nominal"`
	// RunDuration: run workflow CloseTime minus StartTime, window runs.
	RunDuration latency `json:"run_workflow_duration"`
	// NoticeLag: when PlanWorkflow recorded the run's end (ledger At) minus
	// the run workflow's CloseTime.
	NoticeLag latency `json:"plan_notices_run_end_after"`

	inFlight, runDur, notice []time.Duration
}

func runSteward(ctx context.Context, e *env, o options) (*phaseResult, error) {
	c := e.client
	planIDs := ids(planPrefix, o.plans)
	logf("steward: applying %d plans every %v", o.plans, o.every)
	began := time.Now()
	// One plan per Apply call, several at once: a single file of N plans
	// checks them one after the other, which only makes setup slower.
	err := forEach(ctx, len(planIDs), o.parallel, func(ctx context.Context, i int) error {
		f := &plan.File{Plans: []plan.Plan{benchPlan(planIDs[i], o.every)}}
		if _, err := control.Apply(ctx, c, f, control.ApplyOptions{}); err != nil {
			return fmt.Errorf("apply plan %s: %w", planIDs[i], err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	setup := time.Since(began)
	w := nextWindow(time.Now(), o.every, o.duration)
	logf("steward: %d plans applied in %v", o.plans, setup.Round(time.Millisecond))
	if err := waitWindow(ctx, phaseSteward, w, o.settle); err != nil {
		return nil, err
	}

	logf("steward: collecting ledgers, run workflows and histories")
	outs := make([]planOutcome, len(planIDs))
	err = forEach(ctx, len(planIDs), o.parallel, func(ctx context.Context, i int) error {
		out, err := collectPlan(ctx, c, planIDs[i], w, o.every)
		out.err = err
		outs[i] = out
		return nil
	})
	if err != nil {
		return nil, err
	}
	failed, firstErr := 0, error(nil)

	res := &phaseResult{Name: phaseSteward, Window: w, SetupSeconds: round2(setup.Seconds()), NotStarted: map[string]int{}}
	var late, child []time.Duration
	var diag stewardDiag
	var runIDs []string
	childMiss := 0
	for _, out := range outs {
		if out.err != nil {
			failed++
			if firstErr == nil {
				firstErr = out.err
			}
			continue
		}
		res.Expected += out.expected
		res.Started += len(out.started)
		late = append(late, out.started...)
		child = append(child, out.child...)
		runIDs = append(runIDs, out.runIDs...)
		childMiss += out.childMiss
		diag.OverlapSkipped += out.diag.OverlapSkipped
		diag.RunClosedBefore += out.diag.RunClosedBefore
		diag.inFlight = append(diag.inFlight, out.diag.inFlight...)
		diag.runDur = append(diag.runDur, out.diag.runDur...)
		diag.notice = append(diag.notice, out.diag.notice...)
		for k, v := range out.notStart {
			res.NotStarted[k] += v
		}
		res.Events.add(out.events)
	}
	res.Events.finish()
	if failed > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d of %d could not be collected and are left out; first error: %v",
			failed, len(outs), firstErr))
	}
	if res.Expected > 0 {
		res.StartedPct = round2(100 * float64(res.Started) / float64(res.Expected))
	}
	res.Lateness = summarize(late)
	cl := summarize(child)
	res.ChildLateness = &cl
	diag.InFlightCloseAfterNominal = summarize(diag.inFlight)
	diag.RunDuration = summarize(diag.runDur)
	diag.NoticeLag = summarize(diag.notice)
	res.Steward = &diag
	if diag.RunClosedBefore > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf(
			"%d of %d overlap-skipped slots were skipped although the run in flight had closed before the nominal time",
			diag.RunClosedBefore, diag.OverlapSkipped))
	}
	if childMiss > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d started runs had no run workflow in visibility", childMiss))
	}
	if res.Events.Runs > res.Events.Workflows {
		res.Notes = append(res.Notes, fmt.Sprintf("PlanWorkflows continued-as-new: %d runs over %d workflows",
			res.Events.Runs, res.Events.Workflows))
	}
	if res.RunEvents, res.RunEventsFrom, err = sampleRunEvents(ctx, c, sample(runIDs, o.runsSampled)); err != nil {
		return nil, err
	}

	logf("steward: removing the plans")
	err = forEach(ctx, len(planIDs), o.parallel, func(ctx context.Context, i int) error {
		if err := control.Remove(ctx, c, planIDs[i]); err != nil {
			return err
		}
		return waitClosed(ctx, c, plan.WorkflowID(planIDs[i]), 2*time.Minute)
	})
	if err != nil {
		return nil, err
	}
	logf("steward: %d/%d nominal runs started, lateness p99 %s", res.Started, res.Expected, ms(res.Lateness.P99))
	return res, nil
}

// collectPlan reads one plan's ledger, its run workflows' start times from
// visibility, and its PlanWorkflow history.
func collectPlan(ctx context.Context, c client.Client, id string, w window, every time.Duration) (planOutcome, error) {
	out := planOutcome{notStart: map[string]int{}, expected: nominalIn(w, every)}
	var ledger []api.LedgerEntry
	err := retry(ctx, func(ctx context.Context) (err error) {
		ledger, err = control.Ledger(ctx, c, id, 0)
		return err
	})
	if err != nil {
		return out, err
	}
	var starts map[string]runTimes
	err = retry(ctx, func(ctx context.Context) (err error) {
		starts, err = runStarts(ctx, c, id)
		return err
	})
	if err != nil {
		return out, err
	}
	seen := map[time.Time]bool{}
	// inFlight is the run started last: the ledger is in the order entries
	// were recorded, so it is the run in flight at an overlap-skipped entry.
	inFlight := ""
	for _, le := range ledger {
		started := le.Outcome == api.LedgerStarted || le.Outcome == api.LedgerSucceeded ||
			le.Outcome == api.LedgerFailed
		if le.RunID != "" && le.Started != nil {
			inFlight = le.RunID
		}
		if started && le.Started != nil && le.Started.Before(w.End) {
			out.lifeRuns++
			if w.has(*le.Started) {
				out.winRuns++
			}
		}
		if !w.has(le.Nominal) || le.Outcome == api.LedgerDeadlineMissed || strings.HasPrefix(le.Detail, "triggered") {
			continue
		}
		seen[le.Nominal.UTC()] = true
		if !started || le.Started == nil {
			out.notStart[le.Outcome]++
			if le.Outcome == api.LedgerOverlapSkipped {
				out.diag.OverlapSkipped++
				if r, ok := starts[inFlight]; ok && !r.close.IsZero() {
					out.diag.inFlight = append(out.diag.inFlight, r.close.Sub(le.Nominal))
					if !r.close.After(le.Nominal) {
						out.diag.RunClosedBefore++
					}
				}
			}
			continue
		}
		out.started = append(out.started, le.Started.Sub(le.Nominal))
		out.runIDs = append(out.runIDs, le.RunID)
		r, ok := starts[le.RunID]
		if !ok {
			out.childMiss++
			continue
		}
		out.child = append(out.child, r.start.Sub(le.Nominal))
		if !r.close.IsZero() {
			out.diag.runDur = append(out.diag.runDur, r.close.Sub(r.start))
			if le.Outcome != api.LedgerStarted {
				out.diag.notice = append(out.diag.notice, le.At.Sub(r.close))
			}
		}
	}
	for t := w.Start; t.Before(w.End); t = t.Add(every) {
		if !seen[t] {
			out.notStart["absent from ledger"]++
		}
	}
	err = retry(ctx, func(ctx context.Context) (err error) {
		out.events, err = countHistory(ctx, c, plan.WorkflowID(id), w)
		return err
	})
	if err != nil {
		return out, err
	}
	out.events.LifeRuns, out.events.WindowRuns = out.lifeRuns, out.winRuns
	return out, nil
}

type workflowExecution = workflowpb.WorkflowExecutionInfo

var visibilityMu sync.Mutex

type runTimes struct{ start, close time.Time }

// runStarts maps the run workflows of plan id to their start and close
// times (zero while running).
func runStarts(ctx context.Context, c client.Client, id string) (map[string]runTimes, error) {
	q := fmt.Sprintf("WorkflowType = '%s' AND %s = '%s'", api.BackupRunWorkflowName, api.AttrPlan.GetName(), id)
	out := map[string]runTimes{}
	err := listWorkflows(ctx, c, q, func(e *workflowExecution) {
		r := runTimes{start: e.GetStartTime().AsTime()}
		if e.GetCloseTime() != nil {
			r.close = e.GetCloseTime().AsTime()
		}
		out[e.GetExecution().GetWorkflowId()] = r
	})
	if err != nil {
		return nil, fmt.Errorf("run workflows of plan %s: %w", id, err)
	}
	return out, nil
}

// listWorkflows pages through a visibility query. Calls are serialised: the
// embedded server limits visibility requests per second.
func listWorkflows(ctx context.Context, c client.Client, query string, f func(*workflowExecution)) error {
	var token []byte
	for {
		visibilityMu.Lock()
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: 1000, NextPageToken: token,
		})
		visibilityMu.Unlock()
		if err != nil {
			return fmt.Errorf("list %q: %w", query, err)
		}
		for _, e := range resp.GetExecutions() {
			f(e)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return nil
		}
	}
}
