package schedule

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	// Hourly fire times 20:00 .. 00:00; now is 00:30 unless a case says.
	hourly := []string{"20:00", "21:00", "22:00", "23:00", "00:00"}
	cases := []struct {
		name                   string
		c                      CatchUp
		due                    []string
		now                    string
		run, missed, coalesced string
	}{
		{"nothing due", CatchUp{Policy: PolicyAll}, nil, "00:30", "", "", ""},
		{"skip", CatchUp{Policy: PolicySkip}, hourly, "00:30", "", "20:00 21:00 22:00 23:00 00:00", ""},
		{"latest", CatchUp{Policy: PolicyLatest}, hourly, "00:30", "00:00", "", "20:00 21:00 22:00 23:00"},
		{"empty policy is latest", CatchUp{}, hourly, "00:30", "00:00", "", "20:00 21:00 22:00 23:00"},
		{"all", CatchUp{Policy: PolicyAll}, hourly, "00:30", "20:00 21:00 22:00 23:00 00:00", "", ""},
		{"all, max 2: the newest two", CatchUp{Policy: PolicyAll, Max: 2}, hourly, "00:30", "23:00 00:00", "20:00 21:00 22:00", ""},
		{"all, max 5 of 5", CatchUp{Policy: PolicyAll, Max: 5}, hourly, "00:30", "20:00 21:00 22:00 23:00 00:00", "", ""},
		{"all, max 1", CatchUp{Policy: PolicyAll, Max: 1}, hourly, "00:30", "00:00", "20:00 21:00 22:00 23:00", ""},
		// The window: older than now-Window is missed; exactly at the edge is not.
		{"latest within the window", CatchUp{Policy: PolicyLatest, Window: 150 * time.Minute}, hourly, "00:30",
			"00:00", "20:00 21:00", "22:00 23:00"},
		{"all within the window", CatchUp{Policy: PolicyAll, Window: 90 * time.Minute}, hourly, "00:30",
			"23:00 00:00", "20:00 21:00 22:00", ""},
		{"window and max together", CatchUp{Policy: PolicyAll, Window: 150 * time.Minute, Max: 1}, hourly, "00:30",
			"00:00", "20:00 21:00 22:00 23:00", ""},
		{"a window shorter than the lateness: all missed", CatchUp{Policy: PolicyLatest, Window: 10 * time.Minute}, hourly, "00:30",
			"", "20:00 21:00 22:00 23:00 00:00", ""},
		// Grace: the latest at most Grace old is on time and runs whatever the policy.
		{"skip, latest on time", CatchUp{Policy: PolicySkip, Grace: time.Minute}, hourly, "00:01", "00:00", "20:00 21:00 22:00 23:00", ""},
		{"skip, latest just past grace", CatchUp{Policy: PolicySkip, Grace: time.Minute}, hourly, "00:01:01", "", "20:00 21:00 22:00 23:00 00:00", ""},
		{"skip, only the on-time one", CatchUp{Policy: PolicySkip, Grace: time.Minute}, []string{"00:00"}, "00:00:30", "00:00", "", ""},
		{"skip, exactly on time", CatchUp{Policy: PolicySkip}, []string{"00:00"}, "00:00", "00:00", "", ""},
		{"latest, on time despite a tiny window", CatchUp{Policy: PolicyLatest, Window: time.Second, Grace: time.Minute}, hourly, "00:00:30",
			"00:00", "20:00 21:00 22:00 23:00", ""},
		{"all, on time counts toward max", CatchUp{Policy: PolicyAll, Max: 2, Grace: time.Minute}, hourly, "00:00:30", "23:00 00:00", "20:00 21:00 22:00", ""},
		{"unsorted input", CatchUp{Policy: PolicyLatest}, []string{"22:00", "00:00", "20:00"}, "00:30", "00:00", "", "20:00 22:00"},
	}
	day := func(s string) time.Time {
		if len(s) == 5 {
			s += ":00"
		}
		d := "2026-01-01"
		if s >= "12" {
			d = "2025-12-31"
		}
		return ts(d + "T" + s + "Z")
	}
	list := func(ts []time.Time) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Format("15:04"))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var due []time.Time
			for _, d := range tc.due {
				due = append(due, day(d))
			}
			in := slices.Clone(due)
			run, missed, coalesced := tc.c.Decide(due, day(tc.now))
			if list(run) != tc.run || list(missed) != tc.missed || list(coalesced) != tc.coalesced {
				t.Fatalf("Decide = run [%s] missed [%s] coalesced [%s]\n want run [%s] missed [%s] coalesced [%s]",
					list(run), list(missed), list(coalesced), tc.run, tc.missed, tc.coalesced)
			}
			if !slices.Equal(due, in) {
				t.Error("Decide changed its input")
			}
			// Never a silent drop: each input is in exactly one list.
			all := slices.Concat(run, missed, coalesced)
			slices.SortFunc(all, time.Time.Compare)
			slices.SortFunc(in, time.Time.Compare)
			if !slices.Equal(all, in) {
				t.Fatalf("outputs %s are not the inputs %s", list(all), list(in))
			}
		})
	}
}
