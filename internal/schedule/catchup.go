package schedule

import (
	"slices"
	"time"
)

// Policy says what happens to fire times that came due while nothing could
// run them: after downtime, or while the plan was paused.
type Policy string

// The catch-up policies.
const (
	// PolicySkip records late fire times as missed.
	PolicySkip Policy = "skip"
	// PolicyLatest runs the latest late fire time once and records the
	// others as coalesced into it.
	PolicyLatest Policy = "latest"
	// PolicyAll runs each late fire time in order, at most Max of them (the
	// newest); the older ones are missed.
	PolicyAll Policy = "all"
)

// CatchUp is a plan's catch-up policy.
type CatchUp struct {
	// Policy is skip, latest or all; empty (or unknown) means latest.
	Policy Policy
	// Window is how old a fire time may be and still be caught up; older
	// ones are missed. Zero or less means no limit.
	Window time.Duration
	// Max bounds how many fire times PolicyAll runs; zero or less means no
	// limit.
	Max int
	// Grace is how old the latest fire time may be and still count as on
	// time: it runs whatever the policy.
	Grace time.Duration
}

// Decide splits nominal fire times that are due at now into those to run,
// those missed and those coalesced into the run of a newer one; each of the
// three lists is ascending and every input time is in exactly one of them.
//
// The latest fire time is on time if it is at most Grace old, and then runs
// whatever the policy. Every other fire time is late: missed if it is older
// than now-Window, else handled by the policy. Skip misses them; latest runs
// the newest and coalesces the others into it; all runs the newest Max
// (counting an on-time one) and misses the older ones.
func (c CatchUp) Decide(due []time.Time, now time.Time) (run, missed, coalesced []time.Time) {
	if len(due) == 0 {
		return nil, nil, nil
	}
	due = slices.SortedFunc(slices.Values(due), time.Time.Compare)
	latest := due[len(due)-1]
	onTime := now.Sub(latest) <= c.Grace
	// late: within the window and not on time, ascending.
	var late []time.Time
	for i, t := range due {
		switch {
		case i == len(due)-1 && onTime:
		case c.Window > 0 && t.Before(now.Add(-c.Window)):
			missed = append(missed, t)
		default:
			late = append(late, t)
		}
	}
	switch c.Policy {
	case PolicySkip:
		missed = mergeSorted(missed, late)
		if onTime {
			run = []time.Time{latest}
		}
	case PolicyAll:
		candidates := late
		if onTime {
			candidates = append(candidates, latest)
		}
		if n := len(candidates) - c.Max; c.Max > 0 && n > 0 {
			missed = mergeSorted(missed, candidates[:n])
			candidates = candidates[n:]
		}
		run = candidates
	default: // PolicyLatest
		switch {
		case onTime:
			run, coalesced = []time.Time{latest}, late
		case len(late) > 0:
			run, coalesced = late[len(late)-1:], late[:len(late)-1]
		}
	}
	return run, missed, coalesced
}

// mergeSorted merges two ascending lists into a new ascending list.
func mergeSorted(a, b []time.Time) []time.Time {
	out := slices.Concat(a, b)
	slices.SortStableFunc(out, time.Time.Compare)
	return out
}
