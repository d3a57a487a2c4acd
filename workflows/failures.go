package workflows

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// circuitLease is the ID of the lease the circuit breaker adds.
const circuitLease = "circuit-open"

// legacyRecentRuns bounds run records of executions that started before
// run-record retention existed (and so keep their old behaviour on replay).
const legacyRecentRuns = 20

// busy reports whether a run is in flight or its preconditions are being
// checked: either way nothing else may start.
func (p *planner) busy() bool { return p.st.Running != nil || p.st.Checking != nil }

func (p *planner) maxRetries() int {
	if !p.failuresV1 || p.spec.Retry.Run.MaxRetries == nil {
		return 0
	}
	return *p.spec.Retry.Run.MaxRetries
}

// launch starts a run, after checking its preconditions on the plan's host
// when it has any. A forced trigger skips them.
func (p *planner) launch(ctx workflow.Context, pr PendingRun) {
	if !p.failuresV1 || len(p.spec.Preconditions) == 0 || (pr.Trigger != nil && pr.Trigger.Force) {
		p.startAttempt(ctx, pr)
		return
	}
	var timeout time.Duration
	req := activities.CheckPreconditionsRequest{PlanID: p.spec.ID, Nominal: pr.Nominal.UTC()}
	for _, c := range p.spec.Preconditions {
		req.Preconditions = append(req.Preconditions, activities.Precondition{
			PathExists: c.PathExists, Mounted: c.Mounted, MinFree: int64(c.MinFree), MinFreePath: c.Path,
			Command: c.Command, Timeout: c.Timeout.D(),
		})
		timeout += c.Timeout.D()
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              activities.HostTaskQueue(p.spec.Host),
		ScheduleToStartTimeout: 5 * time.Minute,
		StartToCloseTimeout:    timeout + time.Minute,
		HeartbeatTimeout:       time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			MaximumAttempts:        3,
			NonRetryableErrorTypes: activities.NonRetryableErrors,
		},
		Summary: "check preconditions",
	})
	if p.atLeast(versionTruth) {
		// Pause mode all cancels the check (and kills its command).
		actx, p.checkCancel = workflow.WithCancel(actx)
	}
	p.checkFuture = workflow.ExecuteActivity(actx, activities.CheckPreconditions, req)
	p.checkCancelReason = ""
	c := pr
	p.st.Checking = &c
}

// cancelCheck cancels the check of preconditions in flight, saying why in
// the ledger.
func (p *planner) cancelCheck(reason string) {
	if p.checkCancel != nil && p.checkFuture != nil {
		p.checkCancelReason = reason
		p.checkCancel()
	}
}

// finishCheck acts on the preconditions' verdict.
func (p *planner) finishCheck(ctx workflow.Context, f workflow.Future) {
	var res activities.CheckPreconditionsResult
	err := f.Get(ctx, &res)
	p.checkFuture, p.checkCancel = nil, nil
	pr := p.st.Checking
	p.st.Checking = nil
	if pr == nil {
		return
	}
	now := workflow.Now(ctx).UTC()
	if p.atLeast(versionTruth) {
		forced := pr.Trigger != nil && pr.Trigger.Force
		switch {
		case err != nil && isCanceled(err):
			p.st.Counters.Cancelled++
			p.resolveWaiting(pr.Nominal, api.LedgerCancelled, "cancelled while its preconditions were checked: "+p.checkCancelReason, now)
			return
		case p.paused() && !forced:
			// Paused while the check ran: the run does not start.
			p.st.Counters.Skipped++
			p.st.Counters.SkippedPaused++
			p.resolveWaiting(pr.Nominal, api.LedgerSkippedPaused, "paused while its preconditions were checked", now)
			return
		}
	}
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == activities.ErrBadConfig {
			res = activities.CheckPreconditionsResult{Verdict: activities.VerdictFail, Reason: app.Error()}
		} else {
			// The host did not answer: try again later.
			res = activities.CheckPreconditionsResult{Verdict: activities.VerdictWait, Reason: "precondition check: " + runError(err)}
		}
	}
	reason := clip(res.Reason, 300)
	switch res.Verdict {
	case activities.VerdictProceed:
		p.startAttempt(ctx, *pr)
	case activities.VerdictSkip:
		p.st.Counters.SkippedPrecondition++
		if pr.Attempt == 0 {
			p.resolveWaiting(pr.Nominal, api.LedgerSkippedPrecondition, reason, now)
		}
	case activities.VerdictWait:
		at := now.Add(p.recheckInterval(pr.Nominal))
		pr.StartAt = at
		if pr.Attempt > 0 {
			pr.NextAt = at
			p.st.Retry = pr
		} else if pr.Trigger == nil {
			p.st.Queue = append([]time.Time{pr.Nominal}, p.st.Queue...)
			p.st.Recheck = &at
		} else {
			p.st.Trigger, p.st.Recheck = pr.Trigger, &at
		}
		detail := fmt.Sprintf("precondition: %s; checking again at %s", reason, at.Format(time.RFC3339))
		if e := p.waitingEntry(pr.Nominal); e != nil {
			e.Detail, e.At = detail, now
		} else if pr.Attempt == 0 {
			p.record(api.LedgerEntry{Nominal: pr.Nominal, Outcome: api.LedgerWaiting, At: now, Detail: detail})
		}
	default: // fail
		p.st.Counters.Failed++
		p.resolveWaiting(pr.Nominal, api.LedgerFailed, "precondition: "+reason, now)
		if p.atLeast(versionTruth) {
			p.recordCheckFailure(*pr, "precondition: "+reason, now)
		}
		p.failedFinally(now, "precondition: "+reason)
	}
}

// recordCheckFailure counts a run whose preconditions failed as a failed
// run everywhere: runs, last run, run records; its ledger entry says so.
func (p *planner) recordCheckFailure(pr PendingRun, msg string, now time.Time) {
	id, why := RunID(p.spec.ID, pr.Nominal), "schedule"
	switch {
	case pr.Attempt > 0:
		id = fmt.Sprintf("%s/retry-%d", pr.BaseID, pr.Attempt)
	case pr.Trigger != nil:
		id, why = triggerRunID(p.spec.ID, pr.Nominal), "trigger"
	}
	if pr.Attempt > 0 && pr.Trigger != nil {
		why = "trigger"
	}
	if pr.Attempt == 0 {
		p.st.Counters.Runs++
	}
	msg = clip(msg, 2*maxTextLen)
	r := api.RunRecord{ID: id, Nominal: pr.Nominal.UTC(), Started: now, Finished: &now,
		Outcome: api.OutcomeFailed, Error: &msg, Trigger: why, Attempt: pr.Attempt}
	p.st.LastRun = &r
	p.addRecord(r, now)
	p.countRun(api.OutcomeFailed, nil)
}

// recheckInterval is how long a run waits before its preconditions are
// checked again: half the interval, between 5 seconds and 5 minutes.
func (p *planner) recheckInterval(nominal time.Time) time.Duration {
	d := p.sched.Next(nominal, p.anchors()).Sub(nominal) / 2
	return min(max(d, 5*time.Second), 5*time.Minute)
}

// scheduleRetry plans the next run-level retry of the failed run r, if
// retries are left, and reports when.
func (p *planner) scheduleRetry(r *api.RunRecord, now time.Time) (time.Time, bool) {
	if r.Attempt >= p.maxRetries() {
		return time.Time{}, false
	}
	rr := p.spec.Retry.Run
	wait := time.Duration(float64(rr.Interval.D()) * math.Pow(max(rr.Backoff, 1), float64(r.Attempt)))
	base, _, _ := strings.Cut(r.ID, "/retry-")
	next := now.Add(wait)
	p.st.Retry = &PendingRun{Nominal: r.Nominal, StartAt: next, NextAt: next, Attempt: r.Attempt + 1, BaseID: base}
	if r.Trigger == "trigger" {
		p.st.Retry.Trigger = &api.TriggerSignal{Reason: "retry of a triggered run"}
	}
	return next, true
}

// supersededError is the error of a fire time whose run-level retries a
// newer fire time superseded: its last attempt's.
func (p *planner) supersededError() string {
	if lr := p.st.LastRun; lr != nil && lr.Error != nil {
		return *lr.Error
	}
	return "its retries were given up for a newer fire time"
}

// handleRetry starts a due run-level retry, or gives it up when a newer
// fire time came due (the new run supersedes it).
func (p *planner) handleRetry(ctx workflow.Context, now time.Time) {
	r := p.st.Retry
	if r == nil || p.busy() || p.paused() {
		return
	}
	if len(p.st.Queue) > 0 {
		p.st.Retry = nil
		p.failedFinally(now, p.supersededError())
		return
	}
	if r.NextAt.After(now) {
		return
	}
	p.st.Retry = nil
	p.st.Counters.Retries++
	p.launch(ctx, *r)
}

// failedFinally counts a fire time that failed with no retry left, and
// opens the circuit after too many in a row.
func (p *planner) failedFinally(now time.Time, errMsg string) {
	p.st.ConsecutiveFailures++
	p.notify(plan.EventFailed, errMsg, "")
	n := p.spec.Retry.PauseAfterFailures
	if !p.failuresV1 || n <= 0 || p.st.ConsecutiveFailures < n || p.hasLease(circuitLease) {
		return
	}
	reason := fmt.Sprintf("circuit-open: %d consecutive failed runs", p.st.ConsecutiveFailures)
	p.st.Leases = append(p.st.Leases, api.Lease{
		ID:     circuitLease,
		Reason: reason,
		By:     "steward",
		Mode:   api.ModeNewRuns,
		Since:  now,
	})
	p.st.Counters.Pauses++
	p.notify(plan.EventCircuitOpen, "", "paused: "+reason+"; unpause with `steward unpause "+p.spec.ID+"`")
}

// addRecord keeps a finished run's record, within the plan's history
// bounds.
func (p *planner) addRecord(r api.RunRecord, now time.Time) {
	p.st.RecentRuns = append(p.st.RecentRuns, r)
	limit := legacyRecentRuns
	if p.failuresV1 {
		limit = p.spec.History.Max
	}
	if n := len(p.st.RecentRuns); limit > 0 && n > limit {
		p.st.RecentRuns = append([]api.RunRecord(nil), p.st.RecentRuns[n-limit:]...)
	}
	p.expireRecords(now)
}

// recordExpiry is when run record r expires: its finish time plus the
// plan's retention for its outcome.
func (p *planner) recordExpiry(r api.RunRecord) time.Time {
	if r.Finished == nil {
		return time.Time{}
	}
	keep := p.spec.History.Keep.D()
	if r.Outcome != api.OutcomeSucceeded {
		keep = p.spec.History.Failed.D()
	}
	return r.Finished.Add(keep)
}

// expireRecords drops the run records whose time is up, keeping at least
// history.min of them. It decides from the workflow clock.
func (p *planner) expireRecords(now time.Time) {
	if !p.failuresV1 || p.spec.History.Min == nil {
		return
	}
	keepMin := *p.spec.History.Min
	kept := p.st.RecentRuns[:0]
	left := len(p.st.RecentRuns)
	for _, r := range p.st.RecentRuns {
		if exp := p.recordExpiry(r); left > keepMin && !exp.IsZero() && !exp.After(now) {
			left--
			continue
		}
		kept = append(kept, r)
	}
	p.st.RecentRuns = kept
}

// nextRecordExpiry is when the next run record may expire, or zero.
func (p *planner) nextRecordExpiry() time.Time {
	if !p.failuresV1 || p.spec.History.Min == nil || len(p.st.RecentRuns) <= *p.spec.History.Min {
		return time.Time{}
	}
	var at time.Time
	for _, r := range p.st.RecentRuns {
		if exp := p.recordExpiry(r); !exp.IsZero() && (at.IsZero() || exp.Before(at)) {
			at = exp
		}
	}
	return at
}
