package schedule

import "time"

// cronNext is Next for cron schedules: the cron runs on wall-clock times and
// each wall time it names is mapped to an instant by the package's DST rule.
func (s *Schedule) cronNext(prev time.Time) time.Time {
	if s.wall == nil {
		return s.cron.Next(prev).UTC() // "@every": elapsed time
	}
	w := wallClock(prev, s.cronLoc)
	// A wall time is skipped only when all its instants are at or before
	// prev, which the rule makes impossible; the bound is a guard, not a
	// limit that is ever reached.
	for range 64 {
		if w = s.wall.Next(w); w.IsZero() {
			return time.Time{}
		}
		if t, ok := resolve(w, s.cronLoc, prev); ok {
			return t.UTC()
		}
	}
	return time.Time{}
}

// wallClock returns t's wall-clock reading in loc, held in a UTC time (its
// UTC fields are loc's clock).
func wallClock(t time.Time, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	return t.Add(time.Duration(off) * time.Second).UTC()
}

// resolve maps wall time w (in UTC fields) to the instant it fires at in
// loc, after prev: the transition for a wall time in a spring-forward gap,
// the first occurrence after prev for one that occurs twice.
func resolve(w time.Time, loc *time.Location, prev time.Time) (time.Time, bool) {
	occ, n, gapEnd := instants(w, loc)
	if n == 0 {
		return gapEnd, gapEnd.After(prev)
	}
	for _, t := range occ[:n] {
		if t.After(prev) {
			return t, true
		}
	}
	return time.Time{}, false
}

// zone is one stretch of time with a fixed UTC offset in a location.
type zone struct {
	start, end time.Time // instants; zero means unbounded
	offset     int       // seconds east of UTC
}

func zoneAt(t time.Time, loc *time.Location) zone {
	lt := t.In(loc)
	_, off := lt.Zone()
	start, end := lt.ZoneBounds()
	return zone{start: start, end: end, offset: off}
}

func (z zone) contains(t time.Time) bool {
	return (z.start.IsZero() || !t.Before(z.start)) && (z.end.IsZero() || t.Before(z.end))
}

// offsetReach bounds how far a wall-clock reading can be from UTC.
const offsetReach = 30 * time.Hour

// instants returns the instants, ascending, at which loc's clocks read w (in
// UTC fields): one, two in a repeated period, or none in a gap, where gapEnd
// is the instant the gap ends.
func instants(w time.Time, loc *time.Location) (occ [2]time.Time, n int, gapEnd time.Time) {
	z := zoneAt(w.Add(-offsetReach), loc)
	var prev zone
	first := true
	for {
		if c := w.Add(-time.Duration(z.offset) * time.Second); z.contains(c) && n < len(occ) {
			occ[n] = c
			n++
		}
		if !first && z.offset > prev.offset {
			// The clocks jumped from start+prev.offset to start+z.offset.
			from := z.start.Add(time.Duration(prev.offset) * time.Second)
			to := z.start.Add(time.Duration(z.offset) * time.Second)
			if !w.Before(from) && w.Before(to) {
				gapEnd = z.start
			}
		}
		if z.end.IsZero() || z.end.After(w.Add(offsetReach)) {
			return occ, n, gapEnd
		}
		prev, first = z, false
		z = zoneAt(z.end, loc)
	}
}
