package main

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/workflows"
	"github.com/steward-ops/steward/workflows/api"
)

const (
	// schedulePrefix names the bench's schedules: native-0000, ...
	schedulePrefix = "native-"
	// schedulerWorkflowPrefix is how server 1.32 names the workflow that
	// implements a (V1, workflow-based) schedule: the prefix plus the
	// schedule ID, in the schedule's namespace. It is the server's
	// scheduler.WorkflowIDPrefix (service/worker/scheduler), copied here:
	// only internal/devserver may import the server.
	schedulerWorkflowPrefix = "temporal-sys-scheduler:"
	// Search attributes the scheduler sets on the workflows it starts.
	attrScheduledStart = "TemporalScheduledStartTime"
	attrScheduledBy    = "TemporalScheduledById"
)

type scheduleOutcome struct {
	late     []time.Duration
	expected int
	runIDs   []string
	events   events
	info     map[string]int64
	noHist   bool
	err      error
}

func runNative(ctx context.Context, e *env, o options) (*phaseResult, error) {
	c := e.client
	schedIDs := ids(schedulePrefix, o.plans)
	logf("native: creating %d schedules every %v", o.plans, o.every)
	began := time.Now()
	err := forEach(ctx, len(schedIDs), o.parallel, func(ctx context.Context, i int) error {
		id := schedIDs[i]
		p := benchPlan(id, o.every)
		_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID:      id,
			Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: o.every}}},
			Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
			Action: &client.ScheduleWorkflowAction{
				ID:        id + "-run",
				Workflow:  api.BackupRunWorkflowName,
				TaskQueue: activities.TaskQueue,
				Args: []any{workflows.BackupRunRequest{
					PlanID: id, Host: p.Host, Backup: *p.Backup, Retry: p.Retry.Activity,
				}},
			},
		})
		if err != nil {
			return fmt.Errorf("create schedule %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	setup := time.Since(began)
	w := nextWindow(time.Now(), o.every, o.duration)
	logf("native: %d schedules created in %v", o.plans, setup.Round(time.Millisecond))
	if err := waitWindow(ctx, phaseNative, w, o.settle); err != nil {
		return nil, err
	}

	logf("native: collecting schedules, started workflows and scheduler histories")
	outs := make([]scheduleOutcome, len(schedIDs))
	err = forEach(ctx, len(schedIDs), o.parallel, func(ctx context.Context, i int) error {
		out, err := collectSchedule(ctx, e, schedIDs[i], w, o.every)
		out.err = err
		outs[i] = out
		return nil
	})
	if err != nil {
		return nil, err
	}
	failed, firstErr := 0, error(nil)

	res := &phaseResult{Name: phaseNative, Window: w, SetupSeconds: round2(setup.Seconds()),
		NotStarted: map[string]int{}, ScheduleInfo: map[string]int64{}}
	var late []time.Duration
	var runIDs []string
	noHist := 0
	for _, out := range outs {
		if out.err != nil {
			failed++
			if firstErr == nil {
				firstErr = out.err
			}
			continue
		}
		res.Expected += out.expected
		res.Started += len(out.late)
		late = append(late, out.late...)
		runIDs = append(runIDs, out.runIDs...)
		for k, v := range out.info {
			res.ScheduleInfo[k] += v
		}
		if out.noHist {
			noHist++
			continue
		}
		res.Events.add(out.events)
	}
	res.Events.finish()
	if failed > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d of %d could not be collected and are left out; first error: %v",
			failed, len(outs), firstErr))
	}
	if n := res.Expected - res.Started; n > 0 {
		res.NotStarted["not started (see schedule_info for why)"] = n
	}
	if res.Expected > 0 {
		res.StartedPct = round2(100 * float64(res.Started) / float64(res.Expected))
	}
	res.Lateness = summarize(late)
	if noHist > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf(
			"%d schedules have no %s<id> workflow: not observable as history (CHASM scheduler?)", noHist, schedulerWorkflowPrefix))
	}
	if res.Events.Runs > res.Events.Workflows {
		res.Notes = append(res.Notes, fmt.Sprintf("scheduler workflows continued-as-new: %d runs over %d workflows",
			res.Events.Runs, res.Events.Workflows))
	}
	if res.RunEvents, res.RunEventsFrom, err = sampleRunEvents(ctx, c, sample(runIDs, o.runsSampled)); err != nil {
		return nil, err
	}

	logf("native: deleting the schedules")
	err = forEach(ctx, len(schedIDs), o.parallel, func(ctx context.Context, i int) error {
		if err := c.ScheduleClient().GetHandle(ctx, schedIDs[i]).Delete(ctx); err != nil {
			return fmt.Errorf("delete schedule %s: %w", schedIDs[i], err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	logf("native: %d/%d nominal runs started, lateness p99 %s", res.Started, res.Expected, ms(res.Lateness.P99))
	return res, nil
}

// collectSchedule reads one schedule's counters, the workflows it started
// (from visibility) and its scheduler workflow's history.
func collectSchedule(ctx context.Context, e *env, id string, w window, every time.Duration) (scheduleOutcome, error) {
	c := e.client
	out := scheduleOutcome{expected: nominalIn(w, every)}
	var desc *workflowservice.DescribeScheduleResponse
	err := retry(ctx, func(ctx context.Context) (err error) {
		desc, err = c.WorkflowService().DescribeSchedule(ctx, &workflowservice.DescribeScheduleRequest{
			Namespace: e.ns, ScheduleId: id,
		})
		return err
	})
	if err != nil {
		return out, fmt.Errorf("describe schedule %s: %w", id, err)
	}
	info := desc.GetInfo()
	out.info = map[string]int64{
		"action_count":          info.GetActionCount(),
		"missed_catchup_window": info.GetMissedCatchupWindow(),
		"overlap_skipped":       info.GetOverlapSkipped(),
		"buffer_dropped":        info.GetBufferDropped(),
		"buffer_size":           info.GetBufferSize(),
		"running_workflows":     int64(len(info.GetRunningWorkflows())),
	}

	var seen map[time.Time]bool
	var lifeRuns, winRuns int
	dc := converter.GetDefaultDataConverter()
	q := fmt.Sprintf("%s = '%s'", attrScheduledBy, id)
	var decodeErr error
	err = retry(ctx, func(ctx context.Context) error {
		seen, lifeRuns, winRuns, decodeErr = map[time.Time]bool{}, 0, 0, nil
		out.late, out.runIDs = nil, nil
		return listWorkflows(ctx, c, q, func(ex *workflowExecution) {
			p := ex.GetSearchAttributes().GetIndexedFields()[attrScheduledStart]
			var nominal time.Time
			if p == nil {
				decodeErr = fmt.Errorf("workflow %s has no %s", ex.GetExecution().GetWorkflowId(), attrScheduledStart)
				return
			}
			if err := dc.FromPayload(p, &nominal); err != nil {
				decodeErr = fmt.Errorf("workflow %s: decode %s: %w", ex.GetExecution().GetWorkflowId(), attrScheduledStart, err)
				return
			}
			start := ex.GetStartTime().AsTime()
			if start.Before(w.End) {
				lifeRuns++
				if w.has(start) {
					winRuns++
				}
			}
			nominal = nominal.UTC()
			if !w.has(nominal) || seen[nominal] {
				return
			}
			seen[nominal] = true
			out.late = append(out.late, start.Sub(nominal))
			out.runIDs = append(out.runIDs, ex.GetExecution().GetWorkflowId())
		})
	})
	if err != nil {
		return out, fmt.Errorf("workflows started by schedule %s: %w", id, err)
	}
	if decodeErr != nil {
		return out, decodeErr
	}

	err = retry(ctx, func(ctx context.Context) (err error) {
		out.events, err = countHistory(ctx, c, schedulerWorkflowPrefix+id, w)
		return err
	})
	switch {
	case isNotFound(err):
		out.noHist = true
	case err != nil:
		return out, err
	}
	out.events.LifeRuns, out.events.WindowRuns = lifeRuns, winRuns
	return out, nil
}
