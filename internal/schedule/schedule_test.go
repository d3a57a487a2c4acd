package schedule

import (
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNext(t *testing.T) {
	created := ts("2026-03-01T10:17:00Z")
	cases := []struct {
		name string
		spec Spec
		prev string
		a    Anchors
		want string
	}{
		{"wall every aligns to the epoch", Spec{Every: time.Hour}, "2026-03-01T10:17:00Z", Anchors{Created: created}, "2026-03-01T11:00:00Z"},
		{"wall every is strictly after prev", Spec{Every: time.Hour}, "2026-03-01T11:00:00Z", Anchors{}, "2026-03-01T12:00:00Z"},
		{"wall every 10s", Spec{Every: 10 * time.Second}, "2026-03-01T10:17:03Z", Anchors{}, "2026-03-01T10:17:10Z"},
		{"last-run counts from creation before any run", Spec{Every: time.Hour, Anchor: AnchorLastRun}, "2026-03-01T10:17:00Z",
			Anchors{Created: created}, "2026-03-01T11:17:00Z"},
		{"last-run counts from the last start", Spec{Every: time.Hour, Anchor: AnchorLastRun}, "2026-03-01T11:17:00Z",
			Anchors{Created: created, LastRun: ts("2026-03-01T11:20:00Z")}, "2026-03-01T12:20:00Z"},
		{"last-success keeps its grid after a failure", Spec{Every: time.Hour, Anchor: AnchorLastSuccess}, "2026-03-01T12:17:00Z",
			Anchors{Created: created, LastRun: ts("2026-03-01T12:17:00Z"), LastSuccess: ts("2026-03-01T11:17:00Z")}, "2026-03-01T13:17:00Z"},
		{"last-success after a long outage", Spec{Every: time.Hour, Anchor: AnchorLastSuccess}, "2026-03-02T00:00:00Z",
			Anchors{LastSuccess: ts("2026-03-01T11:17:00Z")}, "2026-03-02T00:17:00Z"},
		{"cron in UTC", Spec{Cron: "0 3 * * *"}, "2026-03-01T10:17:00Z", Anchors{}, "2026-03-02T03:00:00Z"},
		{"cron in the plan's time zone", Spec{Cron: "0 3 * * *", Timezone: "Europe/Berlin"}, "2026-03-01T10:17:00Z", Anchors{}, "2026-03-02T02:00:00Z"},
		{"CRON_TZ wins", Spec{Cron: "CRON_TZ=America/New_York 0 3 * * *"}, "2026-03-01T10:17:00Z", Anchors{}, "2026-03-02T08:00:00Z"},
		{"cron with seconds", Spec{Cron: "*/15 * * * * *"}, "2026-03-01T10:17:01Z", Anchors{}, "2026-03-01T10:17:15Z"},
		{"@hourly", Spec{Cron: "@hourly"}, "2026-03-01T10:17:00Z", Anchors{}, "2026-03-01T11:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(ts(tc.prev), tc.a); !got.Equal(ts(tc.want)) {
				t.Fatalf("Next(%s) = %s, want %s", tc.prev, got.Format(time.RFC3339), tc.want)
			}
		})
	}
}

func TestDueTimesLatest(t *testing.T) {
	every, _ := New(Spec{Every: 10 * time.Second})
	daily, _ := New(Spec{Cron: "0 3 * * *"})
	perSecond, _ := New(Spec{Cron: "* * * * * *"})
	cases := []struct {
		name       string
		s          *Schedule
		next, now  string
		ok         bool
		latest     string
		wantMissed int
	}{
		{"not yet", every, "2026-03-01T10:00:10Z", "2026-03-01T10:00:09Z", false, "", 0},
		{"on time", every, "2026-03-01T10:00:10Z", "2026-03-01T10:00:10Z", true, "2026-03-01T10:00:10Z", 0},
		{"three intervals down", every, "2026-03-01T10:00:10Z", "2026-03-01T10:00:45Z", true, "2026-03-01T10:00:40Z", 3},
		{"a year down, closed form", every, "2025-03-01T10:00:10Z", "2026-03-01T10:00:10Z", true, "2026-03-01T10:00:10Z", 3153600},
		{"cron, three days down", daily, "2026-03-01T03:00:00Z", "2026-03-03T12:00:00Z", true, "2026-03-03T03:00:00Z", 2},
		{"cron far past the limit counts exactly", perSecond, "2026-03-01T00:00:00Z", "2026-03-01T06:00:00Z", true, "2026-03-01T06:00:00Z", 6 * 3600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The latest due time runs; the others are missed.
			due, more := tc.s.DueTimes(ts(tc.next), ts(tc.now), Anchors{}, 1)
			ok := len(due) > 0
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			if latest, missed := due[0], more; !latest.Equal(ts(tc.latest)) || missed != tc.wantMissed {
				t.Fatalf("DueTimes = %s, %d missed; want %s, %d", latest.Format(time.RFC3339), missed, tc.latest, tc.wantMissed)
			}
		})
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	for _, s := range []Spec{
		{},
		{Every: time.Millisecond},
		{Every: -time.Hour},
		{Every: time.Hour, Cron: "@daily"},
		{Cron: "not a cron"},
		{Every: time.Hour, Timezone: "Nowhere/Land"},
		{Every: time.Hour, Anchor: "moon"},
	} {
		if _, err := New(s); err == nil {
			t.Errorf("New(%+v) accepted it", s)
		}
	}
}
