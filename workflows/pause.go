package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/workflows/api"
)

// How a pause lease ended, in the pause history.
const (
	endExpired  = "expired"
	endUnpaused = "unpaused"
	endReplaced = "replaced"
)

func (p *planner) paused() bool { return len(p.st.Leases) > 0 }

// pausedUntil is the latest expiry of the active leases, or nil when a lease
// is indefinite or none is active.
func (p *planner) pausedUntil() *time.Time {
	var until *time.Time
	for _, l := range p.st.Leases {
		if l.Until == nil {
			return nil
		}
		if until == nil || l.Until.After(*until) {
			until = l.Until
		}
	}
	return until
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
	now := workflow.Now(ctx).UTC()
	l, err := validatePause(s, now)
	if err != nil {
		p.reject(ctx, api.SignalPause, err)
		return
	}
	if l.ID == "" {
		p.st.LeaseSeq++
		l.ID = fmt.Sprintf("l%d", p.st.LeaseSeq)
	}
	if !p.hasLease(l.ID) && len(p.st.Leases) >= maxLeases {
		p.reject(ctx, api.SignalPause, fmt.Errorf("%d leases are active already; unpause some first", maxLeases))
		return
	}
	kept := p.st.Leases[:0]
	for _, old := range p.st.Leases {
		if old.ID == l.ID {
			p.endLease(old, now, endReplaced, l.By)
			continue
		}
		kept = append(kept, old)
	}
	p.st.Leases = append(kept, l)
	p.st.Counters.Pauses++
	p.st.ResumeFrom, p.st.CatchUp = nil, ""
	if l.Mode == api.ModeAll {
		reason := "pause " + l.ID + " (mode all)"
		if l.By != "" {
			reason += " by " + l.By
		}
		p.cancelRun(reason)
	}
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
	if err := validateUnpause(s); err != nil {
		p.reject(ctx, api.SignalUnpause, err)
		return
	}
	now := workflow.Now(ctx).UTC()
	if s.ID != "" && !p.hasLease(s.ID) {
		p.reject(ctx, api.SignalUnpause, fmt.Errorf("id %q: no such active lease", clip(s.ID, 80)))
		return
	}
	p.st.Counters.Unpauses++
	wasPaused := p.paused()
	kept := p.st.Leases[:0]
	for _, l := range p.st.Leases {
		if s.ID == "" || l.ID == s.ID {
			p.endLease(l, now, endUnpaused, s.By)
			continue
		}
		kept = append(kept, l)
	}
	p.st.Leases = kept
	if wasPaused && !p.paused() {
		p.st.ResumeFrom, p.st.CatchUp = &now, s.CatchUp
	}
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
			p.endLease(l, *l.Until, endExpired, "")
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
			p.endLease(l, now, endExpired, "")
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

func (p *planner) endLease(l api.Lease, at time.Time, how, actor string) {
	p.st.PauseHistory = append(p.st.PauseHistory, api.PauseRecord{Lease: l, Ended: at.UTC(), EndedBy: how, Actor: actor})
	if n := len(p.st.PauseHistory); n > maxPauseHistory {
		p.st.PauseHistory = append([]api.PauseRecord(nil), p.st.PauseHistory[n-maxPauseHistory:]...)
	}
}
