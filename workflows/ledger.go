package workflows

import (
	"fmt"
	"time"

	"github.com/steward-ops/steward/workflows/api"
)

// maxLedger bounds the ledger ring carried in the plan's state.
const maxLedger = 200

// onTime is how late a run may start and still count as on time.
const onTime = time.Second

// record appends a ledger entry, dropping the oldest beyond maxLedger.
func (p *planner) record(e api.LedgerEntry) {
	e.Nominal = e.Nominal.UTC()
	e.At = e.At.UTC()
	p.st.Ledger = append(p.st.Ledger, e)
	if n := len(p.st.Ledger); n > maxLedger {
		p.st.Ledger = append([]api.LedgerEntry(nil), p.st.Ledger[n-maxLedger:]...)
	}
}

// recordMany records one entry per time, and a summary entry for more
// older times that were too many to list.
func (p *planner) recordMany(ts []time.Time, more int, outcome, detail string, now time.Time) {
	if more > 0 {
		oldest := now
		if len(ts) > 0 {
			oldest = ts[0]
		}
		p.record(api.LedgerEntry{Nominal: oldest, Outcome: outcome, At: now,
			Detail: fmt.Sprintf("and %d earlier fire times before this one", more)})
	}
	for _, t := range ts {
		p.record(api.LedgerEntry{Nominal: t, Outcome: outcome, Detail: detail, At: now})
	}
}

// updateLedger finds the newest entry for runID and lets f change it.
func (p *planner) updateLedger(runID string, f func(*api.LedgerEntry)) {
	for i := len(p.st.Ledger) - 1; i >= 0; i-- {
		if p.st.Ledger[i].RunID == runID {
			f(&p.st.Ledger[i])
			return
		}
	}
}

func lateBy(d time.Duration) string {
	if d < onTime {
		return ""
	}
	return d.Round(time.Millisecond).String()
}
