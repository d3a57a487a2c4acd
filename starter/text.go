package main

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// safe makes free text (reasons, names, error messages from signals and
// activities) harmless to print on a terminal: C0 controls, DEL, C1 controls
// and invalid UTF-8 become visible escapes ("\n", "\x1b", "\u009b", "\xff"),
// so that nobody can move the cursor, clear the screen or forge table rows
// with a pause reason. Everything else, non-ASCII letters and emoji too, is
// kept. Its output never needs escaping again.
func safe(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for _, u := range safeUnits(s) {
		b.WriteString(u)
	}
	return b.String()
}

// safeClip is safe(s) cut to at most n runes (n >= 1), with "…" marking the
// cut; an escape is kept whole or dropped, never cut in half.
func safeClip(s string, n int) string {
	e := safe(s)
	if utf8.RuneCountInString(e) <= n {
		return e
	}
	var b strings.Builder
	runes := 0
	for _, u := range safeUnits(s) {
		w := utf8.RuneCountInString(u)
		if runes+w > n-1 {
			break
		}
		b.WriteString(u)
		runes += w
	}
	b.WriteString("…")
	return b.String()
}

// needsEscape reports whether safe would change s.
func needsEscape(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || isControl(r) {
			return true
		}
	}
	return false
}

// safeUnits splits s into what safe prints for each rune or invalid byte:
// the rune itself or its escape.
func safeUnits(s string) []string {
	var units []string
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			units = append(units, fmt.Sprintf(`\x%02x`, s[0]))
		case r == '\n':
			units = append(units, `\n`)
		case r == '\r':
			units = append(units, `\r`)
		case r == '\t':
			units = append(units, `\t`)
		case r < 0x80 && isControl(r):
			units = append(units, fmt.Sprintf(`\x%02x`, r))
		case isControl(r):
			units = append(units, fmt.Sprintf(`\u%04x`, r))
		default:
			units = append(units, s[:size])
		}
		s = s[size:]
	}
	return units
}

// isControl reports whether r is a C0 control, DEL or a C1 control.
func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// relative says how far t is from now for people: "just now" within a
// second either way, else "in 5 min" or "5 min ago".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d.Abs() < time.Second:
		return "just now"
	case d > 0:
		return "in " + humanize(d)
	}
	return humanize(d) + " ago"
}

// humanize writes the size of d (its sign is dropped) in the largest units
// that keep it readable and, for short spans, precise: "45 s" under a
// minute, "3 min" under an hour, "2 h 5 min" under 48 hours, "3 days 4 h"
// under 10 days, "108 days" under two years, then "10 years" (of 365 days).
// Smaller parts are truncated, not rounded.
func humanize(d time.Duration) string {
	const (
		day  = 24 * time.Hour
		year = 365 * day
	)
	d = d.Abs()
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d < 48*time.Hour:
		return withPart(fmt.Sprintf("%d h", d/time.Hour), d%time.Hour/time.Minute, "min")
	case d < 10*day:
		return withPart(fmt.Sprintf("%d days", d/day), d%day/time.Hour, "h")
	case d < 2*year:
		return fmt.Sprintf("%d days", d/day)
	}
	return fmt.Sprintf("%d years", d/year)
}

// withPart appends a smaller unit to s unless it is zero ("2 h" + "5 min").
func withPart(s string, n time.Duration, unit string) string {
	if n == 0 {
		return s
	}
	return fmt.Sprintf("%s %d %s", s, n, unit)
}
