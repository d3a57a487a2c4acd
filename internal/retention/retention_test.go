package retention_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/retention"
)

// at reads a UTC time like "2026-12-06 14:40".
func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func location(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load time zone: %v", err)
	}
	return loc
}

// history is the snapshot set the table tests share, like restic's
// testExpireSnapshots: two years with gaps, several snapshots on some days,
// two with the same time (24 and 25), the night Europe/Berlin set its clocks
// back (05 and 06 are both 02:30 there), and the ISO week that starts in
// 2025 and belongs to 2026 (09 is Monday 2025-12-29, in 2026-W01). IDs
// follow time, so a kept set reads in order. The newest is 2026-12-06 14:40,
// a Sunday in 2026-W49.
var history = []retention.Snapshot{
	{ID: "01", Time: at("2025-03-10 08:00")},
	{ID: "02", Time: at("2025-03-10 10:00")},
	{ID: "03", Time: at("2025-06-01 10:00")},
	{ID: "04", Time: at("2025-07-20 10:00")},
	{ID: "05", Time: at("2025-10-26 00:30")}, // 02:30 CEST in Berlin
	{ID: "06", Time: at("2025-10-26 01:30")}, // 02:30 CET in Berlin
	{ID: "07", Time: at("2025-10-26 02:30")}, // 03:30 CET in Berlin
	{ID: "08", Time: at("2025-12-28 12:00")}, // Sunday, 2025-W52
	{ID: "09", Time: at("2025-12-29 12:00")}, // Monday, 2026-W01
	{ID: "10", Time: at("2026-01-01 12:00")},
	{ID: "11", Time: at("2026-01-05 12:00")},
	{ID: "12", Time: at("2026-03-15 08:00")},
	{ID: "13", Time: at("2026-06-30 23:30")}, // July 1st in Auckland
	{ID: "14", Time: at("2026-09-01 09:00")},
	{ID: "15", Time: at("2026-11-20 10:00")},
	{ID: "16", Time: at("2026-11-29 10:00")},
	{ID: "17", Time: at("2026-12-01 10:00")},
	{ID: "18", Time: at("2026-12-03 10:00")},
	{ID: "19", Time: at("2026-12-04 22:00")},
	{ID: "20", Time: at("2026-12-05 09:00")},
	{ID: "21", Time: at("2026-12-05 13:00")},
	{ID: "22", Time: at("2026-12-06 08:00")},
	{ID: "23", Time: at("2026-12-06 11:15")},
	{ID: "24", Time: at("2026-12-06 11:45")},
	{ID: "25", Time: at("2026-12-06 11:45")},
	{ID: "26", Time: at("2026-12-06 12:00")},
	{ID: "27", Time: at("2026-12-06 13:30")},
	{ID: "28", Time: at("2026-12-06 14:00")},
	{ID: "29", Time: at("2026-12-06 14:20")},
	{ID: "30", Time: at("2026-12-06 14:40")},
}

// kept renders the kept snapshots as "ID: reason, reason", newest first,
// and fails the test if a forgotten snapshot has a reason.
func kept(t *testing.T, ds []retention.Decision) []string {
	t.Helper()
	var out []string
	for _, d := range ds {
		switch {
		case d.Keep:
			out = append(out, d.Snapshot.ID+": "+strings.Join(d.Reasons, ", "))
		case len(d.Reasons) > 0:
			t.Errorf("snapshot %s is forgotten with reasons %q", d.Snapshot.ID, d.Reasons)
		}
	}
	return out
}

func TestApply(t *testing.T) {
	all := make([]string, len(history))
	for i, s := range history {
		all[len(history)-1-i] = s.ID + ": policy empty"
	}
	// IDs 24 and 25 share a time; in ID order, 24 counts as the newer.
	all[5], all[6] = "24: policy empty", "25: policy empty"
	all[0] += ", newest"

	cases := []struct {
		name string
		p    retention.Policy
		loc  string // "" is UTC
		want []string
	}{
		{"empty policy keeps everything", retention.Policy{}, "", all},
		{"last", retention.Policy{Last: 3}, "", []string{
			"30: last 1, newest",
			"29: last 2",
			"28: last 3",
		}},
		{"hourly, a tie resolved by ID", retention.Policy{Hourly: 5}, "", []string{
			"30: hourly 2026-12-06 14:00, newest",
			"27: hourly 2026-12-06 13:00",
			"26: hourly 2026-12-06 12:00",
			"24: hourly 2026-12-06 11:00",
			"22: hourly 2026-12-06 08:00",
		}},
		{"daily", retention.Policy{Daily: 3}, "", []string{
			"30: daily 2026-12-06, newest",
			"21: daily 2026-12-05",
			"19: daily 2026-12-04",
		}},
		{"daily not filled keeps the oldest", retention.Policy{Daily: 30}, "", []string{
			"30: daily 2026-12-06, newest",
			"21: daily 2026-12-05",
			"19: daily 2026-12-04",
			"18: daily 2026-12-03",
			"17: daily 2026-12-01",
			"16: daily 2026-11-29",
			"15: daily 2026-11-20",
			"14: daily 2026-09-01",
			"13: daily 2026-06-30",
			"12: daily 2026-03-15",
			"11: daily 2026-01-05",
			"10: daily 2026-01-01",
			"09: daily 2025-12-29",
			"08: daily 2025-12-28",
			"07: daily 2025-10-26",
			"04: daily 2025-07-20",
			"03: daily 2025-06-01",
			"02: daily 2025-03-10",
			"01: oldest (daily not filled)",
		}},
		{"weekly", retention.Policy{Weekly: 4}, "", []string{
			"30: weekly 2026-W49, newest",
			"16: weekly 2026-W48",
			"15: weekly 2026-W47",
			"14: weekly 2026-W36",
		}},
		{"weekly across a year boundary: 2025-12-29 is in 2026-W01", retention.Policy{Weekly: 10}, "", []string{
			"30: weekly 2026-W49, newest",
			"16: weekly 2026-W48",
			"15: weekly 2026-W47",
			"14: weekly 2026-W36",
			"13: weekly 2026-W27",
			"12: weekly 2026-W11",
			"11: weekly 2026-W02",
			"10: weekly 2026-W01",
			"08: weekly 2025-W52",
			"07: weekly 2025-W43",
		}},
		{"monthly filled", retention.Policy{Monthly: 11}, "", []string{
			"30: monthly 2026-12, newest",
			"16: monthly 2026-11",
			"14: monthly 2026-09",
			"13: monthly 2026-06",
			"12: monthly 2026-03",
			"11: monthly 2026-01",
			"09: monthly 2025-12",
			"07: monthly 2025-10",
			"04: monthly 2025-07",
			"03: monthly 2025-06",
			"02: monthly 2025-03",
		}},
		{"monthly not filled keeps the oldest", retention.Policy{Monthly: 12}, "", []string{
			"30: monthly 2026-12, newest",
			"16: monthly 2026-11",
			"14: monthly 2026-09",
			"13: monthly 2026-06",
			"12: monthly 2026-03",
			"11: monthly 2026-01",
			"09: monthly 2025-12",
			"07: monthly 2025-10",
			"04: monthly 2025-07",
			"03: monthly 2025-06",
			"02: monthly 2025-03",
			"01: oldest (monthly not filled)",
		}},
		{"yearly filled", retention.Policy{Yearly: 2}, "", []string{
			"30: yearly 2026, newest",
			"09: yearly 2025",
		}},
		{"yearly not filled keeps the oldest", retention.Policy{Yearly: 3}, "", []string{
			"30: yearly 2026, newest",
			"09: yearly 2025",
			"01: oldest (yearly not filled)",
		}},
		{"within counts back from the newest", retention.Policy{Within: 48 * time.Hour}, "", []string{
			"30: within 48h0m0s, newest",
			"29: within 48h0m0s",
			"28: within 48h0m0s",
			"27: within 48h0m0s",
			"26: within 48h0m0s",
			"24: within 48h0m0s",
			"25: within 48h0m0s",
			"23: within 48h0m0s",
			"22: within 48h0m0s",
			"21: within 48h0m0s",
			"20: within 48h0m0s",
			"19: within 48h0m0s",
		}},
		{"within leaves out a snapshot exactly that old", retention.Policy{Within: 6*time.Hour + 40*time.Minute}, "", []string{
			"30: within 6h40m0s, newest",
			"29: within 6h40m0s",
			"28: within 6h40m0s",
			"27: within 6h40m0s",
			"26: within 6h40m0s",
			"24: within 6h40m0s",
			"25: within 6h40m0s",
			"23: within 6h40m0s",
		}},
		{"within_hourly", retention.Policy{WithinHourly: 3 * time.Hour}, "", []string{
			"30: within_hourly 2026-12-06 14:00, newest",
			"27: within_hourly 2026-12-06 13:00",
			"26: within_hourly 2026-12-06 12:00",
			"24: within_hourly 2026-12-06 11:00",
		}},
		{"within_daily", retention.Policy{WithinDaily: 7 * 24 * time.Hour}, "", []string{
			"30: within_daily 2026-12-06, newest",
			"21: within_daily 2026-12-05",
			"19: within_daily 2026-12-04",
			"18: within_daily 2026-12-03",
			"17: within_daily 2026-12-01",
		}},
		{"within_weekly", retention.Policy{WithinWeekly: 30 * 24 * time.Hour}, "", []string{
			"30: within_weekly 2026-W49, newest",
			"16: within_weekly 2026-W48",
			"15: within_weekly 2026-W47",
		}},
		{"within_monthly", retention.Policy{WithinMonthly: 365 * 24 * time.Hour}, "", []string{
			"30: within_monthly 2026-12, newest",
			"16: within_monthly 2026-11",
			"14: within_monthly 2026-09",
			"13: within_monthly 2026-06",
			"12: within_monthly 2026-03",
			"11: within_monthly 2026-01",
			"09: within_monthly 2025-12",
		}},
		{"within_yearly reaching past the oldest keeps it", retention.Policy{WithinYearly: 1000 * 24 * time.Hour}, "", []string{
			"30: within_yearly 2026, newest",
			"09: within_yearly 2025",
			"01: oldest (within_yearly not filled)",
		}},
		{"rules are ORed", retention.Policy{Last: 2, Daily: 3, Weekly: 2, Within: 3 * time.Hour}, "", []string{
			"30: within 3h0m0s, last 1, daily 2026-12-06, weekly 2026-W49, newest",
			"29: within 3h0m0s, last 2",
			"28: within 3h0m0s",
			"27: within 3h0m0s",
			"26: within 3h0m0s",
			"24: within 3h0m0s",
			"25: within 3h0m0s",
			"21: daily 2026-12-05",
			"19: daily 2026-12-04",
			"16: weekly 2026-W48",
		}},
		{"rules are ORed, with within_daily", retention.Policy{Last: 1, Yearly: 5, WithinDaily: 48 * time.Hour}, "", []string{
			"30: last 1, yearly 2026, within_daily 2026-12-06, newest",
			"21: within_daily 2026-12-05",
			"19: within_daily 2026-12-04",
			"09: yearly 2025",
			"01: oldest (yearly not filled)",
		}},
		{"daily in UTC", retention.Policy{Daily: 4}, "UTC", []string{
			"30: daily 2026-12-06, newest",
			"21: daily 2026-12-05",
			"19: daily 2026-12-04",
			"18: daily 2026-12-03",
		}},
		{"daily in Auckland, 13 hours ahead", retention.Policy{Daily: 4}, "Pacific/Auckland", []string{
			"30: daily 2026-12-07, newest",
			"22: daily 2026-12-06",
			"20: daily 2026-12-05",
			"18: daily 2026-12-03",
		}},
		{"monthly in Auckland, where 13 is in July", retention.Policy{Monthly: 4}, "Pacific/Auckland", []string{
			"30: monthly 2026-12, newest",
			"16: monthly 2026-11",
			"14: monthly 2026-09",
			"13: monthly 2026-07",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var loc *time.Location
			if tc.loc != "" {
				loc = location(t, tc.loc)
			}
			got := kept(t, retention.Apply(history, tc.p, loc))
			if !slices.Equal(got, tc.want) {
				t.Errorf("kept:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestApplyHourlyAcrossDSTEnd shows that periods are wall-clock periods of
// the plan's time zone: when Berlin's clocks go back, 05 and 06 are both
// taken at 02:30 there, so hourly keeps only one of them and reaches back
// to 04 instead.
func TestApplyHourlyAcrossDSTEnd(t *testing.T) {
	snaps := history[3:7]
	p := retention.Policy{Hourly: 3}
	for _, tc := range []struct {
		loc  string
		want []string
	}{
		{"UTC", []string{
			"07: hourly 2025-10-26 02:00, newest",
			"06: hourly 2025-10-26 01:00",
			"05: hourly 2025-10-26 00:00",
		}},
		{"Europe/Berlin", []string{
			"07: hourly 2025-10-26 03:00, newest",
			"06: hourly 2025-10-26 02:00",
			"04: hourly 2025-07-20 12:00",
		}},
	} {
		got := kept(t, retention.Apply(snaps, p, location(t, tc.loc)))
		if !slices.Equal(got, tc.want) {
			t.Errorf("in %s kept:\n  %s\nwant:\n  %s", tc.loc, strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
		}
	}
}

func TestApplyOrdersTiesByID(t *testing.T) {
	snaps := []retention.Snapshot{
		{ID: "b", Time: at("2026-12-06 10:00")},
		{ID: "c", Time: at("2026-12-06 09:00")},
		{ID: "a", Time: at("2026-12-06 10:00")},
	}
	reversed := slices.Clone(snaps)
	slices.Reverse(reversed)
	for _, in := range [][]retention.Snapshot{snaps, reversed} {
		ds := retention.Apply(in, retention.Policy{Daily: 1}, nil)
		var order []string
		for _, d := range ds {
			order = append(order, d.Snapshot.ID)
		}
		if !slices.Equal(order, []string{"a", "b", "c"}) {
			t.Errorf("order = %v, want newest first and a before b", order)
		}
		want := []string{"a: daily 2026-12-06, newest"}
		if got := kept(t, ds); !slices.Equal(got, want) {
			t.Errorf("kept %q, want %q", got, want)
		}
	}
}

func TestApplyInputOrderDoesNotMatter(t *testing.T) {
	p := retention.Policy{Last: 2, Hourly: 3, Weekly: 5, WithinDaily: 72 * time.Hour}
	want := retention.Apply(history, p, nil)
	shuffled := slices.Clone(history)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	before := slices.Clone(shuffled)
	got := retention.Apply(shuffled, p, nil)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("shuffled input:\n%v\nsorted input:\n%v", got, want)
	}
	if !slices.Equal(shuffled, before) {
		t.Error("Apply reordered its input")
	}
}

func TestApplyOneSnapshot(t *testing.T) {
	one := []retention.Snapshot{{ID: "x", Time: at("2026-12-06 14:40")}}
	for _, tc := range []struct {
		p    retention.Policy
		want string
	}{
		{retention.Policy{}, "x: policy empty, newest"},
		{retention.Policy{Daily: 7}, "x: daily 2026-12-06, newest"},
		{retention.Policy{Within: time.Hour}, "x: within 1h0m0s, newest"},
		{retention.Policy{WithinWeekly: time.Hour}, "x: within_weekly 2026-W49, newest"},
	} {
		got := kept(t, retention.Apply(one, tc.p, nil))
		if !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%+v kept %q, want %q", tc.p, got, tc.want)
		}
	}
	if ds := retention.Apply(nil, retention.Policy{Last: 1}, nil); len(ds) != 0 {
		t.Errorf("no snapshots gave decisions %v", ds)
	}
}

func TestPolicyEmpty(t *testing.T) {
	for _, tc := range []struct {
		p     retention.Policy
		empty bool
	}{
		{retention.Policy{}, true},
		{retention.Policy{Daily: -1, Within: -time.Hour}, true},
		{retention.Policy{Last: 1}, false},
		{retention.Policy{Yearly: 1}, false},
		{retention.Policy{Within: time.Second}, false},
		{retention.Policy{WithinYearly: time.Second}, false},
	} {
		if got := tc.p.Empty(); got != tc.empty {
			t.Errorf("%+v.Empty() = %v, want %v", tc.p, got, tc.empty)
		}
	}
}

// TestApplyProperties checks, for random policies and snapshot sets, what
// must hold whatever the policy: one decision per snapshot, newest first;
// the newest is kept; a snapshot is kept exactly when it has a reason; and
// forgetting is idempotent, so applying the policy to what it kept keeps
// all of it (a second forget run deletes nothing more).
func TestApplyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 12))
	zones := []*time.Location{time.UTC, location(t, "Europe/Berlin"), location(t, "Pacific/Auckland")}
	start := at("2024-01-01 00:00")
	count := func() int {
		if r.IntN(3) == 0 {
			return 0
		}
		return r.IntN(8) - 1 // sometimes negative: the rule is off
	}
	duration := func() time.Duration {
		if r.IntN(3) == 0 {
			return 0
		}
		return time.Duration(r.Int64N(int64(400 * 24 * time.Hour)))
	}
	for n := range 2000 {
		p := retention.Policy{
			Last: count(), Hourly: count(), Daily: count(), Weekly: count(), Monthly: count(), Yearly: count(),
			Within: duration(), WithinHourly: duration(), WithinDaily: duration(),
			WithinWeekly: duration(), WithinMonthly: duration(), WithinYearly: duration(),
		}
		loc := zones[r.IntN(len(zones))]
		snaps := make([]retention.Snapshot, 1+r.IntN(40))
		spread := time.Duration(r.Int64N(int64(3*365*24*time.Hour))) + time.Hour
		for i := range snaps {
			snaps[i] = retention.Snapshot{ID: fmt.Sprintf("s%02d", i), Time: start.Add(time.Duration(r.Int64N(int64(spread))))}
			if i > 0 && r.IntN(10) == 0 {
				snaps[i].Time = snaps[r.IntN(i)].Time // a tie
			}
		}
		ds := retention.Apply(snaps, p, loc)
		if len(ds) != len(snaps) {
			t.Fatalf("case %d: %d decisions for %d snapshots", n, len(ds), len(snaps))
		}
		var again []retention.Snapshot
		for i, d := range ds {
			if i > 0 && d.Snapshot.Time.After(ds[i-1].Snapshot.Time) {
				t.Fatalf("case %d: decision %d (%v) is newer than the one before it", n, i, d.Snapshot.Time)
			}
			if d.Keep != (len(d.Reasons) > 0) {
				t.Fatalf("case %d: %s keep=%v with reasons %q", n, d.Snapshot.ID, d.Keep, d.Reasons)
			}
			if d.Keep {
				again = append(again, d.Snapshot)
			}
		}
		if !ds[0].Keep || ds[0].Reasons[len(ds[0].Reasons)-1] != "newest" {
			t.Fatalf("case %d: policy %+v: newest snapshot %s: keep=%v reasons %q", n, p, ds[0].Snapshot.ID, ds[0].Keep, ds[0].Reasons)
		}
		for _, d := range retention.Apply(again, p, loc) {
			if !d.Keep {
				t.Fatalf("case %d: policy %+v in %v: a second run forgets %s (%v)", n, p, loc, d.Snapshot.ID, d.Snapshot.Time)
			}
		}
	}
}
