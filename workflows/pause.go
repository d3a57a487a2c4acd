package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// How a pause lease ended, in the pause history.
const (
	endExpired  = "expired"
	endUnpaused = "unpaused"
	endReplaced = "replaced"
)

func (p *planner) paused() bool { return len(p.st.Leases) > 0 }

// pausedUntil is when the pause ends by itself: the latest end of the
// active leases, or nil when a lease is indefinite or none is active. On
// versionTruth an until_next_run lease ends at the next nominal time;
// before, it counted as indefinite.
func (p *planner) pausedUntil() *time.Time {
	var until *time.Time
	for _, l := range p.st.Leases {
		end, ok := p.leaseEnd(l)
		if !ok {
			return nil
		}
		if until == nil || end.After(*until) {
			until = &end
		}
	}
	return until
}

// leaseEnd is when lease l ends by itself; false for an indefinite lease.
func (p *planner) leaseEnd(l api.Lease) (time.Time, bool) {
	switch {
	case l.Until != nil:
		return *l.Until, true
	case l.UntilNextRun && p.atLeast(versionTruth) && !p.st.NextRun.IsZero():
		return p.st.NextRun, true
	}
	return time.Time{}, false
}

// decidingLease is the lease that decides when the pause ends: the newest
// indefinite one, else the one that ends last. Nil when not paused.
func (p *planner) decidingLease() *api.Lease {
	var best *api.Lease
	var bestEnd time.Time
	for i := range p.st.Leases {
		l := &p.st.Leases[i]
		end, ok := p.leaseEnd(*l)
		if !ok {
			bestEnd, best = time.Time{}, l
			continue
		}
		if best == nil || (!bestEnd.IsZero() && !end.Before(bestEnd)) {
			best, bestEnd = l, end
		}
	}
	return best
}

func (p *planner) receivePause(ctx workflow.Context, c workflow.ReceiveChannel) {
	var raw converter.RawValue
	if c.ReceiveAsync(&raw) {
		p.onPause(ctx, raw)
	}
}

func (p *planner) onPause(ctx workflow.Context, raw converter.RawValue) {
	var s api.PauseSignal
	if err := decodeSignal(raw, &s); err != nil {
		p.reject(ctx, api.SignalPause, err)
		return
	}
	l, err := p.checkPause(ctx, s, p.atLeast(versionTruth))
	if err != nil {
		p.reject(ctx, api.SignalPause, err)
		return
	}
	p.addLease(workflow.Now(ctx).UTC(), l)
}

// checkPause validates a pause request against the plan as it is now, and
// returns the lease it would add, its ID still empty when none was given.
func (p *planner) checkPause(ctx workflow.Context, s api.PauseSignal, strict bool) (api.Lease, error) {
	l, err := validatePause(s, workflow.Now(ctx).UTC(), strict)
	if err != nil {
		return l, err
	}
	if (l.ID == "" || !p.hasLease(l.ID)) && len(p.st.Leases) >= maxLeases {
		return l, fmt.Errorf("%d leases are active already; unpause some first", maxLeases)
	}
	return l, nil
}

// addLease adds a checked lease, replacing one with the same ID, and
// returns it with its ID. Mode all cancels the run in flight, and on
// versionTruth the check of preconditions in flight too.
func (p *planner) addLease(now time.Time, l api.Lease) api.Lease {
	if l.ID == "" {
		p.st.LeaseSeq++
		l.ID = fmt.Sprintf("l%d", p.st.LeaseSeq)
	}
	kept := p.st.Leases[:0]
	for _, old := range p.st.Leases {
		if old.ID == l.ID {
			p.endLease(old, now, endReplaced, l.By, "")
			continue
		}
		kept = append(kept, old)
	}
	p.st.Leases = append(kept, l)
	p.st.Counters.Pauses++
	p.notify(plan.EventPaused, "", strings.TrimSpace(fmt.Sprintf("lease %s by %s: %s", l.ID, l.By, l.Reason)))
	p.st.ResumeFrom, p.st.CatchUp = nil, ""
	if l.Mode == api.ModeAll {
		reason := "pause " + l.ID + " (mode all)"
		if l.By != "" {
			reason += " by " + l.By
		}
		p.cancelRun(reason)
		if p.atLeast(versionTruth) {
			p.cancelCheck(reason)
		}
	}
	return l
}

func (p *planner) receiveUnpause(ctx workflow.Context, c workflow.ReceiveChannel) {
	var raw converter.RawValue
	if c.ReceiveAsync(&raw) {
		p.onUnpause(ctx, raw)
	}
}

func (p *planner) onUnpause(ctx workflow.Context, raw converter.RawValue) {
	var s api.UnpauseSignal
	if err := decodeSignal(raw, &s); err != nil {
		p.reject(ctx, api.SignalUnpause, err)
		return
	}
	if err := p.checkUnpause(s); err != nil {
		p.reject(ctx, api.SignalUnpause, err)
		return
	}
	p.endLeases(workflow.Now(ctx).UTC(), s)
}

// checkUnpause validates an unpause request against the active leases.
func (p *planner) checkUnpause(s api.UnpauseSignal) error {
	if err := validateUnpause(s); err != nil {
		return err
	}
	if s.ID != "" && !p.hasLease(s.ID) {
		return fmt.Errorf("id %q: no such active lease", clip(s.ID, 80))
	}
	return nil
}

// endLeases ends the leases a checked unpause names (all without an ID)
// and returns their IDs.
func (p *planner) endLeases(now time.Time, s api.UnpauseSignal) []string {
	p.st.Counters.Unpauses++
	p.notify(plan.EventUnpaused, "", "by "+s.By)
	wasPaused := p.paused()
	var ended []string
	kept := p.st.Leases[:0]
	for _, l := range p.st.Leases {
		if s.ID == "" || l.ID == s.ID {
			reason := ""
			if p.atLeast(versionTruth) {
				reason = s.Reason
			}
			p.endLease(l, now, endUnpaused, s.By, reason)
			ended = append(ended, l.ID)
			continue
		}
		kept = append(kept, l)
	}
	p.st.Leases = kept
	if wasPaused && !p.paused() {
		p.st.ResumeFrom, p.st.CatchUp = &now, s.CatchUp
	}
	return ended
}

func (p *planner) hasLease(id string) bool {
	for _, l := range p.st.Leases {
		if l.ID == id {
			return true
		}
	}
	return false
}

// expireLeases ends the leases whose expiry has passed. It decides from the
// workflow clock, not from which timer fired: after a restart overdue timers
// fire at once, in any order.
func (p *planner) expireLeases(now time.Time) {
	if !p.paused() {
		return
	}
	var lastEnd time.Time
	kept := p.st.Leases[:0]
	for _, l := range p.st.Leases {
		if l.Until != nil && !l.Until.After(now) {
			p.endLease(l, *l.Until, endExpired, "", "")
			if l.Until.After(lastEnd) {
				lastEnd = *l.Until
			}
			continue
		}
		kept = append(kept, l)
	}
	p.st.Leases = kept
	if !lastEnd.IsZero() && !p.paused() {
		p.st.ResumeFrom, p.st.CatchUp = &lastEnd, ""
	}
}

// skipForUntilNextRun ends until_next_run leases once the nominal time they
// were waiting for has come, skipping that time.
func (p *planner) skipForUntilNextRun(now time.Time) {
	if p.st.NextRun.After(now) {
		return
	}
	found := false
	kept := p.st.Leases[:0]
	for _, l := range p.st.Leases {
		if l.UntilNextRun {
			p.endLease(l, now, endExpired, "", "")
			found = true
			continue
		}
		kept = append(kept, l)
	}
	p.st.Leases = kept
	if !found {
		return
	}
	p.st.Counters.Skipped++
	p.st.Counters.SkippedPaused++
	p.record(api.LedgerEntry{Nominal: p.st.NextRun, Outcome: api.LedgerSkippedPaused, At: now, Detail: "until_next_run"})
	p.st.Prev = p.st.NextRun
	p.st.NextRun = p.sched.Next(p.st.Prev, p.anchors())
	if !p.paused() {
		p.st.ResumeFrom, p.st.CatchUp = &now, ""
	}
}

// endLease moves lease l to the pause history, saying how it ended, who
// ended it and why.
func (p *planner) endLease(l api.Lease, at time.Time, how, actor, reason string) {
	p.st.PauseHistory = append(p.st.PauseHistory, api.PauseRecord{Lease: l, Ended: at.UTC(), EndedBy: how, Actor: actor, EndReason: reason})
	if n := len(p.st.PauseHistory); n > maxPauseHistory {
		p.st.PauseHistory = append([]api.PauseRecord(nil), p.st.PauseHistory[n-maxPauseHistory:]...)
	}
}
