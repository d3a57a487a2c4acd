package schedule

import (
	"strings"
	"testing"
	"time"
)

// fires returns the fire times of s after prev up to and including until.
func fires(s *Schedule, prev, until time.Time) []time.Time {
	var out []time.Time
	for t := s.Next(prev, Anchors{}); !t.IsZero() && !t.After(until); t = s.Next(t, Anchors{}) {
		out = append(out, t)
	}
	return out
}

func utcList(ts []time.Time) string {
	var b []string
	for _, t := range ts {
		b = append(b, t.UTC().Format("01-02T15:04Z"))
	}
	return strings.Join(b, " ")
}

func mustNew(t *testing.T, spec Spec) *Schedule {
	t.Helper()
	s, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCronAcrossDST pins the fire times around the four 2026 clock changes
// in Berlin and New York for the crons people write.
func TestCronAcrossDST(t *testing.T) {
	cases := []struct {
		name, tz, cron string
		from, until    string // instants, UTC
		want           string // fire times, UTC
	}{
		// Berlin springs forward on 2026-03-29 at 01:00Z: 02:00 CET -> 03:00 CEST.
		{"Berlin spring, daily 02:30: the missing 02:30 fires at 03:00 CEST", "Europe/Berlin", "30 2 * * *",
			"2026-03-27T12:00:00Z", "2026-03-31T00:00:00Z", "03-28T01:30Z 03-29T01:00Z 03-30T00:30Z"},
		{"Berlin spring, every 30 minutes: 02:00, 02:30 and 03:00 fire once, at 03:00 CEST", "Europe/Berlin", "*/30 * * * *",
			"2026-03-28T23:45:00Z", "2026-03-29T02:00:00Z", "03-29T00:00Z 03-29T00:30Z 03-29T01:00Z 03-29T01:30Z 03-29T02:00Z"},
		{"Berlin spring, hourly", "Europe/Berlin", "0 * * * *",
			"2026-03-28T23:30:00Z", "2026-03-29T03:00:00Z", "03-29T00:00Z 03-29T01:00Z 03-29T02:00Z 03-29T03:00Z"},
		// Berlin falls back on 2026-10-25 at 01:00Z: 03:00 CEST -> 02:00 CET.
		{"Berlin fall, daily 02:30 fires at the first 02:30 only", "Europe/Berlin", "30 2 * * *",
			"2026-10-23T12:00:00Z", "2026-10-27T00:00:00Z", "10-24T00:30Z 10-25T00:30Z 10-26T01:30Z"},
		{"Berlin fall, every 30 minutes skips the repeated 02:00 and 02:30", "Europe/Berlin", "*/30 * * * *",
			"2026-10-24T23:15:00Z", "2026-10-25T02:30:00Z", "10-24T23:30Z 10-25T00:00Z 10-25T00:30Z 10-25T02:00Z 10-25T02:30Z"},
		{"Berlin fall, hourly", "Europe/Berlin", "0 * * * *",
			"2026-10-24T22:30:00Z", "2026-10-25T03:00:00Z", "10-24T23:00Z 10-25T00:00Z 10-25T02:00Z 10-25T03:00Z"},
		{"Berlin fall, prev inside the second 02:xx: the second 02:30", "Europe/Berlin", "30 2 * * *",
			"2026-10-25T01:10:00Z", "2026-10-25T12:00:00Z", "10-25T01:30Z"},
		{"Berlin fall, prev inside the first 02:xx: the first 02:30", "Europe/Berlin", "30 2 * * *",
			"2026-10-25T00:10:00Z", "2026-10-25T12:00:00Z", "10-25T00:30Z"},
		{"Berlin fall, every 30 minutes from inside the second 02:xx", "Europe/Berlin", "*/30 * * * *",
			"2026-10-25T01:10:00Z", "2026-10-25T02:00:00Z", "10-25T01:30Z 10-25T02:00Z"},
		{"Berlin fall, after the last first occurrence", "Europe/Berlin", "*/30 * * * *",
			"2026-10-25T00:45:00Z", "2026-10-25T02:00:00Z", "10-25T02:00Z"},
		// New York springs forward on 2026-03-08 at 07:00Z: 02:00 EST -> 03:00 EDT.
		{"New York spring, daily 02:30", "America/New_York", "30 2 * * *",
			"2026-03-06T12:00:00Z", "2026-03-10T00:00:00Z", "03-07T07:30Z 03-08T07:00Z 03-09T06:30Z"},
		{"New York spring, every 30 minutes", "America/New_York", "*/30 * * * *",
			"2026-03-08T05:45:00Z", "2026-03-08T08:00:00Z", "03-08T06:00Z 03-08T06:30Z 03-08T07:00Z 03-08T07:30Z 03-08T08:00Z"},
		{"New York spring, hourly", "America/New_York", "0 * * * *",
			"2026-03-08T05:30:00Z", "2026-03-08T09:00:00Z", "03-08T06:00Z 03-08T07:00Z 03-08T08:00Z 03-08T09:00Z"},
		// New York falls back on 2026-11-01 at 06:00Z: 02:00 EDT -> 01:00 EST.
		{"New York fall, daily 02:30 is not repeated", "America/New_York", "30 2 * * *",
			"2026-10-30T12:00:00Z", "2026-11-03T00:00:00Z", "10-31T06:30Z 11-01T07:30Z 11-02T07:30Z"},
		{"New York fall, daily 01:30 fires at the first 01:30 only", "America/New_York", "30 1 * * *",
			"2026-10-30T12:00:00Z", "2026-11-03T00:00:00Z", "10-31T05:30Z 11-01T05:30Z 11-02T06:30Z"},
		{"New York fall, every 30 minutes skips the repeated 01:00 and 01:30", "America/New_York", "*/30 * * * *",
			"2026-11-01T04:15:00Z", "2026-11-01T07:30:00Z", "11-01T04:30Z 11-01T05:00Z 11-01T05:30Z 11-01T07:00Z 11-01T07:30Z"},
		{"New York fall, hourly", "America/New_York", "0 * * * *",
			"2026-11-01T03:30:00Z", "2026-11-01T08:00:00Z", "11-01T04:00Z 11-01T05:00Z 11-01T07:00Z 11-01T08:00Z"},
		// CRON_TZ wins over the plan's time zone.
		{"CRON_TZ=Europe/Berlin in a UTC plan", "UTC", "CRON_TZ=Europe/Berlin 30 2 * * *",
			"2026-03-27T12:00:00Z", "2026-03-31T00:00:00Z", "03-28T01:30Z 03-29T01:00Z 03-30T00:30Z"},
		{"TZ=America/New_York over a Berlin plan", "Europe/Berlin", "TZ=America/New_York 30 1 * * *",
			"2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z", "11-01T05:30Z 11-02T06:30Z"},
		{"seconds field in a gap", "Europe/Berlin", "15 10 2 * * *",
			"2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z", "03-29T01:00Z 03-30T00:10Z"},
		{"@every counts elapsed time across the change", "Europe/Berlin", "@every 1h",
			"2026-03-29T00:00:00Z", "2026-03-29T03:00:00Z", "03-29T01:00Z 03-29T02:00Z 03-29T03:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, Spec{Cron: tc.cron, Timezone: tc.tz})
			got := utcList(fires(s, ts(tc.from), ts(tc.until)))
			if got != tc.want {
				t.Fatalf("fire times:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestCronFiresOncePerWallTime checks the rule over whole days around every
// clock change: fire times strictly increase, no two read the same on the
// wall clock, and each wall time the cron names fires at its first
// occurrence or, if skipped by the clocks, at the end of the gap.
func TestCronFiresOncePerWallTime(t *testing.T) {
	days := map[string][]string{
		"Europe/Berlin":    {"2026-03-29", "2026-10-25"},
		"America/New_York": {"2026-03-08", "2026-11-01"},
	}
	for _, tz := range []string{"Europe/Berlin", "America/New_York"} {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		for _, day := range days[tz] {
			for _, expr := range []string{"30 2 * * *", "30 1 * * *", "*/30 * * * *", "0 * * * *", "*/10 * * * *", "0 */7 * * * *"} {
				t.Run(tz+" "+day+" "+expr, func(t *testing.T) {
					s := mustNew(t, Spec{Cron: expr, Timezone: tz})
					d, _ := time.ParseInLocation("2006-01-02", day, loc)
					start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
					end := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
					got := fires(s, start.Add(-time.Second), end.Add(-time.Second))
					walls := map[string]bool{}
					for i, f := range got {
						if i > 0 && !f.After(got[i-1]) {
							t.Fatalf("fire times not increasing: %v then %v", got[i-1], f)
						}
						w := f.In(loc).Format("15:04:05")
						if walls[w] {
							t.Fatalf("wall time %s fired twice: %s", w, utcList(got))
						}
						walls[w] = true
					}
					// Every wall time the cron names in the day (in UTC
					// fields, so each is seen once) must map to a fire time.
					wd := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
					for w := s.wall.Next(wd.Add(-time.Second)); w.Before(wd.AddDate(0, 0, 1)); w = s.wall.Next(w) {
						occ, n, gapEnd := instants(w, loc)
						want := gapEnd
						if n > 0 {
							want = occ[0]
						}
						found := false
						for _, f := range got {
							found = found || f.Equal(want)
						}
						if !found {
							t.Errorf("wall time %s (at %s) did not fire; fires: %s", w.Format("15:04:05"), want.UTC().Format(time.RFC3339), utcList(got))
						}
					}
				})
			}
		}
	}
}

func TestInstants(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	cases := []struct {
		wall    string
		want    string // instants, or "gap until" one
		wantGap bool
	}{
		{"2026-03-29T01:59:59Z", "2026-03-29T00:59:59Z", false},
		{"2026-03-29T02:00:00Z", "2026-03-29T01:00:00Z", true},
		{"2026-03-29T02:59:59Z", "2026-03-29T01:00:00Z", true},
		{"2026-03-29T03:00:00Z", "2026-03-29T01:00:00Z", false},
		{"2026-10-25T01:59:59Z", "2026-10-24T23:59:59Z", false},
		{"2026-10-25T02:00:00Z", "2026-10-25T00:00:00Z 2026-10-25T01:00:00Z", false},
		{"2026-10-25T02:59:59Z", "2026-10-25T00:59:59Z 2026-10-25T01:59:59Z", false},
		{"2026-10-25T03:00:00Z", "2026-10-25T02:00:00Z", false},
	}
	for _, tc := range cases {
		occ, n, gapEnd := instants(ts(tc.wall), berlin)
		var got []string
		for _, o := range occ[:n] {
			got = append(got, o.UTC().Format(time.RFC3339))
		}
		if tc.wantGap {
			if n != 0 || gapEnd.UTC().Format(time.RFC3339) != tc.want {
				t.Errorf("instants(%s) = %v, gap until %v; want a gap until %s", tc.wall, got, gapEnd, tc.want)
			}
			continue
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("instants(%s) = %v, want %s", tc.wall, got, tc.want)
		}
	}
}

func TestParseCronRejectsBadPrefixes(t *testing.T) {
	for expr, want := range map[string]string{
		"CRON_TZ=Europe/Berlin":              "want a schedule after the time zone",
		"TZ=Europe/Berlin   ":                "want a schedule after the time zone",
		"CRON_TZ=Local 0 3 * * *":            "never uses the host's zone",
		"CRON_TZ=Mars/Olympus 0 3 * * *":     "Mars/Olympus",
		"CRON_TZ=Europe/Berlin 0 25 * * *":   "above maximum",
		"CRON_TZ=Europe/Berlin @fortnightly": "unrecognized descriptor",
	} {
		err := ParseCron(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCron(%q) = %v, want an error containing %q", expr, err, want)
		}
	}
	if _, err := New(Spec{Every: time.Hour, Timezone: "Local"}); err == nil {
		t.Error("New accepted timezone Local")
	}
}
