// Package schedule computes a plan's nominal fire times and when the run for
// each may start. It is pure and deterministic: callers pass the current time
// and the anchors, nothing reads the clock or the host's time zone, and no
// result depends on map order, so workflows can use it and tests can
// table-drive it.
//
// # Cron and daylight saving time
//
// A cron expression is evaluated on the wall clock of its location: the
// CRON_TZ= (or TZ=) prefix if it has one, else Spec.Timezone, else UTC; never
// the host's zone. Each wall time the expression names is then mapped to one
// instant, and fires once:
//
//   - A wall time that does not exist, because the clocks spring forward over
//     it, fires at the first instant after the gap: the transition itself
//     (02:30 on the night Berlin jumps from 02:00 to 03:00 fires at 03:00
//     CEST). Every skipped wall time maps to that instant, and a wall time
//     that falls on it (03:00) does too; they fire there together, once.
//   - A wall time that occurs twice, because the clocks fall back, fires at
//     its first occurrence only. If the previous fire time is already inside
//     the repeated period, it fires at the first occurrence after it.
//
// Next(prev) is always strictly after prev. `every` schedules count elapsed
// time and ignore the wall clock; so does a cron "@every" descriptor.
//
// # Jitter, windows and blackouts
//
// A run may start later than its nominal time: first by its jitter, a
// deterministic delay in [0, Spec.Jitter) that spreads plans sharing a
// schedule, then until the next instant that is inside an allowed window (if
// the schedule has windows) and outside every blackout. Windows and blackouts
// are read on the wall clock of Spec.Timezone (a CRON_TZ prefix does not
// apply to them); see ParseWindow for their syntax.
//
// # Catch-up
//
// After downtime, DueTimes lists the fire times that came due and
// CatchUp.Decide splits them into those to run, missed and coalesced.
package schedule

import (
	"errors"
	"fmt"
	"strings"
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

// Spec describes a schedule: exactly one of Every and Cron, and optionally
// when runs may start.
type Spec struct {
	Every    time.Duration
	Cron     string
	Timezone string // IANA name; empty means UTC
	Anchor   Anchor // for Every; empty means AnchorWall

	// Jitter delays each run by a deterministic amount in [0, Jitter).
	Jitter time.Duration
	// Windows, if any, are when runs may start ("Mon-Fri 01:00-06:00").
	Windows []string
	// Blackout is when runs must not start ("Sat 00:00-24:00").
	Blackout []string
}

// Anchors are the times an `every` schedule may count from. Zero values mean
// "never happened"; Created is used until the anchor's event first happens.
type Anchors struct {
	Created     time.Time
	LastRun     time.Time
	LastSuccess time.Time
}

// ErrNeverOpen is returned by New for windows and blackouts that leave no
// time at which a run could start.
var ErrNeverOpen = errors.New("contradictory options: no run could ever start")

// Schedule is a compiled Spec.
type Schedule struct {
	every  time.Duration
	anchor Anchor

	cron cron.Schedule
	// wall is the cron expression evaluated on wall-clock times held in UTC
	// fields; nil for "@every", which counts elapsed time.
	wall    *cron.SpecSchedule
	cronLoc *time.Location // the cron's wall clock: CRON_TZ, else loc

	loc      *time.Location // Spec.Timezone: windows and blackouts
	jitter   time.Duration
	windows  []Window
	blackout []Window
}

// ParseCron checks a cron expression: 5 fields, 6 with leading seconds,
// descriptors such as @daily, and an optional CRON_TZ= or TZ= prefix.
func ParseCron(expr string) error {
	_, _, err := parseCron(expr)
	return err
}

// parseCron parses expr and returns the location of its CRON_TZ or TZ
// prefix, or nil without one.
func parseCron(expr string) (cron.Schedule, *time.Location, error) {
	if strings.HasPrefix(expr, "CRON_TZ=") || strings.HasPrefix(expr, "TZ=") {
		prefix, rest, _ := strings.Cut(expr, " ")
		_, name, _ := strings.Cut(prefix, "=")
		if strings.TrimSpace(rest) == "" {
			// The cron parser would slice out of range on this.
			return nil, nil, fmt.Errorf("%s: want a schedule after the time zone", prefix)
		}
		if name == "Local" {
			return nil, nil, errors.New("time zone Local: name an IANA zone like Europe/Berlin; steward never uses the host's zone")
		}
	}
	c, err := cronParser.Parse(expr)
	if err != nil {
		return nil, nil, err
	}
	spec, ok := c.(*cron.SpecSchedule)
	if !ok || spec.Location == time.Local {
		return c, nil, nil
	}
	return c, spec.Location, nil
}

// loadLocation loads an IANA zone; empty means UTC. "Local" is refused: the
// host's zone must never decide when a plan runs.
func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, fmt.Errorf("timezone %q: name an IANA zone like Europe/Berlin; steward never uses the host's zone", name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: unknown time zone", name)
	}
	return l, nil
}

// New compiles a Spec.
func New(s Spec) (*Schedule, error) {
	loc, err := loadLocation(s.Timezone)
	if err != nil {
		return nil, err
	}
	sc := &Schedule{loc: loc, cronLoc: loc}
	if s.Jitter < 0 {
		return nil, fmt.Errorf("jitter %v: must not be negative", s.Jitter)
	}
	sc.jitter = s.Jitter
	if sc.windows, err = parseWindows("windows", s.Windows); err != nil {
		return nil, err
	}
	if sc.blackout, err = parseWindows("blackout", s.Blackout); err != nil {
		return nil, err
	}
	if !everOpen(sc.windows, sc.blackout) {
		if len(sc.windows) == 0 {
			return nil, fmt.Errorf("blackout covers the whole week: %w", ErrNeverOpen)
		}
		return nil, fmt.Errorf("blackout covers every window: %w", ErrNeverOpen)
	}

	switch {
	case s.Every != 0 && s.Cron != "":
		return nil, errors.New("every and cron are exclusive")
	case s.Cron != "":
		c, cronLoc, err := parseCron(s.Cron)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %w", s.Cron, err)
		}
		sc.cron = c
		if cronLoc != nil {
			sc.cronLoc = cronLoc
		}
		if spec, ok := c.(*cron.SpecSchedule); ok {
			// Evaluate on wall-clock times in UTC fields: UTC has no
			// transitions, so every wall time is seen exactly once, and
			// resolve maps it to an instant by the package's DST rule.
			spec.Location = time.UTC
			sc.wall = spec
		}
		return sc, nil
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
	sc.every, sc.anchor = s.Every, a
	return sc, nil
}

func parseWindows(field string, specs []string) ([]Window, error) {
	var ws []Window
	for i, s := range specs {
		w, err := ParseWindow(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// Next returns the first nominal fire time strictly after prev, or the zero
// time if a cron expression never fires again (such as "0 0 30 2 *").
//
// For `every` schedules the fire times are base + k*every, where base is the
// anchor (the epoch for wall, else the last run or last success, or Created
// before there is one): a failed run never shifts a last-success grid. Cron
// schedules follow the package's DST rule.
func (s *Schedule) Next(prev time.Time, a Anchors) time.Time {
	if s.cron != nil {
		return s.cronNext(prev)
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

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Unix(0, 0).UTC()
}
