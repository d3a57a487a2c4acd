package schedule

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestDueTimes(t *testing.T) {
	every10s := func(t *testing.T) *Schedule { return mustNew(t, Spec{Every: 10 * time.Second}) }
	cases := []struct {
		name      string
		s         func(*testing.T) *Schedule
		a         Anchors
		next, now string
		limit     int
		want      []string
		more      int
	}{
		{"nothing due yet", every10s, Anchors{}, "2026-03-01T10:00:10Z", "2026-03-01T10:00:09Z", 5, nil, 0},
		{"zero next is never due", every10s, Anchors{}, "0001-01-01T00:00:00Z", "2026-03-01T10:00:09Z", 5, nil, 0},
		{"on time", every10s, Anchors{}, "2026-03-01T10:00:10Z", "2026-03-01T10:00:10Z", 5, []string{"10:00:10"}, 0},
		{"three late, all listed", every10s, Anchors{}, "2026-03-01T10:00:10Z", "2026-03-01T10:00:45Z", 5,
			[]string{"10:00:10", "10:00:20", "10:00:30", "10:00:40"}, 0},
		{"the newest are listed, the rest counted", every10s, Anchors{}, "2026-03-01T10:00:10Z", "2026-03-01T10:00:45Z", 2,
			[]string{"10:00:30", "10:00:40"}, 2},
		{"limit 0 still lists the latest", every10s, Anchors{}, "2026-03-01T10:00:10Z", "2026-03-01T10:00:45Z", 0,
			[]string{"10:00:40"}, 3},
		{"last-success grid continues from next", func(t *testing.T) *Schedule {
			return mustNew(t, Spec{Every: time.Hour, Anchor: AnchorLastSuccess})
		}, Anchors{LastSuccess: ts("2026-03-01T07:17:00Z")}, "2026-03-01T08:17:00Z", "2026-03-01T11:00:00Z", 10,
			[]string{"08:17:00", "09:17:00", "10:17:00"}, 0},
		{"last-run anchor moved since next was computed", func(t *testing.T) *Schedule {
			return mustNew(t, Spec{Every: time.Hour, Anchor: AnchorLastRun})
		}, Anchors{LastRun: ts("2026-03-01T08:30:00Z")}, "2026-03-01T08:17:00Z", "2026-03-01T11:00:00Z", 10,
			[]string{"08:17:00", "09:30:00", "10:30:00"}, 0},
		{"daily cron, three days down", func(t *testing.T) *Schedule { return mustNew(t, Spec{Cron: "0 3 * * *"}) }, Anchors{},
			"2026-03-01T03:00:00Z", "2026-03-03T12:00:00Z", 10, []string{"03:00:00", "03:00:00", "03:00:00"}, 0},
		{"@every in a cron", func(t *testing.T) *Schedule { return mustNew(t, Spec{Cron: "@every 20m"}) }, Anchors{},
			"2026-03-01T10:00:00Z", "2026-03-01T11:10:00Z", 2, []string{"10:40:00", "11:00:00"}, 2},
		{"per-second cron, six hours", func(t *testing.T) *Schedule { return mustNew(t, Spec{Cron: "* * * * * *"}) }, Anchors{},
			"2026-03-01T00:00:00Z", "2026-03-01T06:00:00Z", 3, []string{"05:59:58", "05:59:59", "06:00:00"}, 6*3600 + 1 - 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			due, more := tc.s(t).DueTimes(ts(tc.next), ts(tc.now), tc.a, tc.limit)
			var got []string
			for _, d := range due {
				got = append(got, d.Format("15:04:05"))
			}
			if !slices.Equal(got, tc.want) || more != tc.more {
				t.Fatalf("DueTimes = %v, %d more; want %v, %d more", got, more, tc.want, tc.more)
			}
		})
	}
}

// TestDueTimesAfterAHugeDowntime: a year of one-second slots is counted
// exactly and lists the newest (counted, not visited one by one: a scan
// would run into the test timeout).
func TestDueTimesAfterAHugeDowntime(t *testing.T) {
	next, now := ts("2025-03-01T00:00:00Z"), ts("2026-03-01T00:00:00Z")
	seconds := int(now.Sub(next)/time.Second) + 1
	for _, tc := range []struct {
		spec  Spec
		total int
	}{
		{Spec{Every: time.Second}, seconds},
		{Spec{Cron: "* * * * * *"}, seconds},
		// The hour repeated in the autumn fires once, not twice: 3600 fewer
		// than the seconds elapsed. The hour skipped in spring costs none.
		{Spec{Cron: "* * * * * *", Timezone: "Europe/Berlin"}, seconds - 3600},
		{Spec{Cron: "*/1 * * * * *", Timezone: "America/New_York"}, seconds - 3600},
	} {
		t.Run(fmt.Sprintf("%s%s %s", tc.spec.Every, tc.spec.Cron, tc.spec.Timezone), func(t *testing.T) {
			s, total := mustNew(t, tc.spec), tc.total
			due, more := s.DueTimes(next, now, Anchors{}, 200)
			if len(due) != 200 || more != total-200 {
				t.Fatalf("DueTimes listed %d and %d more, want 200 and %d more", len(due), more, total-200)
			}
			if !due[199].Equal(now) || !due[0].Equal(now.Add(-199*time.Second)) {
				t.Fatalf("listed %s .. %s", due[0], due[199])
			}
		})
	}
}

// TestCountMatchesNext checks the cron counter against visiting every fire
// time with Next, across clock changes, for crons of many shapes.
func TestCountMatchesNext(t *testing.T) {
	crons := []string{
		"30 2 * * *", "30 1 * * *", "*/30 * * * *", "0 * * * *", "*/7 * * * *",
		"15,45 0-3 * * *", "*/20 * * * * *", "0 30 2 * * 0", "0 0 * * 1-5", "0 3 1,15 * *",
		"0 0 1 * 0", "@hourly", "@daily", "0 0 29 2 *", "10 0,1,2,3 25 10 *",
	}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"}
	starts := []string{
		"2026-03-07T22:13:05Z", "2026-03-28T20:00:00Z", "2026-03-29T00:59:59Z", "2026-10-24T22:00:00Z",
		"2026-10-25T00:10:00Z", "2026-10-25T01:10:00Z", "2026-10-31T23:00:00Z", "2026-11-01T06:30:00Z",
		"2026-04-04T12:00:00Z", "2026-10-03T14:30:00Z",
	}
	for _, tz := range zones {
		for _, expr := range crons {
			s := mustNew(t, Spec{Cron: expr, Timezone: tz})
			for _, st := range starts {
				next := s.Next(ts(st), Anchors{})
				now := next.Add(3 * 24 * time.Hour)
				got := fires(s, next, now)
				c := newCounter(s.wall, s.cronLoc, next, now)
				// Every prefix of the range, at and just before each fire time.
				for i, f := range got {
					if n := c.fires(next, f); n != i+1 {
						t.Fatalf("%s %q from %s: %d fire times up to %s, Next visits %d", tz, expr, next, n, f, i+1)
					}
					if n := c.fires(next, f.Add(-time.Nanosecond)); n != i {
						t.Fatalf("%s %q from %s: %d fire times before %s, Next visits %d", tz, expr, next, n, f, i)
					}
				}
				if n := c.fires(next, now); n != len(got) {
					t.Fatalf("%s %q from %s: counted %d, Next visits %d", tz, expr, next, n, len(got))
				}
				// DueTimes agrees with the visit.
				due, more := s.DueTimes(next, now, Anchors{}, 5)
				all := append([]time.Time{next}, got...)
				want := all[max(len(all)-5, 0):]
				if !slices.EqualFunc(due, want, time.Time.Equal) || more != len(all)-len(want) {
					t.Fatalf("%s %q from %s: DueTimes = %s, %d more; want %s, %d more", tz, expr, next, utcList(due), more, utcList(want), len(all)-len(want))
				}
			}
		}
	}
}
