package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as a duration string ("90s", "1h30m",
// "7d") in YAML and JSON. It is always written back in time.Duration's form
// ("168h0m0s"), which workflow histories already hold.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML accepts a duration string; bare numbers are refused because
// their unit would be a guess.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!int" || n.Tag == "!!float" {
		return fmt.Errorf("line %d: %q is not a duration (write it with a unit, like 90s or 1h)", n.Line, n.Value)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write it with a unit, like 90s or 1h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"90s\": %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

const day = 24 * time.Hour

// ParseDuration reads what time.ParseDuration reads plus a day unit, d,
// alone or combined ("7d", "1d12h", "1.5d", "-2d"). A day is 24 hours
// whatever the calendar says, so "1d" across a DST change is still 24h.
// Negative durations parse; callers decide whether they make sense.
func ParseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(daysToNanos(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 90s, 30m, 2h or 7d)", s)
	}
	return v, nil
}

// daysToNanos rewrites each day component of s as nanoseconds ("1.5d2h" to
// "129600000000000ns2h") so that time.ParseDuration can read the rest, with
// its own sign, syntax and overflow rules. A day component that cannot be
// rewritten is left as it is, and time.ParseDuration rejects its unit.
func daysToNanos(s string) string {
	var b strings.Builder
	rest := s
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		b.WriteByte(rest[0])
		rest = rest[1:]
	}
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
		if i < 0 {
			i = len(rest)
		}
		j := strings.IndexFunc(rest[i:], func(r rune) bool { return r == '.' || (r >= '0' && r <= '9') })
		if j < 0 {
			j = len(rest) - i
		}
		num, unit := rest[:i], rest[i:i+j]
		if unit != "d" {
			b.WriteString(rest[:i+j])
		} else if ns, ok := dayNanos(num); ok {
			b.WriteString(strconv.FormatUint(ns, 10) + "ns")
		} else {
			return s
		}
		rest = rest[i+j:]
	}
	return b.String()
}

// dayNanos converts a decimal count of days ("7", "1.5", ".25") to
// nanoseconds, truncating below a nanosecond as time.ParseDuration does.
func dayNanos(num string) (uint64, bool) {
	whole, frac, _ := strings.Cut(num, ".")
	if whole == "" && frac == "" || strings.Contains(frac, ".") {
		return 0, false
	}
	var ns uint64
	if whole != "" {
		w, err := strconv.ParseUint(whole, 10, 64)
		if err != nil || w > math.MaxInt64/uint64(day) {
			return 0, false
		}
		ns = w * uint64(day)
	}
	if frac != "" {
		// Digits past the 19th add less than a nanosecond, and 10^19 still
		// fits in a uint64.
		frac = frac[:min(len(frac), 19)]
		f, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return 0, false
		}
		scale := uint64(1)
		for range frac {
			scale *= 10
		}
		hi, lo := bits.Mul64(f, uint64(day))
		q, _ := bits.Div64(hi, lo, scale) // hi < scale because f < scale
		ns += q
	}
	return ns, ns <= math.MaxInt64
}
