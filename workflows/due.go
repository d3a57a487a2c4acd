package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/internal/schedule"
	"github.com/steward-ops/steward/workflows/api"
)

// maxListed bounds how many due fire times are handled one by one after a
// long downtime; older ones are counted as missed in one ledger entry.
const maxListed = 200

// handleDue decides, from the workflow clock, what is due at now: fire
// times that came due (run, coalesced, missed or overlap-skipped), a
// buffered trigger, and the queued run that may start.
func (p *planner) handleDue(ctx workflow.Context, now time.Time) {
	p.checkDeadline(now)
	if p.paused() {
		p.skipForUntilNextRun(now)
		return
	}
	policy := p.spec.CatchUp()
	if p.st.ResumeFrom != nil {
		if p.st.CatchUp == "" || p.st.CatchUp == string(schedule.PolicySkip) {
			p.skipPausedTimes(*p.st.ResumeFrom, now)
		} else {
			policy.Policy = schedule.Policy(p.st.CatchUp)
		}
		p.st.ResumeFrom, p.st.CatchUp = nil, ""
	}
	recheckDue := p.st.Recheck == nil || !p.st.Recheck.After(now)
	if t := p.st.Trigger; t != nil && !p.busy() && recheckDue {
		p.st.Trigger, p.st.Recheck = nil, nil
		p.launch(ctx, PendingRun{Nominal: now, StartAt: now, Trigger: t})
	}
	due, more := p.sched.DueTimes(p.st.NextRun, now, p.anchors(), maxListed)
	if len(due) > 0 {
		p.st.Prev = due[len(due)-1]
		if more > 0 {
			p.st.Counters.Missed += more
			p.recordMany(nil, more, api.LedgerMissed, "", now)
		}
		p.enqueue(due, policy, now)
		p.st.NextRun = p.sched.Next(p.st.Prev, p.anchors())
	}
	p.startQueued(ctx, now)
	p.handleRetry(ctx, now)
}

// skipPausedTimes records the fire times before end that came due while the
// plan was paused.
func (p *planner) skipPausedTimes(end, now time.Time) {
	due, more := p.sched.DueTimes(p.st.NextRun, end.Add(-time.Nanosecond), p.anchors(), maxListed)
	if len(due) == 0 {
		return
	}
	p.st.Counters.Skipped += len(due) + more
	p.st.Counters.SkippedPaused += len(due) + more
	p.recordMany(due, more, api.LedgerSkippedPaused, "", now)
	p.st.Prev = due[len(due)-1]
	p.st.NextRun = p.sched.Next(p.st.Prev, p.anchors())
}

// enqueue decides what happens to fire times that came due: with a run in
// flight the overlap policy applies; otherwise the catch-up policy does.
func (p *planner) enqueue(due []time.Time, policy schedule.CatchUp, now time.Time) {
	if p.busy() {
		for i, t := range due {
			if p.spec.Schedule.Overlap == plan.OverlapBufferOne && len(p.st.Queue) == 0 && i == len(due)-1 {
				p.st.Queue = append(p.st.Queue, t)
				p.record(api.LedgerEntry{Nominal: t, Outcome: api.LedgerWaiting, At: now,
					Detail: "buffered behind the run in flight"})
				continue
			}
			p.st.Counters.Skipped++
			p.st.Counters.OverlapSkipped++
			p.record(api.LedgerEntry{Nominal: t, Outcome: api.LedgerOverlapSkipped, At: now,
				Detail: "a run was in flight"})
		}
		return
	}
	policy.Grace = p.grace(due[len(due)-1])
	run, missed, coalesced := policy.Decide(due, now)
	p.st.Counters.Missed += len(missed)
	p.recordMany(missed, 0, api.LedgerMissed, fmt.Sprintf("late; catchup %s, catchup_window %v", policy.Policy, policy.Window), now)
	if len(run) > 0 {
		into := "coalesced into " + run[len(run)-1].UTC().Format(time.RFC3339)
		p.st.Counters.Coalesced += len(coalesced)
		p.recordMany(coalesced, 0, api.LedgerCoalesced, into, now)
		if policy.Policy != schedule.PolicyAll {
			// Runs still waiting for a window are superseded by the newer one.
			for _, q := range p.st.Queue {
				p.st.Counters.Coalesced++
				p.resolveWaiting(q, api.LedgerCoalesced, into, now)
			}
			p.st.Queue = nil
		}
	}
	p.st.Queue = append(p.st.Queue, run...)
	if n := len(p.st.Queue) - policy.Max; policy.Policy == schedule.PolicyAll && policy.Max > 0 && n > 0 {
		for _, q := range p.st.Queue[:n] {
			p.st.Counters.Missed++
			p.resolveWaiting(q, api.LedgerMissed, fmt.Sprintf("beyond catchup_max %d", policy.Max), now)
		}
		p.st.Queue = append([]time.Time(nil), p.st.Queue[n:]...)
	}
}

// grace is how late the latest due time may be and still run on time:
// its jitter plus a minute, or half the interval for short intervals.
func (p *planner) grace(latest time.Time) time.Duration {
	g := time.Minute
	if iv := p.sched.Next(latest, p.anchors()).Sub(latest); iv > 0 && iv/2 < g {
		g = iv / 2
	}
	return g + p.spec.Schedule.Jitter.D()
}

// startQueued starts the oldest queued fire time once its start time (its
// jitter, then the next allowed window) has come.
func (p *planner) startQueued(ctx workflow.Context, now time.Time) {
	if p.st.Recheck != nil && p.st.Recheck.After(now) {
		return
	}
	for !p.busy() && len(p.st.Queue) > 0 {
		head := p.st.Queue[0]
		at, ok := p.sched.StartAt(p.spec.ID, head)
		if !ok {
			p.st.Queue = p.st.Queue[1:]
			p.st.Counters.Missed++
			p.resolveWaiting(head, api.LedgerMissed, "no allowed start time within 8 days (windows/blackout)", now)
			continue
		}
		if at.After(now) {
			if planned := p.planned(head); at.After(planned) && p.waitingEntry(head) == nil {
				p.record(api.LedgerEntry{Nominal: head, Outcome: api.LedgerWaiting, At: now,
					Detail: "waits for an allowed window until " + at.UTC().Format(time.RFC3339)})
			}
			return
		}
		p.st.Queue = p.st.Queue[1:]
		p.st.Recheck = nil
		p.launch(ctx, PendingRun{Nominal: head, StartAt: at})
	}
}

// planned is when the run for nominal was planned to start: nominal plus
// its jitter.
func (p *planner) planned(nominal time.Time) time.Time {
	return nominal.Add(p.sched.Jitter(p.spec.ID, nominal))
}

// waitingEntry is the ledger entry of a fire time still waiting to run.
func (p *planner) waitingEntry(nominal time.Time) *api.LedgerEntry {
	for i := len(p.st.Ledger) - 1; i >= 0; i-- {
		e := &p.st.Ledger[i]
		if e.Nominal.Equal(nominal) && e.Outcome == api.LedgerWaiting {
			return e
		}
	}
	return nil
}

// resolveWaiting records the final outcome of a queued fire time.
func (p *planner) resolveWaiting(nominal time.Time, outcome, detail string, now time.Time) {
	if e := p.waitingEntry(nominal); e != nil {
		e.Outcome, e.Detail, e.At = outcome, detail, now.UTC()
		return
	}
	p.record(api.LedgerEntry{Nominal: nominal, Outcome: outcome, Detail: detail, At: now})
}

// deadlineAt is when the plan becomes stale without a new success, or zero
// when the plan has no deadline.
func (p *planner) deadlineAt() time.Time {
	d := p.spec.Schedule.Deadline.D()
	if d <= 0 {
		return time.Time{}
	}
	since := p.st.Created
	if p.st.LastSuccess != nil {
		since = *p.st.LastSuccess
	}
	return since.Add(d)
}

// checkDeadline raises the freshness alert when the last success is older
// than the plan's deadline; a success clears it.
func (p *planner) checkDeadline(now time.Time) {
	at := p.deadlineAt()
	if at.IsZero() {
		p.st.Overdue = false
		return
	}
	if now.Before(at) || p.st.Overdue {
		return
	}
	p.st.Overdue = true
	detail := fmt.Sprintf("no successful run for %v (deadline)", p.spec.Schedule.Deadline)
	p.record(api.LedgerEntry{Nominal: at, Outcome: api.LedgerDeadlineMissed, At: now, Detail: detail})
	p.notify(plan.EventOverdue, "", detail)
}
