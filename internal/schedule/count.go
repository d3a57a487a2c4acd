package schedule

import (
	"math/bits"
	"time"

	"github.com/robfig/cron/v3"
)

// counter counts a wall-clock cron's fire times without visiting them: whole
// days from the cron's bit fields, the days around a clock change by the
// package's DST rule. It mirrors cronNext exactly; tests check one against
// the other.
type counter struct {
	spec  *cron.SpecSchedule
	zones []zone // ascending, covering the instants counted
	// perDay is how many wall times the cron names in a matching day.
	perDay int
	// prefix[i] counts the wall times in days firstDay..firstDay+i-1 (days
	// since the epoch, of wall-clock time).
	firstDay int64
	prefix   []int
}

const (
	daySeconds = 24 * 60 * 60
	maskSecond = 1<<60 - 1 // drops the parser's star bit
	maskHour   = 1<<24 - 1
)

// newCounter prepares to count fire times between from and to.
func newCounter(spec *cron.SpecSchedule, loc *time.Location, from, to time.Time) *counter {
	c := &counter{spec: spec}
	c.perDay = bits.OnesCount64(spec.Hour&maskHour) *
		bits.OnesCount64(spec.Minute&maskSecond) * bits.OnesCount64(spec.Second&maskSecond)
	for z := zoneAt(from, loc); ; z = zoneAt(z.end, loc) {
		c.zones = append(c.zones, z)
		if z.end.IsZero() || z.end.After(to) {
			break
		}
	}
	// Wall-clock readings are within a day and a bit of the instant.
	c.firstDay = floorDiv(from.Unix(), daySeconds) - 2
	last := floorDiv(to.Unix(), daySeconds) + 2
	c.prefix = make([]int, last-c.firstDay+2)
	for d := c.firstDay; d <= last; d++ {
		n := 0
		if c.dayMatches(d) {
			n = c.perDay
		}
		c.prefix[d-c.firstDay+1] = c.prefix[d-c.firstDay] + n
	}
	return c
}

// fires counts the fire times in (a, b]. a must be a fire time, or any
// instant not inside the second occurrence of a repeated period: the count
// is that of the fire times Next visits from a.
func (c *counter) fires(a, b time.Time) int {
	if !b.After(a) {
		return 0
	}
	n := 0
	for j, z := range c.zones {
		if !z.end.IsZero() && !z.end.After(a) {
			continue
		}
		if !z.start.IsZero() && z.start.After(b) {
			break
		}
		last := b // the last instant of z that is counted
		if !z.end.IsZero() && !z.end.After(b) {
			last = z.end.Add(-time.Nanosecond)
		}
		hi := last.Unix() + int64(z.offset) + 1 // wall times before hi
		if z.contains(a) {
			n += c.walls(a.Unix()+int64(z.offset)+1, hi)
			continue
		}
		// Entering z from the zone before it at z.start.
		s, p, o := z.start.Unix(), int64(c.zones[j-1].offset), int64(z.offset)
		if o >= p {
			// Wall times skipped by the jump, and the one at its end, fire
			// once, at the jump.
			if c.walls(s+p, s+o+1) > 0 {
				n++
			}
			n += c.walls(s+o+1, hi)
		} else {
			// Wall times before s+p fired at their first occurrence.
			n += c.walls(s+p, hi)
		}
	}
	return n
}

// walls counts the wall times the cron names in [from, to), in seconds
// since the epoch of wall-clock time.
func (c *counter) walls(from, to int64) int {
	if from >= to {
		return 0
	}
	d1, s1 := floorDiv(from, daySeconds), int(floorMod(from, daySeconds))
	d2, s2 := floorDiv(to, daySeconds), int(floorMod(to, daySeconds))
	if d1 == d2 {
		return c.inDay(d1, s1, s2)
	}
	return c.inDay(d1, s1, daySeconds) + c.days(d1+1, d2) + c.inDay(d2, 0, s2)
}

// days counts the wall times in days [d1, d2).
func (c *counter) days(d1, d2 int64) int {
	if d1 >= c.firstDay && d2-c.firstDay < int64(len(c.prefix)) {
		return c.prefix[d2-c.firstDay] - c.prefix[d1-c.firstDay]
	}
	n := 0
	for d := d1; d < d2; d++ {
		n += c.inDay(d, 0, daySeconds)
	}
	return n
}

// inDay counts the wall times in seconds [s1, s2) of day d.
func (c *counter) inDay(d int64, s1, s2 int) int {
	if s1 >= s2 || !c.dayMatches(d) {
		return 0
	}
	if s1 == 0 && s2 == daySeconds {
		return c.perDay
	}
	perHour := bits.OnesCount64(c.spec.Minute&maskSecond) * bits.OnesCount64(c.spec.Second&maskSecond)
	n := 0
	for h := s1 / 3600; h <= (s2-1)/3600; h++ {
		if c.spec.Hour&(1<<h) == 0 {
			continue
		}
		hs := h * 3600
		if s1 <= hs && hs+3600 <= s2 {
			n += perHour
			continue
		}
		for m := range 60 {
			if c.spec.Minute&(1<<m) == 0 {
				continue
			}
			lo, hi := max(s1-hs-m*60, 0), min(s2-hs-m*60, 60)
			if lo < hi {
				n += bits.OnesCount64(c.spec.Second & (1<<hi - 1) &^ (1<<lo - 1))
			}
		}
	}
	return n
}

// dayMatches reports whether the cron fires on day d, as the cron package
// decides it: the month must match, and the day of month and the day of
// week must both match if either is a star, else one of them.
func (c *counter) dayMatches(d int64) bool {
	t := time.Unix(d*daySeconds, 0).UTC()
	if 1<<uint(t.Month())&c.spec.Month == 0 {
		return false
	}
	dom := 1<<uint(t.Day())&c.spec.Dom > 0
	dow := 1<<uint(t.Weekday())&c.spec.Dow > 0
	const star = 1 << 63
	if c.spec.Dom&star > 0 || c.spec.Dow&star > 0 {
		return dom && dow
	}
	return dom || dow
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
