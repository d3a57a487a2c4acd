package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/internal/schedule"
	"github.com/steward-ops/steward/workflows/api"
)

// Bounds on what PlanWorkflow keeps and does per execution.
const (
	maxPauseHistory = 20
	maxLeases       = 32
	// runsPerExecution bounds history growth even when the server does not
	// suggest continue-as-new.
	runsPerExecution = 500
	// dueScanLimit bounds how many missed cron times are counted one by one.
	dueScanLimit = 10000
)

// planner is the PlanWorkflow's in-memory state for one execution.
type planner struct {
	// ctx is the workflow's root context: runs started from an Update
	// handler belong to the plan, not to the handler.
	ctx    workflow.Context
	spec   plan.Plan
	sched  *schedule.Schedule
	st     *State
	logger log.Logger

	runFuture workflow.ChildWorkflowFuture
	runCancel workflow.CancelFunc
	// cancelReason says who cancelled the run in flight, for the ledger.
	cancelReason string
	// checkFuture is the precondition check in flight; checkCancel
	// cancels it (versionTruth), for checkCancelReason.
	checkFuture       workflow.Future
	checkCancel       workflow.CancelFunc
	checkCancelReason string
	// evictFuture is a preheat plan's cache eviction in flight.
	evictFuture workflow.Future
	// verifyJob and maintainJob are a backup plan's repository jobs.
	verifyJob   repoJob
	maintainJob repoJob
	// failuresV1 enables preconditions, run-level retries, the circuit
	// breaker and run-record retention: executions started before they
	// existed replay without them.
	failuresV1 bool
	// version is the rung of the version ladder this execution runs on.
	version  planVersion
	runsHere int

	// changed wakes the loop after an update handler changed the spec.
	changed workflow.Channel
	// notes are the notifications in flight.
	notes []workflow.Future

	shownDetails string
	shownAttrs   attrs
	attrsShown   bool
}

// PlanWorkflow runs one plan forever: it waits on a durable timer for the
// next nominal fire time or the next pause expiry, handles the pause,
// unpause and trigger signals, and starts one child run workflow per fire
// time, with an ID derived from that time so a slot can never run twice.
func PlanWorkflow(ctx workflow.Context, in PlanInput) error {
	p, err := newPlanner(ctx, in)
	if err != nil {
		// A spec that no longer validates would wedge the plan; fail it
		// with a clear, non-retryable error instead.
		return temporal.NewNonRetryableApplicationError(err.Error(), "StewardBadSpec", nil)
	}
	if err := p.registerHandlers(ctx); err != nil {
		return err
	}
	p.failuresV1 = workflow.GetVersion(ctx, "failures", workflow.DefaultVersion, 1) >= 1
	p.version = getPlanVersion(ctx)
	pauseCh := workflow.GetSignalChannel(ctx, api.SignalPause)
	unpauseCh := workflow.GetSignalChannel(ctx, api.SignalUnpause)
	triggerCh := workflow.GetSignalChannel(ctx, api.SignalTrigger)

	var timer workflow.Future
	var timerAt time.Time
	var cancelTimer workflow.CancelFunc
	for {
		now := workflow.Now(ctx)
		p.expireLeases(now)
		p.expireRecords(now)
		p.handleDue(ctx, now)
		p.handleCacheExpiry(ctx, now)
		p.armVerify()
		p.handleVerify(ctx, now)
		p.armMaintenance()
		p.handleMaintenance(ctx, now)
		p.publish(ctx)

		if !p.busy() && p.evictFuture == nil && p.jobsIdle() && len(p.notes) == 0 && (p.runsHere >= runsPerExecution || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			// Signals delivered but not yet received would be lost.
			p.drain(ctx, pauseCh, unpauseCh, triggerCh)
			if !p.busy() && p.evictFuture == nil && p.jobsIdle() && len(p.notes) == 0 {
				return workflow.NewContinueAsNewError(ctx, api.PlanWorkflowName, PlanInput{Spec: p.spec, State: p.st})
			}
		}

		wake, summary := p.wakeTime()
		if timer != nil && !wake.Equal(timerAt) {
			cancelTimer()
			timer = nil
		}
		if timer == nil && !wake.IsZero() {
			tctx, cancel := workflow.WithCancel(ctx)
			d := wake.Sub(now)
			if d <= 0 {
				d = time.Millisecond
			}
			timer = workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: summary})
			timerAt, cancelTimer = wake, cancel
		}

		sel := workflow.NewSelector(ctx)
		if timer != nil {
			t := timer
			sel.AddFuture(t, func(workflow.Future) {
				if timer == t {
					timer = nil
				}
			})
		}
		sel.AddReceive(pauseCh, func(c workflow.ReceiveChannel, _ bool) { p.receivePause(ctx, c) })
		sel.AddReceive(unpauseCh, func(c workflow.ReceiveChannel, _ bool) { p.receiveUnpause(ctx, c) })
		sel.AddReceive(triggerCh, func(c workflow.ReceiveChannel, _ bool) { p.receiveTrigger(ctx, c) })
		sel.AddReceive(p.changed, func(c workflow.ReceiveChannel, _ bool) { c.ReceiveAsync(nil) })
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		if p.runFuture != nil {
			sel.AddFuture(p.runFuture, func(f workflow.Future) { p.finishRun(ctx, f) })
		}
		if p.checkFuture != nil {
			sel.AddFuture(p.checkFuture, func(f workflow.Future) { p.finishCheck(ctx, f) })
		}
		if p.evictFuture != nil {
			sel.AddFuture(p.evictFuture, func(f workflow.Future) { p.finishEvict(ctx, f) })
		}
		if f := p.verifyJob.future; f != nil {
			sel.AddFuture(f, func(f workflow.Future) { p.finishVerify(ctx, f) })
		}
		if f := p.maintainJob.future; f != nil {
			sel.AddFuture(f, func(f workflow.Future) { p.finishMaintenance(ctx, f) })
		}
		for _, f := range p.notes {
			sel.AddFuture(f, p.finishNotify)
		}
		sel.Select(ctx)
		if err := ctx.Err(); err != nil {
			// The plan was cancelled (steward plan rm): stop the run too.
			p.cancelRun("the plan was removed")
			return err
		}
	}
}

func newPlanner(ctx workflow.Context, in PlanInput) (*planner, error) {
	if err := in.Spec.Validate(); err != nil {
		return nil, err
	}
	sched, err := schedule.New(in.Spec.ScheduleSpec())
	if err != nil {
		return nil, fmt.Errorf("plan.schedule: %w", err)
	}
	in.Spec.SetDefaults()
	st := in.State
	if st == nil {
		now := workflow.Now(ctx).UTC()
		st = &State{Version: StateVersion, Created: now, Prev: now}
	}
	p := &planner{
		ctx:     ctx,
		spec:    in.Spec,
		sched:   sched,
		st:      st,
		logger:  workflow.GetLogger(ctx),
		changed: workflow.NewBufferedChannel(ctx, 1),
	}
	if p.st.NextRun.IsZero() {
		p.st.NextRun = p.sched.Next(p.st.Prev, p.anchors())
	}
	// A run carried across continue-as-new cannot be: CAN happens only with
	// no run in flight. Treat a stray record as lost rather than wedge.
	if p.st.Running != nil {
		p.endRun(workflow.Now(ctx), api.OutcomeFailed, "run lost across continue-as-new", nil)
	}
	return p, nil
}

func (p *planner) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, api.QueryStatus, func() (api.Status, error) {
		return p.status(), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, api.QueryLedger, func(n int) ([]api.LedgerEntry, error) {
		return p.ledger(n), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, api.QueryPreview, func(n int) ([]api.FireTime, error) {
		return p.preview(n), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, api.QuerySpec, func() (plan.Plan, error) {
		return p.spec, nil
	}); err != nil {
		return err
	}
	if err := p.registerRequestHandlers(ctx); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, api.UpdateNotifyTest, p.notifyTest); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, api.UpdateVerify,
		func(_ workflow.Context, req api.VerifyNow) (api.VerifyStarted, error) {
			started := p.verifyNow(req)
			p.changed.SendAsync(true)
			return started, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(req api.VerifyNow) error {
			if err := p.validateVerify(req); err != nil {
				p.st.Counters.RejectedUpdates++
				return err
			}
			return nil
		}},
	); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, api.UpdateApply,
		func(ctx workflow.Context, spec plan.Plan) (api.Status, error) {
			p.apply(ctx, spec)
			return p.status(), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(spec plan.Plan) error {
			if err := p.validateApply(spec); err != nil {
				p.st.Counters.RejectedUpdates++
				return err
			}
			return nil
		}},
	)
}

func (p *planner) validateApply(spec plan.Plan) error {
	spec.SetDefaults()
	if err := spec.Validate(); err != nil {
		return err
	}
	if err := plan.CheckReplace("plan", p.spec, spec); err != nil {
		return err
	}
	if _, err := schedule.New(spec.ScheduleSpec()); err != nil {
		return fmt.Errorf("plan.schedule: %w", err)
	}
	return nil
}

func (p *planner) apply(ctx workflow.Context, spec plan.Plan) {
	spec.SetDefaults()
	sched, err := schedule.New(spec.ScheduleSpec())
	if err != nil {
		// Unreachable after the validator; never panic, never wedge.
		p.st.Counters.RejectedUpdates++
		return
	}
	p.spec, p.sched = spec, sched
	p.st.NextRun = p.sched.Next(p.st.Prev, p.anchors())
	// Re-armed from the new backup.verify and backup.maintenance.
	p.st.VerifyAt, p.st.MaintainAt, p.st.MaintainFullAt = nil, nil, nil
	p.changed.SendAsync(true)
}

func (p *planner) anchors() schedule.Anchors {
	return schedule.Anchors{Created: p.st.Created, LastRun: p.st.LastRunStart, LastSuccess: p.st.LastSuccessStart}
}

// wakeTime is when the loop must next wake up by itself, and why.
func (p *planner) wakeTime() (time.Time, string) {
	var at time.Time
	var why string
	consider := func(t time.Time, reason string) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at, why = t, reason
		}
	}
	if p.paused() {
		for _, l := range p.st.Leases {
			if l.Until != nil {
				consider(*l.Until, "pause "+l.ID+" expires")
			}
			if l.UntilNextRun {
				consider(p.st.NextRun, "pause "+l.ID+" ends after the run due")
			}
		}
	} else {
		if !p.st.NextRun.IsZero() {
			consider(p.planned(p.st.NextRun), "next run, due "+p.st.NextRun.UTC().Format(time.RFC3339)+",")
		}
		if p.st.Running == nil && len(p.st.Queue) > 0 {
			if t, ok := p.sched.StartAt(p.spec.ID, p.st.Queue[0]); ok {
				consider(t, "queued run, due "+p.st.Queue[0].UTC().Format(time.RFC3339)+", may start")
			}
		}
	}
	if !p.st.Overdue {
		consider(p.deadlineAt(), "deadline")
	}
	if !p.paused() && !p.busy() {
		if r := p.st.Retry; r != nil {
			consider(r.NextAt, fmt.Sprintf("retry %d/%d", r.Attempt, p.maxRetries()))
		}
		if p.st.Recheck != nil {
			consider(*p.st.Recheck, "preconditions checked again")
		}
	}
	consider(p.nextRecordExpiry(), "a run record expires")
	consider(p.evictionDue(), "a cache entry expires")
	consider(p.verifyDue(), "verification of the repository")
	consider(p.maintenanceDue(), "maintenance of the repository")
	if at.IsZero() {
		return at, ""
	}
	return at, fmt.Sprintf("%s at %s", why, at.UTC().Format(time.RFC3339))
}

// drain handles every signal already delivered, before continue-as-new.
func (p *planner) drain(ctx workflow.Context, pause, unpause, trigger workflow.ReceiveChannel) {
	for {
		var raw converter.RawValue
		switch {
		case pause.ReceiveAsync(&raw):
			p.onPause(ctx, raw)
		case unpause.ReceiveAsync(&raw):
			p.onUnpause(ctx, raw)
		case trigger.ReceiveAsync(&raw):
			p.onTrigger(ctx, raw)
		default:
			return
		}
	}
}

func (p *planner) reject(ctx workflow.Context, signal string, err error) {
	p.st.Counters.RejectedSignals++
	p.metrics().WithTags(map[string]string{"signal": signal}).Counter(metricSignalsRejected).Inc(1)
	msg := clip(fmt.Sprintf("%s signal at %s rejected: %v", signal, workflow.Now(ctx).UTC().Format(time.RFC3339), err), 2*maxTextLen)
	p.st.LastRejection = &msg
	p.logger.Warn("Rejected signal", "signal", signal, "error", err)
}

func (p *planner) receiveTrigger(ctx workflow.Context, c workflow.ReceiveChannel) {
	var raw converter.RawValue
	if c.ReceiveAsync(&raw) {
		p.onTrigger(ctx, raw)
	}
}

func (p *planner) onTrigger(ctx workflow.Context, raw converter.RawValue) {
	var s api.TriggerSignal
	if err := decodeSignal(raw, &s); err != nil {
		p.reject(ctx, api.SignalTrigger, err)
		return
	}
	if err := validateTrigger(s); err != nil {
		p.reject(ctx, api.SignalTrigger, err)
		return
	}
	if p.paused() && !s.Force {
		p.reject(ctx, api.SignalTrigger, errors.New("the plan is paused; trigger with force to run anyway"))
		return
	}
	if p.paused() && !p.busy() {
		// A forced trigger runs now, whatever the leases say.
		now := workflow.Now(ctx)
		p.launch(ctx, PendingRun{Nominal: now, StartAt: now, Trigger: &s})
		return
	}
	p.st.Trigger = &s
}

// isCanceled reports whether err is a cancellation.
func isCanceled(err error) bool {
	var ce *temporal.CanceledError
	return errors.As(err, &ce)
}
