package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	good := map[string]string{ // input: canonical form
		"01:00-05:00":             "01:00-05:00",
		"Mon-Fri 01:00-06:00":     "Mon-Fri 01:00-06:00",
		"mon-FRI 1:00-06:00":      "Mon-Fri 01:00-06:00",
		"Sat 00:00-23:59":         "Sat 00:00-23:59",
		"Sat,Sun 00:00-24:00":     "Sat-Sun 00:00-24:00",
		"Mon,Wed,Fri 22:00-02:00": "Mon,Wed,Fri 22:00-02:00",
		"Fri-Mon 10:00-12:00":     "Mon,Fri-Sun 10:00-12:00",
		"Sun-Sat 03:00-04:00":     "03:00-04:00",
		"Tue-Tue 03:00-04:00":     "Tue 03:00-04:00",
		"  Thu   23:30-00:30 ":    "Thu 23:30-00:30",
	}
	for in, want := range good {
		w, err := ParseWindow(in)
		if err != nil {
			t.Errorf("ParseWindow(%q): %v", in, err)
			continue
		}
		if w.String() != want {
			t.Errorf("ParseWindow(%q) = %s, want %s", in, w, want)
		}
	}
	bad := map[string]string{
		"Mon-Fry 01:00-06:00":  `"Mon-Fry 01:00-06:00": unknown day "Fry"`,
		"25:00-26:00":          `"25:00-26:00": hour 25 out of range`,
		"01:60-02:00":          `"01:60-02:00": minute 60 out of range`,
		"24:00-01:00":          "24:00 is valid only as an end",
		"23:00-24:30":          "time 24:30 out of range (the latest end is 24:00)",
		"01:00-01:00":          "the window is empty",
		"1am-5am":              "no time range",
		"01:00":                "want HH:MM-HH:MM",
		"Mon-Fri":              "no time range",
		"":                     `"": want "[DAYS] HH:MM-HH:MM"`,
		"Mon Tue 01:00-02:00":  `want "[DAYS] HH:MM-HH:MM"`,
		"Mon,,Fri 01:00-02:00": "missing day name",
		"Monday 01:00-02:00":   `unknown day "Monday"`,
		"01:00-6:0":            `time "6:0": want HH:MM`,
		"-1:00-02:00":          `time "": want HH:MM`,
	}
	for in, want := range bad {
		_, err := ParseWindow(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseWindow(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

// week is 2026-03-02 (a Monday) to 2026-03-08, in UTC unless a zone is set.
func at(s string) time.Time { return ts("2026-03-0" + s) }

func TestAllowed(t *testing.T) {
	cases := []struct {
		name              string
		windows, blackout []string
		allowed, denied   []string // "DTHH:MM:SSZ" in the week of 2026-03-02
	}{
		{"no windows: always", nil, nil, []string{"2T00:00:00Z", "7T23:59:59Z"}, nil},
		{"weekday mornings", []string{"Mon-Fri 01:00-06:00"}, nil,
			[]string{"2T01:00:00Z", "2T05:59:59Z", "6T03:00:00Z"},
			[]string{"2T00:59:59Z", "2T06:00:00Z", "7T03:00:00Z", "8T03:00:00Z"}},
		{"every day", []string{"01:00-05:00"}, nil, []string{"7T01:00:00Z", "8T04:59:00Z"}, []string{"8T05:00:00Z"}},
		{"crossing midnight belongs to the start day", []string{"Mon,Wed,Fri 22:00-02:00"}, nil,
			[]string{"2T22:00:00Z", "3T01:59:59Z", "6T23:00:00Z", "7T01:00:00Z"},
			[]string{"2T21:59:59Z", "3T02:00:00Z", "3T23:00:00Z", "2T01:00:00Z", "8T01:00:00Z"}},
		{"a range wrapping the week", []string{"Fri-Mon 10:00-12:00"}, nil,
			[]string{"2T11:00:00Z", "6T10:00:00Z", "7T11:00:00Z", "8T11:59:59Z"},
			[]string{"3T11:00:00Z", "4T11:00:00Z", "5T11:00:00Z"}},
		{"whole day to 24:00", []string{"Sat 00:00-24:00"}, nil, []string{"7T00:00:00Z", "7T23:59:59Z"}, []string{"8T00:00:00Z", "6T23:59:59Z"}},
		{"23:59 leaves the last minute out", []string{"Sat 00:00-23:59"}, nil, []string{"7T23:58:59Z"}, []string{"7T23:59:00Z"}},
		{"blackout only", nil, []string{"Sat 00:00-24:00"}, []string{"6T23:59:59Z", "8T00:00:00Z"}, []string{"7T12:00:00Z"}},
		{"blackout inside a window", []string{"01:00-06:00"}, []string{"Wed 02:00-03:00"},
			[]string{"4T01:59:00Z", "4T03:00:00Z", "5T02:30:00Z"}, []string{"4T02:00:00Z", "4T02:59:59Z"}},
		{"two windows", []string{"Mon 01:00-02:00", "Sun 20:00-21:00"}, nil,
			[]string{"2T01:30:00Z", "8T20:30:00Z"}, []string{"2T20:30:00Z", "8T01:30:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, Spec{Every: time.Hour, Windows: tc.windows, Blackout: tc.blackout})
			for _, a := range tc.allowed {
				if !s.Allowed(at(a)) {
					t.Errorf("%s: not allowed", at(a).Format("Mon 15:04:05"))
				}
			}
			for _, d := range tc.denied {
				if s.Allowed(at(d)) {
					t.Errorf("%s: allowed", at(d).Format("Mon 15:04:05"))
				}
			}
		})
	}
}

func TestNextAllowed(t *testing.T) {
	cases := []struct {
		name              string
		tz                string
		windows, blackout []string
		t, want           string
	}{
		{"inside: at once", "", []string{"01:00-06:00"}, nil, "2026-03-02T03:17:12Z", "2026-03-02T03:17:12Z"},
		{"before: the window's start", "", []string{"01:00-06:00"}, nil, "2026-03-02T00:10:00.5Z", "2026-03-02T01:00:00Z"},
		{"after: tomorrow's start", "", []string{"01:00-06:00"}, nil, "2026-03-02T06:00:00Z", "2026-03-03T01:00:00Z"},
		{"weekend: Monday", "", []string{"Mon-Fri 01:00-06:00"}, nil, "2026-03-06T07:00:00Z", "2026-03-09T01:00:00Z"},
		{"crossing midnight, from the start day", "", []string{"Fri 22:00-02:00"}, nil, "2026-03-06T12:00:00Z", "2026-03-06T22:00:00Z"},
		{"crossing midnight, the morning after", "", []string{"Fri 22:00-02:00"}, nil, "2026-03-07T01:00:00Z", "2026-03-07T01:00:00Z"},
		{"a week ahead", "", []string{"Mon 01:00-02:00"}, nil, "2026-03-02T02:00:00Z", "2026-03-09T01:00:00Z"},
		{"blackout end", "", nil, []string{"00:45-01:20"}, "2026-03-02T01:00:00Z", "2026-03-02T01:20:00Z"},
		{"blackout over a window's start", "", []string{"01:00-06:00"}, []string{"Mon 00:00-02:30"}, "2026-03-02T00:00:00Z", "2026-03-02T02:30:00Z"},
		{"blackout over a whole day's window", "", []string{"01:00-06:00"}, []string{"Mon 00:00-24:00"}, "2026-03-02T00:00:00Z", "2026-03-03T01:00:00Z"},
		{"in the schedule's zone", "Europe/Berlin", []string{"01:00-06:00"}, nil, "2026-03-02T12:00:00Z", "2026-03-03T00:00:00Z"},
		// Berlin springs forward on 2026-03-29: 02:00-03:00 does not exist.
		{"spring: a window inside the gap waits a day", "Europe/Berlin", []string{"02:00-03:00"}, nil,
			"2026-03-28T23:00:00Z", "2026-03-30T00:00:00Z"},
		{"spring: a window across the gap opens at the jump", "Europe/Berlin", []string{"02:30-04:00"}, nil,
			"2026-03-28T23:00:00Z", "2026-03-29T01:00:00Z"},
		{"spring: a weekly window in the gap waits a week", "Europe/Berlin", []string{"Sun 02:00-02:30"}, nil,
			"2026-03-28T12:00:00Z", "2026-04-05T00:00:00Z"},
		{"spring: a blackout across the gap", "Europe/Berlin", nil, []string{"01:30-03:30"},
			"2026-03-29T00:40:00Z", "2026-03-29T01:30:00Z"},
		// Berlin falls back on 2026-10-25: 02:00-03:00 happens twice.
		{"fall: the first 02:00", "Europe/Berlin", []string{"02:00-03:00"}, nil, "2026-10-24T23:30:00Z", "2026-10-25T00:00:00Z"},
		{"fall: open in the second 02:xx too", "Europe/Berlin", []string{"02:00-03:00"}, nil, "2026-10-25T01:30:00Z", "2026-10-25T01:30:00Z"},
		{"fall: a blackout over the repeated hour lasts two hours", "Europe/Berlin", nil, []string{"02:00-03:00"},
			"2026-10-25T00:10:00Z", "2026-10-25T02:00:00Z"},
		{"New York spring: window starts in the gap", "America/New_York", []string{"Sun 02:15-05:00"}, nil,
			"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, Spec{Every: time.Hour, Timezone: tc.tz, Windows: tc.windows, Blackout: tc.blackout})
			got, ok := s.NextAllowed(ts(tc.t))
			if !ok || !got.Equal(ts(tc.want)) {
				t.Fatalf("NextAllowed(%s) = %s, %v; want %s", tc.t, got.Format(time.RFC3339Nano), ok, tc.want)
			}
			if !s.Allowed(got) {
				t.Fatalf("NextAllowed returned %s, which is not allowed", got)
			}
			// Nothing earlier is allowed: check each minute before it.
			for m := ts(tc.t); m.Before(got); m = m.Add(time.Minute) {
				if s.Allowed(m) {
					t.Fatalf("%s is allowed, before %s", m, got)
				}
			}
		})
	}
}

func TestWindowsThatNeverOpen(t *testing.T) {
	for _, tc := range []struct{ windows, blackout []string }{
		{[]string{"Mon-Fri 01:00-06:00"}, []string{"Mon-Fri 00:00-24:00"}},
		{[]string{"Sat 22:00-02:00"}, []string{"Sat 22:00-24:00", "Sun 00:00-02:00"}},
		{[]string{"01:00-02:00", "Wed 05:00-06:00"}, []string{"00:30-02:30", "Wed 04:00-07:00"}},
		{nil, []string{"00:00-24:00"}},
		{nil, []string{"Mon-Sun 12:00-12:01", "12:01-12:00"}},
	} {
		_, err := New(Spec{Every: time.Hour, Windows: tc.windows, Blackout: tc.blackout})
		if !errors.Is(err, ErrNeverOpen) || !strings.Contains(err.Error(), "contradictory options") {
			t.Errorf("windows %q blackout %q: err = %v, want ErrNeverOpen", tc.windows, tc.blackout, err)
		}
	}
	// A single open minute is enough.
	if _, err := New(Spec{Every: time.Hour, Windows: []string{"Mon 01:00-02:00"}, Blackout: []string{"Mon 01:00-01:59"}}); err != nil {
		t.Errorf("one open minute rejected: %v", err)
	}
	// NextAllowed gives up after 8 days rather than loop (New rejects such
	// specs; build one by hand).
	s := &Schedule{loc: time.UTC, windows: []Window{{days: 1 << time.Monday, start: 60, end: 120}},
		blackout: []Window{{days: allDays, start: 0, end: 24 * 60}}}
	if got, ok := s.NextAllowed(ts("2026-03-02T00:00:00Z")); ok {
		t.Errorf("NextAllowed = %s, want none", got)
	}
	if _, ok := s.StartAt("p", ts("2026-03-02T00:00:00Z")); ok {
		t.Error("StartAt found a start time")
	}
}

func TestNewRejectsBadWindows(t *testing.T) {
	for spec, want := range map[*Spec]string{
		{Every: time.Hour, Windows: []string{"01:00-02:00", "Mon-Fry 01:00-06:00"}}: `windows[1]: "Mon-Fry 01:00-06:00": unknown day "Fry"`,
		{Every: time.Hour, Blackout: []string{"25:00-26:00"}}:                       `blackout[0]: "25:00-26:00": hour 25 out of range`,
		{Every: time.Hour, Jitter: -time.Second}:                                    "jitter -1s: must not be negative",
	} {
		if _, err := New(*spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", *spec, err, want)
		}
	}
}
