// Package retention decides which backup snapshots a keep policy retains,
// with the semantics of restic's forget command, and says why each one is
// kept, in words a person can check before anything is deleted.
//
// The package is pure: it reads no clock and does no I/O, so a workflow can
// call it. Periods are counted in the time zone the caller passes (the
// plan's), never in the host's.
package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Policy says which snapshots to keep. Its rules are ORed: a snapshot is
// kept when any rule keeps it. Every rule counts back from the newest
// snapshot, never from the current time, so snapshots of a plan that has
// stopped running are not forgotten one by one as time passes.
//
// A count below one or a duration of zero or less leaves its rule off.
type Policy struct {
	// Last keeps the Last newest snapshots.
	Last int `json:"last,omitempty"`
	// Hourly, Daily, Weekly (ISO weeks), Monthly and Yearly each keep the
	// newest snapshot of each of the last N periods that have a snapshot.
	// While a rule has fewer periods than N, it keeps the oldest snapshot
	// too, so the history reaches back as far as it can.
	Hourly  int `json:"hourly,omitempty"`
	Daily   int `json:"daily,omitempty"`
	Weekly  int `json:"weekly,omitempty"`
	Monthly int `json:"monthly,omitempty"`
	Yearly  int `json:"yearly,omitempty"`
	// Within keeps every snapshot taken less than Within before the newest.
	Within time.Duration `json:"within,omitempty"`
	// WithinHourly to WithinYearly keep the newest snapshot of each period
	// among the snapshots taken less than the duration before the newest
	// (and the oldest snapshot, if it is one of them).
	WithinHourly  time.Duration `json:"within_hourly,omitempty"`
	WithinDaily   time.Duration `json:"within_daily,omitempty"`
	WithinWeekly  time.Duration `json:"within_weekly,omitempty"`
	WithinMonthly time.Duration `json:"within_monthly,omitempty"`
	WithinYearly  time.Duration `json:"within_yearly,omitempty"`
}

// Empty reports whether no rule is on. An empty policy keeps every
// snapshot: like restic, steward forgets nothing unless told what to keep.
func (p Policy) Empty() bool {
	return max(p.Last, p.Hourly, p.Daily, p.Weekly, p.Monthly, p.Yearly) < 1 &&
		max(p.Within, p.WithinHourly, p.WithinDaily, p.WithinWeekly, p.WithinMonthly, p.WithinYearly) <= 0
}

// Snapshot is what a policy needs to know of a snapshot.
type Snapshot struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
}

// Decision says whether a policy keeps a snapshot and why. A kept snapshot
// has at least one reason, a forgotten one none.
type Decision struct {
	Snapshot Snapshot
	Keep     bool
	// Reasons are the rules that keep the snapshot, with the period or rank
	// that each one matched: "last 2", "daily 2026-12-06", "weekly 2026-W49",
	// "within 48h0m0s", "within_daily 2026-12-06", "oldest (daily not
	// filled)", "policy empty", "newest".
	Reasons []string
}

// Apply decides for each snapshot whether p keeps it, and why. Decisions
// come newest first; snapshots with the same time are in ID order, so the
// same snapshots give the same decisions whatever their order in snaps.
//
// Periods are wall-clock periods in loc (nil means UTC): in the hour that
// is repeated when clocks go back, both real hours are one hourly period,
// as they are in restic.
//
// The newest snapshot is always kept, with the reason "newest" after any
// rule's, so that no policy and no bug in one can forget every snapshot.
func Apply(snaps []Snapshot, p Policy, loc *time.Location) []Decision {
	if loc == nil {
		loc = time.UTC
	}
	ds := make([]Decision, len(snaps))
	for i, s := range snaps {
		ds[i].Snapshot = s
	}
	slices.SortFunc(ds, func(a, b Decision) int {
		if c := b.Snapshot.Time.Compare(a.Snapshot.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Snapshot.ID, b.Snapshot.ID)
	})
	if len(ds) == 0 {
		return ds
	}

	newest := ds[0].Snapshot.Time
	empty := p.Empty()
	counted := []countedBucket{
		{bucket{rule: "hourly", period: hour}, p.Hourly},
		{bucket{rule: "daily", period: day}, p.Daily},
		{bucket{rule: "weekly", period: week}, p.Weekly},
		{bucket{rule: "monthly", period: month}, p.Monthly},
		{bucket{rule: "yearly", period: year}, p.Yearly},
	}
	windowed := []windowedBucket{
		{bucket{rule: "within_hourly", period: hour}, p.WithinHourly},
		{bucket{rule: "within_daily", period: day}, p.WithinDaily},
		{bucket{rule: "within_weekly", period: week}, p.WithinWeekly},
		{bucket{rule: "within_monthly", period: month}, p.WithinMonthly},
		{bucket{rule: "within_yearly", period: year}, p.WithinYearly},
	}
	for i := range ds {
		t := ds[i].Snapshot.Time.In(loc)
		oldest := i == len(ds)-1
		var reasons []string
		if empty {
			reasons = append(reasons, "policy empty")
		}
		if p.Within > 0 && t.After(newest.Add(-p.Within)) {
			reasons = append(reasons, "within "+p.Within.String())
		}
		if i < p.Last {
			reasons = append(reasons, fmt.Sprintf("last %d", i+1))
		}
		for j := range counted {
			c := &counted[j]
			if c.left < 1 {
				continue
			}
			if r := c.keep(t, oldest); r != "" {
				c.left--
				reasons = append(reasons, r)
			}
		}
		for j := range windowed {
			w := &windowed[j]
			if w.within <= 0 || !t.After(newest.Add(-w.within)) {
				continue
			}
			if r := w.keep(t, oldest); r != "" {
				reasons = append(reasons, r)
			}
		}
		if i == 0 {
			reasons = append(reasons, "newest")
		}
		ds[i].Keep = len(reasons) > 0
		ds[i].Reasons = reasons
	}
	return ds
}

// bucket keeps the newest snapshot of each period it is shown, visiting
// snapshots newest first: restic's bucket.
type bucket struct {
	rule   string                 // "daily", "within_daily"
	period func(time.Time) string // the period a time falls in, as a reason shows it
	last   string                 // the period of the last snapshot kept
}

// keep returns the reason to keep the snapshot taken at t, or "" if its
// period already has a newer one. The oldest snapshot is kept even then:
// the rule still has room, so the history reaches back as far as it can.
func (b *bucket) keep(t time.Time, oldest bool) string {
	switch p := b.period(t); {
	case p != b.last:
		b.last = p
		return b.rule + " " + p
	case oldest:
		return "oldest (" + b.rule + " not filled)"
	}
	return ""
}

// countedBucket is a bucket for the last N periods (daily 7).
type countedBucket struct {
	bucket
	left int // periods still to keep
}

// windowedBucket is a bucket for the periods within a duration of the newest
// snapshot (within_daily 30d).
type windowedBucket struct {
	bucket
	within time.Duration
}

func hour(t time.Time) string  { return t.Format("2006-01-02 15:00") }
func day(t time.Time) string   { return t.Format("2006-01-02") }
func month(t time.Time) string { return t.Format("2006-01") }
func year(t time.Time) string  { return t.Format("2006") }

func week(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}
