package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestPreview(t *testing.T) {
	render := func(fs []Fire) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Nominal.Format("Mon 15:04")+" > "+f.Start.Format("Mon 15:04:05"))
		}
		return strings.Join(out, ", ")
	}
	prev := ts("2026-03-06T21:10:00Z") // a Friday
	cases := []struct {
		name string
		spec Spec
		a    Anchors
		n    int
		want string
	}{
		{"every hour", Spec{Every: time.Hour}, Anchors{}, 3,
			"Fri 22:00 > Fri 22:00:00, Fri 23:00 > Fri 23:00:00, Sat 00:00 > Sat 00:00:00"},
		{"last-success anchor", Spec{Every: time.Hour, Anchor: AnchorLastSuccess}, Anchors{LastSuccess: ts("2026-03-06T20:45:00Z")}, 2,
			"Fri 21:45 > Fri 21:45:00, Fri 22:45 > Fri 22:45:00"},
		{"windows hold runs back", Spec{Cron: "0 * * * *", Windows: []string{"Mon-Fri 22:00-23:30"}}, Anchors{}, 4,
			"Fri 22:00 > Fri 22:00:00, Fri 23:00 > Fri 23:00:00, Sat 00:00 > Mon 22:00:00, Sat 01:00 > Mon 22:00:00"},
		{"jitter", Spec{Every: time.Hour, Jitter: time.Minute}, Anchors{}, 2,
			"Fri 22:00 > Fri 22:00:08, Fri 23:00 > Fri 23:00:28"},
		{"none", Spec{Every: time.Hour}, Anchors{}, 0, ""},
		{"a cron that never fires", Spec{Cron: "0 0 30 2 *"}, Anchors{}, 3, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := render(mustNew(t, tc.spec).Preview("home", prev, tc.a, tc.n))
			if got != tc.want {
				t.Fatalf("Preview:\n got %s\nwant %s", got, tc.want)
			}
		})
	}

	// A fire time with no start in reach is left out: the Sunday window
	// after 2026-03-22 is removed by the clock change of 2026-03-29, so the
	// next one is 14 days away.
	s := mustNew(t, Spec{Cron: "45 2 * * 0", Timezone: "Europe/Berlin", Windows: []string{"Sun 02:00-02:30"}})
	var got []string
	for _, f := range s.Preview("home", ts("2026-03-20T00:00:00Z"), Anchors{}, 2) {
		got = append(got, f.Nominal.Format(time.RFC3339)+" > "+f.Start.Format(time.RFC3339))
	}
	want := []string{"2026-03-29T01:00:00Z > 2026-04-05T00:00:00Z", "2026-04-05T00:45:00Z > 2026-04-12T00:00:00Z"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("Preview:\n got %s\nwant %s", got, want)
	}
}
