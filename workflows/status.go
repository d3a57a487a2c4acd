package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/workflows/api"
)

// state is the plan's state as shown in status and StewardState.
func (p *planner) state() string {
	switch {
	case p.paused():
		return api.StatePaused
	case p.st.Running != nil:
		return api.StateRunning
	case p.st.Checking != nil:
		return api.StateRunning
	case p.st.Retry != nil:
		return api.StateRetrying
	case len(p.st.Queue) > 0 || p.st.Trigger != nil:
		return api.StateWaiting
	default:
		return api.StateIdle
	}
}

func (p *planner) status() api.Status {
	s := api.Status{
		Plan:          p.spec.ID,
		Kind:          string(p.spec.Kind),
		State:         p.state(),
		LastSuccess:   p.st.LastSuccess,
		LastRun:       p.st.LastRun,
		Counters:      p.st.Counters,
		RecentRuns:    append([]api.RunRecord{}, p.st.RecentRuns...),
		PauseHistory:  append([]api.PauseRecord{}, p.st.PauseHistory...),
		Details:       p.details(),
		LastRejection: p.st.LastRejection,
		Pause: api.PauseStatus{
			Paused: p.paused(),
			Until:  p.pausedUntil(),
			Leases: append([]api.Lease{}, p.st.Leases...),
		},
	}
	if p.st.Running != nil {
		s.LastRun = p.st.Running
	}
	if n := p.nextRun(); !n.IsZero() {
		s.NextRun = &n
	}
	if t, ok := p.nextStart(); ok {
		s.NextStart = &t
	}
	s.Overdue = p.st.Overdue
	if at := p.deadlineAt(); !at.IsZero() {
		s.DeadlineAt = &at
	}
	s.Queued = append([]time.Time{}, p.st.Queue...)
	s.Verify = p.verifyStatus()
	s.Maintenance = p.maintenanceStatus()
	if n := p.st.Notify; n != nil || len(p.notes) > 0 {
		ns := api.NotifyStatus{Pending: len(p.notes)}
		if n != nil {
			ns.Sent, ns.Failed, ns.LastError, ns.LastErrorAt = n.Sent, n.Failed, n.LastError, n.LastErrorAt
		}
		s.Notify = &ns
	}
	s.Retry.Max = p.maxRetries()
	if r := p.st.Retry; r != nil {
		next := r.NextAt
		s.Retry.Attempt, s.Retry.NextAt = r.Attempt, &next
	}
	return s
}

// nextRun is the next nominal fire time that will run: while paused, the
// first one after the pause ends (fire times due during a pause are
// skipped), zero for an indefinite pause. Never a time the plan has
// already passed by.
func (p *planner) nextRun() time.Time {
	if !p.paused() {
		return p.st.NextRun
	}
	end := p.pausedUntil()
	if end == nil || p.st.NextRun.IsZero() {
		return time.Time{}
	}
	if l := p.decidingLease(); l != nil && l.UntilNextRun && l.Until == nil {
		// The lease ends by skipping the fire time it waits for.
		return p.sched.Next(p.st.NextRun, p.anchors())
	}
	if !p.st.NextRun.Before(*end) {
		return p.st.NextRun
	}
	return p.sched.Next(end.Add(-time.Nanosecond), p.anchors())
}

// nextStart is when the next run is planned to start.
func (p *planner) nextStart() (time.Time, bool) {
	if len(p.st.Queue) > 0 && !p.paused() {
		return p.sched.StartAt(p.spec.ID, p.st.Queue[0])
	}
	n := p.nextRun()
	if n.IsZero() {
		return time.Time{}, false
	}
	return p.sched.StartAt(p.spec.ID, n)
}

// ledger is the ledger query's result: the newest n entries (all for n <= 0).
func (p *planner) ledger(n int) []api.LedgerEntry {
	l := p.st.Ledger
	if n > 0 && len(l) > n {
		l = l[len(l)-n:]
	}
	return append([]api.LedgerEntry{}, l...)
}

// defaultPreview is how many fire times the preview query returns by default.
const defaultPreview = 10

// preview is the preview query's result: the next n fire times.
func (p *planner) preview(n int) []api.FireTime {
	if n <= 0 {
		n = defaultPreview
	}
	n = min(n, 1000)
	out := []api.FireTime{}
	if p.paused() {
		// Fire times due during the pause are skipped; an indefinite pause
		// has none planned.
		next := p.nextRun()
		if next.IsZero() {
			return out
		}
		for _, f := range p.sched.Preview(p.spec.ID, next.Add(-time.Nanosecond), p.anchors(), n) {
			out = append(out, api.FireTime{Nominal: f.Nominal, Start: f.Start})
		}
		return out
	}
	for _, q := range p.st.Queue {
		if t, ok := p.sched.StartAt(p.spec.ID, q); ok && len(out) < n {
			out = append(out, api.FireTime{Nominal: q, Start: t})
		}
	}
	prev := p.st.Prev
	if !p.st.NextRun.IsZero() {
		prev = p.st.NextRun.Add(-time.Nanosecond)
	}
	for _, f := range p.sched.Preview(p.spec.ID, prev, p.anchors(), n-len(out)) {
		out = append(out, api.FireTime{Nominal: f.Nominal, Start: f.Start})
	}
	return out
}

// details is the one-line summary the Web UI shows as the workflow's
// current details ("paused until 14:00 UTC by alice: maintenance").
func (p *planner) details() string {
	var b strings.Builder
	switch {
	case p.paused():
		b.WriteString("paused")
		l := p.decidingLease()
		switch u := p.pausedUntil(); {
		case u != nil && l.UntilNextRun && l.Until == nil:
			fmt.Fprintf(&b, " until the next run (due %s)", u.UTC().Format("2006-01-02 15:04:05 UTC"))
		case u != nil:
			fmt.Fprintf(&b, " until %s", u.UTC().Format("2006-01-02 15:04:05 UTC"))
		case l.UntilNextRun:
			b.WriteString(" until the next run")
		default:
			b.WriteString(" indefinitely")
		}
		if l.By != "" {
			fmt.Fprintf(&b, " by %s", clip(l.By, 60))
		}
		if l.Reason != "" {
			fmt.Fprintf(&b, ": %s", clip(l.Reason, 120))
		}
		if n := len(p.st.Leases); n > 1 {
			fmt.Fprintf(&b, " (%d leases)", n)
		}
		if next := p.nextRun(); !next.IsZero() {
			fmt.Fprintf(&b, "; next run %s", next.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
	case p.st.Running != nil:
		fmt.Fprintf(&b, "running %s since %s", p.st.Running.ID, p.st.Running.Started.UTC().Format("15:04:05 UTC"))
	case p.st.Checking != nil:
		fmt.Fprintf(&b, "checking preconditions of the run due %s", p.st.Checking.Nominal.UTC().Format("2006-01-02 15:04:05 UTC"))
	case p.st.Retry != nil:
		fmt.Fprintf(&b, "retrying %d/%d, next at %s", p.st.Retry.Attempt, p.maxRetries(), p.st.Retry.NextAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	case len(p.st.Queue) > 0:
		b.WriteString("waiting")
		if t, ok := p.nextStart(); ok {
			fmt.Fprintf(&b, " to start the run due %s at %s", p.st.Queue[0].UTC().Format("2006-01-02 15:04:05 UTC"), t.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
	default:
		b.WriteString("idle")
		if !p.st.NextRun.IsZero() {
			fmt.Fprintf(&b, ", next run %s", p.st.NextRun.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
	}
	if r := p.st.LastRun; r != nil {
		fmt.Fprintf(&b, "; last run %s", r.Outcome)
		if r.Outcome == api.OutcomeFailed && r.Error != nil {
			fmt.Fprintf(&b, ": %s", clip(*r.Error, 120))
		}
	}
	if p.st.Overdue {
		fmt.Fprintf(&b, "; OVERDUE: no success since %s", p.deadlineAt().Add(-p.spec.Schedule.Deadline.D()).UTC().Format("2006-01-02 15:04 UTC"))
	}
	if p.st.VerifyFailed {
		b.WriteString(jobFailedDetail("VERIFY", p.st.LastVerify))
	}
	if p.st.MaintenanceFailed {
		b.WriteString(jobFailedDetail("MAINTENANCE", p.st.LastMaintenance))
	}
	return b.String()
}

// attrs is what was last written to search attributes, so the loop upserts
// (one history event) only on change.
type attrs struct {
	overdue     bool
	state       string
	pausedUntil time.Time
	nextRun     time.Time
	lastSuccess time.Time
	lastResult  string
	lastRunEnd  time.Time
	// verifyFailed is shown only by plans that verify.
	verifies     bool
	verifyFailed bool
	// host and lastRunMillis are shown from versionTelemetry on.
	host          string
	lastRunMillis int64
}

// publish shows the plan's state in the Web UI's current details and in
// search attributes.
func (p *planner) publish(ctx workflow.Context) {
	if d := p.details(); d != p.shownDetails {
		workflow.SetCurrentDetails(ctx, d)
		p.shownDetails = d
	}
	cur := attrs{state: p.state(), nextRun: p.st.NextRun, overdue: p.st.Overdue,
		verifies: p.verifyStatus() != nil, verifyFailed: p.st.VerifyFailed}
	if u := p.pausedUntil(); u != nil {
		cur.pausedUntil = *u
	}
	if p.st.LastSuccess != nil {
		cur.lastSuccess = *p.st.LastSuccess
	}
	truth := p.atLeast(versionTruth)
	if truth {
		cur.nextRun = p.nextRun()
		if r := p.st.LastRun; r != nil && r.Finished != nil {
			cur.lastResult, cur.lastRunEnd = r.Outcome, *r.Finished
		}
	}
	telemetry := p.atLeast(versionTelemetry)
	if telemetry {
		cur.host = p.spec.Host
		if r := p.st.LastRun; r != nil && r.Finished != nil {
			cur.lastRunMillis = r.Finished.Sub(r.Started).Milliseconds()
		}
	}
	if p.attrsShown && cur == p.shownAttrs {
		return
	}
	updates := []temporal.SearchAttributeUpdate{
		api.AttrPlan.ValueSet(p.spec.ID),
		api.AttrKind.ValueSet(string(p.spec.Kind)),
		api.AttrState.ValueSet(cur.state),
		timeAttr(api.AttrNextRun, cur.nextRun),
		timeAttr(api.AttrPausedUntil, cur.pausedUntil),
		timeAttr(api.AttrLastSuccess, cur.lastSuccess),
		api.AttrOverdue.ValueSet(cur.overdue),
	}
	if truth && cur.lastResult != "" {
		updates = append(updates, api.AttrLastResult.ValueSet(cur.lastResult), api.AttrLastRunEnd.ValueSet(cur.lastRunEnd.Unix()))
	}
	if telemetry {
		if cur.host != "" {
			updates = append(updates, api.AttrHost.ValueSet(cur.host))
		} else {
			updates = append(updates, api.AttrHost.ValueUnset())
		}
		if cur.lastResult != "" {
			updates = append(updates, api.AttrLastRunMillis.ValueSet(cur.lastRunMillis))
		}
	}
	if cur.verifies {
		// Only plans that verify use it: a server set up before it
		// existed keeps working for the others.
		updates = append(updates, api.AttrVerifyFailed.ValueSet(cur.verifyFailed))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		p.logger.Error("Upsert search attributes", "error", err)
		return
	}
	p.shownAttrs, p.attrsShown = cur, true
}

func timeAttr(k temporal.SearchAttributeKeyTime, t time.Time) temporal.SearchAttributeUpdate {
	if t.IsZero() {
		return k.ValueUnset()
	}
	return k.ValueSet(t.UTC())
}
