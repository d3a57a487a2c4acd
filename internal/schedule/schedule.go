// Package schedule computes a plan's nominal fire times. It is pure and
// deterministic: callers pass the current time and the anchors, so workflows
// can use it and tests can table-drive it.
package schedule

import (
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Anchor says what an `every` schedule counts from.
type Anchor string

// The anchors of an `every` schedule.
const (
	// AnchorWall aligns fire times to the calendar (multiples of the interval
	// since the Unix epoch), like Temporal Schedules.
	AnchorWall Anchor = "wall"
	// AnchorLastRun counts from the start of the last run, whatever its outcome.
	AnchorLastRun Anchor = "last-run"
	// AnchorLastSuccess counts from the start of the last successful run;
	// failures, skips and cancellations never move it.
	AnchorLastSuccess Anchor = "last-success"
)

// MinEvery is the shortest interval an `every` schedule may have.
const MinEvery = time.Second

var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Spec describes a schedule: exactly one of Every and Cron.
type Spec struct {
	Every    time.Duration
	Cron     string
	Timezone string // IANA name; empty means UTC
	Anchor   Anchor // for Every; empty means AnchorWall
}

// Anchors are the times an `every` schedule may count from. Zero values mean
// "never happened"; Created is used until the anchor's event first happens.
type Anchors struct {
	Created     time.Time
	LastRun     time.Time
	LastSuccess time.Time
}

// Schedule is a compiled Spec.
type Schedule struct {
	every  time.Duration
	anchor Anchor
	cron   cron.Schedule
	loc    *time.Location
}

// ParseCron checks a cron expression: 5 fields, 6 with leading seconds,
// descriptors such as @daily, and an optional CRON_TZ= prefix.
func ParseCron(expr string) error {
	_, err := cronParser.Parse(expr)
	return err
}

// New compiles a Spec.
func New(s Spec) (*Schedule, error) {
	loc := time.UTC
	if s.Timezone != "" {
		l, err := time.LoadLocation(s.Timezone)
		if err != nil {
			return nil, fmt.Errorf("timezone %q: unknown time zone", s.Timezone)
		}
		loc = l
	}
	switch {
	case s.Every != 0 && s.Cron != "":
		return nil, errors.New("every and cron are exclusive")
	case s.Cron != "":
		c, err := cronParser.Parse(s.Cron)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %w", s.Cron, err)
		}
		return &Schedule{cron: c, loc: loc}, nil
	case s.Every < MinEvery:
		return nil, fmt.Errorf("every %v: must be at least %v", s.Every, MinEvery)
	}
	a := s.Anchor
	if a == "" {
		a = AnchorWall
	}
	switch a {
	case AnchorWall, AnchorLastRun, AnchorLastSuccess:
	default:
		return nil, fmt.Errorf("anchor %q: want wall, last-run or last-success", a)
	}
	return &Schedule{every: s.Every, anchor: a, loc: loc}, nil
}

// Next returns the first nominal fire time strictly after prev.
//
// For `every` schedules the fire times are base + k*every, where base is the
// anchor (the epoch for wall, else the last run or last success, or Created
// before there is one): a failed run never shifts a last-success grid.
func (s *Schedule) Next(prev time.Time, a Anchors) time.Time {
	if s.cron != nil {
		return s.cron.Next(prev.In(s.loc)).UTC()
	}
	base := time.Unix(0, 0).UTC()
	switch s.anchor {
	case AnchorLastRun:
		base = firstNonZero(a.LastRun, a.Created)
	case AnchorLastSuccess:
		base = firstNonZero(a.LastSuccess, a.Created)
	}
	if base.After(prev) {
		return base.Add(s.every).UTC()
	}
	k := prev.Sub(base)/s.every + 1
	return base.Add(k * s.every).UTC()
}

// Due reports which fire times from next up to now are due: the latest of
// them (the one to run) and how many earlier ones were missed. It looks at no
// more than limit fire times, so a long downtime on a short interval stays
// cheap; missed is then a lower bound. ok is false when next is after now.
func (s *Schedule) Due(next, now time.Time, a Anchors, limit int) (latest time.Time, missed int, ok bool) {
	if next.After(now) {
		return time.Time{}, 0, false
	}
	latest = next
	if s.cron == nil && s.every > 0 {
		// Closed form: every slot after next is next + k*every.
		k := int(now.Sub(next) / s.every)
		return next.Add(time.Duration(k) * s.every), k, true
	}
	for i := 0; i < limit; i++ {
		n := s.Next(latest, a)
		if n.After(now) {
			return latest, missed, true
		}
		latest = n
		missed++
	}
	// Too many to count: find the latest due time within the last hour (a
	// cron fires at most once a second).
	for n := s.Next(now.Add(-time.Hour), a); !n.After(now); n = s.Next(n, a) {
		latest = n
	}
	return latest, missed, true
}

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Unix(0, 0).UTC()
}
