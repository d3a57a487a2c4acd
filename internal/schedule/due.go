package schedule

import (
	"time"

	"github.com/robfig/cron/v3"
)

// DueTimes returns the nominal fire times from next up to now, inclusive,
// that came due: at most limit of them (at least one), the newest, in
// ascending order, and how many older ones it left out. next is the fire time
// the caller was waiting for; nothing is due when it is zero or after now.
//
// Counting is exact and cheap however long the downtime: a closed form for
// `every` and "@every", arithmetic over the cron fields for cron, so a year
// of one-second slots costs no more than a day of them.
func (s *Schedule) DueTimes(next, now time.Time, a Anchors, limit int) (due []time.Time, more int) {
	if next.IsZero() || next.After(now) {
		return nil, 0
	}
	limit = max(limit, 1)
	switch {
	case s.cron == nil:
		return s.dueStride(next, now, a, s.every, limit)
	case s.wall != nil:
		return s.dueCron(next, now, limit)
	}
	if c, ok := s.cron.(cron.ConstantDelaySchedule); ok {
		return s.dueStride(next, now, a, c.Delay, limit)
	}
	return s.dueScan(next, now, a, limit)
}

// dueStride lists the due times of a schedule whose fire times after the
// second are stride apart.
func (s *Schedule) dueStride(next, now time.Time, a Anchors, stride time.Duration, limit int) ([]time.Time, int) {
	second := s.Next(next, a)
	if second.After(now) || second.IsZero() {
		return []time.Time{next.UTC()}, 0
	}
	k := int(now.Sub(second) / stride) // due: next, second + i*stride for i in [0, k]
	total := k + 2
	if total <= limit {
		due := make([]time.Time, 0, total)
		due = append(due, next.UTC())
		for i := 0; i <= k; i++ {
			due = append(due, second.Add(time.Duration(i)*stride))
		}
		return due, 0
	}
	due := make([]time.Time, 0, limit)
	for i := k - limit + 1; i <= k; i++ {
		due = append(due, second.Add(time.Duration(i)*stride))
	}
	return due, total - limit
}

// dueCron lists the due times of a wall-clock cron: it counts them, finds
// the first one to list by bisection and visits only the listed ones.
func (s *Schedule) dueCron(next, now time.Time, limit int) ([]time.Time, int) {
	if n := s.Next(next, Anchors{}); n.IsZero() || n.After(now) {
		return []time.Time{next.UTC()}, 0 // the usual case: on time
	}
	c := newCounter(s.wall, s.cronLoc, next, now)
	total := 1 + c.fires(next, now)
	if total <= limit {
		return s.dueScan(next, now, Anchors{}, limit)
	}
	skip := total - limit
	// The first listed fire time is the smallest instant x with skip fire
	// times in (next, x]; fire times fall on whole seconds.
	lo, hi := next.Unix(), now.Unix()
	for lo < hi {
		mid := lo + (hi-lo)/2
		if c.fires(next, time.Unix(mid, 0)) >= skip {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	due := make([]time.Time, 0, limit)
	for t := time.Unix(lo, 0).UTC(); len(due) < limit && !t.IsZero() && !t.After(now); t = s.Next(t, Anchors{}) {
		due = append(due, t)
	}
	return due, skip
}

// dueScan lists due times by visiting each one, keeping the newest limit.
func (s *Schedule) dueScan(next, now time.Time, a Anchors, limit int) ([]time.Time, int) {
	var due []time.Time
	more := 0
	for t := next.UTC(); !t.IsZero() && !t.After(now); t = s.Next(t, a) {
		if len(due) == limit {
			copy(due, due[1:])
			due = due[:limit-1]
			more++
		}
		due = append(due, t)
	}
	return due, more
}
