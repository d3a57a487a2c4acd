package schedule

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is a weekly stretch of wall-clock time, parsed by ParseWindow.
type Window struct {
	days  uint8 // bit i set: the window starts on time.Weekday(i)
	start int   // minutes after midnight, 0..1439
	end   int   // minutes after midnight, 1..1440; before start: crosses midnight
}

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

const allDays = 1<<7 - 1

// ParseWindow parses a window: optional days, then a time range on the
// 24-hour clock.
//
//	"01:00-05:00"               every day
//	"Mon-Fri 01:00-06:00"       weekdays
//	"Sat,Sun 00:00-24:00"       whole days (24:00 is valid as an end)
//	"Fri-Mon 22:00-02:00"       ranges wrap around the week; an end before
//	                            the start crosses midnight, and the days
//	                            name the day the window starts
//
// Day names are Mon to Sun, in any case. Ranges are half-open: a window
// 01:00-06:00 is open at 01:00 and closed at 06:00, so "00:00-23:59" leaves
// the day's last minute out and "00:00-24:00" does not.
func ParseWindow(s string) (Window, error) {
	w, err := parseWindow(s)
	if err != nil {
		return Window{}, fmt.Errorf("%q: %w", s, err)
	}
	return w, nil
}

func parseWindow(s string) (Window, error) {
	w := Window{days: allDays}
	f := strings.Fields(s)
	switch len(f) {
	case 1:
	case 2:
		days, err := parseDays(f[0])
		if err != nil {
			return Window{}, err
		}
		w.days = days
		f = f[1:]
	default:
		return Window{}, errors.New(`want "[DAYS] HH:MM-HH:MM", like "Mon-Fri 01:00-06:00"`)
	}
	from, to, ok := strings.Cut(f[0], "-")
	if !strings.Contains(f[0], ":") {
		return Window{}, errors.New(`no time range: want "[DAYS] HH:MM-HH:MM", like "Mon-Fri 01:00-06:00"`)
	}
	if !ok {
		return Window{}, fmt.Errorf("time range %q: want HH:MM-HH:MM, like 01:00-06:00", f[0])
	}
	var err error
	if w.start, err = parseClock(from); err != nil {
		return Window{}, err
	}
	if w.start == 24*60 {
		return Window{}, errors.New("start 24:00: 24:00 is valid only as an end; start at 00:00")
	}
	if w.end, err = parseClock(to); err != nil {
		return Window{}, err
	}
	if w.start == w.end {
		return Window{}, fmt.Errorf("start and end are both %s: the window is empty (00:00-24:00 is a whole day)", from)
	}
	return w, nil
}

// parseDays parses "Mon", "Mon-Fri", "Fri-Mon" or a comma-separated list of
// them.
func parseDays(s string) (uint8, error) {
	var days uint8
	for part := range strings.SplitSeq(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err := parseDay(from)
		if err != nil {
			return 0, err
		}
		b := a
		if isRange {
			if b, err = parseDay(to); err != nil {
				return 0, err
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			days |= 1 << d
			if d == b {
				break
			}
		}
	}
	return days, nil
}

func parseDay(s string) (int, error) {
	if s == "" {
		return 0, errors.New("missing day name (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)")
	}
	for i, n := range dayNames {
		if strings.EqualFold(s, n) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)", s)
}

// parseClock parses HH:MM into minutes after midnight; 24:00 is 1440.
func parseClock(s string) (int, error) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 || !digits(hs) || !digits(ms) {
		return 0, fmt.Errorf("time %q: want HH:MM on the 24-hour clock, like 06:30", s)
	}
	h, _ := strconv.Atoi(hs)
	m, _ := strconv.Atoi(ms)
	switch {
	case h > 24:
		return 0, fmt.Errorf("hour %d out of range (00 to 23, or 24:00 as an end)", h)
	case m > 59:
		return 0, fmt.Errorf("minute %d out of range (00 to 59)", m)
	case h == 24 && m != 0:
		return 0, fmt.Errorf("time %s out of range (the latest end is 24:00)", s)
	}
	return h*60 + m, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String returns the window in ParseWindow's syntax.
func (w Window) String() string {
	clock := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	r := clock(w.start) + "-" + clock(w.end)
	if w.days == allDays {
		return r
	}
	// Runs of days, Monday first.
	day := func(k int) int { return (k + 1) % 7 }
	var parts []string
	for k := 0; k < 7; {
		if w.days&(1<<day(k)) == 0 {
			k++
			continue
		}
		j := k
		for j+1 < 7 && w.days&(1<<day(j+1)) != 0 {
			j++
		}
		part := dayNames[day(k)]
		if j > k {
			part += "-" + dayNames[day(j)]
		}
		parts = append(parts, part)
		k = j + 1
	}
	return strings.Join(parts, ",") + " " + r
}

// containsWall reports whether the window is open at a wall-clock reading:
// a weekday and the time since midnight.
func (w Window) containsWall(day time.Weekday, tod time.Duration) bool {
	start := time.Duration(w.start) * time.Minute
	end := time.Duration(w.end) * time.Minute
	if w.start < w.end {
		return w.days&(1<<day) != 0 && start <= tod && tod < end
	}
	yesterday := (day + 6) % 7
	return (w.days&(1<<day) != 0 && tod >= start) || (w.days&(1<<yesterday) != 0 && tod < end)
}

// allowedWall is Allowed on a wall-clock reading.
func allowedWall(windows, blackout []Window, day time.Weekday, tod time.Duration) bool {
	in := func(w Window) bool { return w.containsWall(day, tod) }
	return (len(windows) == 0 || slices.ContainsFunc(windows, in)) && !slices.ContainsFunc(blackout, in)
}

// edges returns the minutes after midnight at which some window or
// blackout opens or closes, with midnight, ascending: between two edges,
// whether a run may start does not change.
func edges(windows, blackout []Window) []int {
	e := []int{0}
	for _, w := range slices.Concat(windows, blackout) {
		e = append(e, w.start, w.end%(24*60))
	}
	slices.Sort(e)
	return slices.Compact(e)
}

// everOpen reports whether some wall-clock time of the week allows a start.
func everOpen(windows, blackout []Window) bool {
	e := edges(windows, blackout)
	for day := range time.Weekday(7) {
		for _, m := range e {
			if allowedWall(windows, blackout, day, time.Duration(m)*time.Minute) {
				return true
			}
		}
	}
	return false
}

// Allowed reports whether a run may start at t: inside a window, if the
// schedule has any, and outside every blackout, on the wall clock of the
// schedule's time zone.
func (s *Schedule) Allowed(t time.Time) bool {
	if len(s.windows) == 0 && len(s.blackout) == 0 {
		return true
	}
	day, tod := wallDay(t, s.loc)
	return allowedWall(s.windows, s.blackout, day, tod)
}

func wallDay(t time.Time, loc *time.Location) (time.Weekday, time.Duration) {
	lt := t.In(loc)
	h, m, sec := lt.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec)*time.Second + time.Duration(lt.Nanosecond())
	return lt.Weekday(), tod
}

// maxWait is how far NextAllowed looks ahead: a week, and a day for a
// window that a clock change removed this week.
const maxWait = 8 * 24 * time.Hour

// NextAllowed returns the earliest instant at or after t at which a run may
// start, or false if there is none within 8 days. A window whose wall-clock
// times do not exist on a day (02:00-03:00 when the clocks spring forward
// over that hour) has no instants that day; on a day when the clocks fall
// back, a window over the repeated hour is open during both occurrences.
func (s *Schedule) NextAllowed(t time.Time) (time.Time, bool) {
	if len(s.windows) == 0 && len(s.blackout) == 0 {
		return t.UTC(), true
	}
	e := edges(s.windows, s.blackout)
	limit := t.Add(maxWait)
	for c := t; !c.After(limit); c = s.nextEdge(c, e) {
		if s.Allowed(c) {
			return c.UTC(), true
		}
	}
	return time.Time{}, false
}

// nextEdge returns the first instant after c at which the wall clock reaches
// one of the edges (minutes after midnight), or the clocks change.
func (s *Schedule) nextEdge(c time.Time, edges []int) time.Time {
	_, tod := wallDay(c, s.loc)
	next := 24 * time.Hour // the next midnight
	for _, m := range edges {
		if e := time.Duration(m) * time.Minute; e > tod {
			next = e
			break
		}
	}
	t := c.Add(next - tod)
	if z := zoneAt(c, s.loc); !z.end.IsZero() && z.end.Before(t) {
		return z.end
	}
	return t
}

// StartAt returns when the run for nominal may start: after its jitter, at
// the first instant a window allows. false means no window opens within 8
// days of that.
func (s *Schedule) StartAt(planID string, nominal time.Time) (time.Time, bool) {
	return s.NextAllowed(nominal.Add(s.Jitter(planID, nominal)))
}
