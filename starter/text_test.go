package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/workflows/api"
)

func TestSafe(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"two\nlines", `two\nlines`},
		{"a\tb", `a\tb`},
		{"over\rwrite", `over\rwrite`},
		{"bell\a nul\x00", `bell\x07 nul\x00`},
		{"del\x7f", `del\x7f`},
		{"csi\u009b2J", `csi\u009b2J`},
		{"c1 \u0080 \u009f", `c1 \u0080 \u009f`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"cut \xe2\x82", `cut \xe2\x82`},
		{"Grüße, 東京 🎉 ¡\u00a0!", "Grüße, 東京 🎉 ¡\u00a0!"},
		{"\ufffd stays", "\ufffd stays"},
		{`back\slash`, `back\slash`},
		{"", ""},
	}
	for _, c := range cases {
		got := safe(c.in)
		if got != c.want {
			t.Errorf("safe(%q) = %q, want %q", c.in, got, c.want)
		}
		if again := safe(got); again != got {
			t.Errorf("safe(safe(%q)) = %q, want it unchanged", c.in, again)
		}
	}
}

func TestSafeClip(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven runes", 10, "eleven ru…"},
		{"東京都庁舎の前で", 5, "東京都庁…"},
		{"🎉🎉🎉🎉", 3, "🎉🎉…"},
		{"ab\x1b[2J", 7, `ab\x1b…`},    // the escape fits whole
		{"ab\x1b[2J", 6, `ab…`},        // \x1b would be cut: dropped whole
		{"a\nb", 4, `a\nb`},            // escaped, it is 4 runes: fits
		{"a\nbc", 4, `a\n…`},           // n counts the escape's runes
		{"\u009b\u009b", 7, `\u009b…`}, // six runes per C1 escape
		{"anything", 1, "…"},
	}
	for _, c := range cases {
		got := safeClip(c.in, c.n)
		if got != c.want {
			t.Errorf("safeClip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
		if n := len([]rune(got)); n > c.n {
			t.Errorf("safeClip(%q, %d) = %q: %d runes", c.in, c.n, got, n)
		}
	}
}

func TestRelative(t *testing.T) {
	const day = 24 * time.Hour
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{-400 * time.Millisecond, "just now"},
		{999 * time.Millisecond, "just now"},
		{time.Second, "in 1 s"},
		{-1500 * time.Millisecond, "1 s ago"},
		{45 * time.Second, "in 45 s"},
		{-45 * time.Second, "45 s ago"},
		{59*time.Second + 900*time.Millisecond, "in 59 s"},
		{time.Minute, "in 1 min"},
		{3*time.Minute + 59*time.Second, "in 3 min"},
		{-2 * time.Minute, "2 min ago"},
		{59 * time.Minute, "in 59 min"},
		{time.Hour, "in 1 h"},
		{2*time.Hour + 5*time.Minute + 30*time.Second, "in 2 h 5 min"},
		{-(47*time.Hour + 59*time.Minute), "47 h 59 min ago"},
		{48 * time.Hour, "in 2 days"},
		{3*day + 4*time.Hour + 30*time.Minute, "in 3 days 4 h"},
		{-(9*day + 23*time.Hour), "9 days 23 h ago"},
		{10*day + 5*time.Hour, "in 10 days"},
		{12 * day, "in 12 days"},
		{2602 * time.Hour, "in 108 days"},
		{729 * day, "in 729 days"},
		{730 * day, "in 2 years"},
		{-10 * 365 * day, "10 years ago"},
		{3653 * day, "in 10 years"}, // ten calendar years, with leap days
		{time.Duration(-1 << 63), "292 years ago"},
	}
	for _, c := range cases {
		if got := relative(now.Add(c.d), now); got != c.want {
			t.Errorf("relative(now + %v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestWhen(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 55, 0, 0, time.UTC)
	soon := time.Date(2026, 11, 24, 11, 0, 0, 0, time.FixedZone("CET", 3600))
	moment := now.Add(-400 * time.Millisecond)
	cases := []struct {
		t    *time.Time
		want string
	}{
		{&soon, "2026-11-24T10:00:00Z (in 5 min)"},
		{&moment, "2026-11-24T09:54:59Z (just now)"},
		{nil, "-"},
		{&time.Time{}, "-"},
	}
	for _, c := range cases {
		if got := when(c.t, now); got != c.want {
			t.Errorf("when(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}

// TestRenderStatusIsSafe feeds status text that tries to clear the screen
// and forge lines; every line printed must be free of control characters.
func TestRenderStatusIsSafe(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	until := now.Add(2 * time.Hour)
	evil := "\x1b[2Jgone\nState:\tidle"
	errText := "disk full\r\x1b[1A"
	rejection := "pause: bad \u009b2J mode"
	s := api.Status{
		Plan: "home", Kind: "backup", State: api.StatePaused,
		Details:       "paused\x1b]0;title\x07",
		LastRejection: &rejection,
		LastRun:       &api.RunRecord{ID: "run\n1", Nominal: now, Started: now, Outcome: "failed", Error: &errText},
		Pause: api.PauseStatus{Paused: true, Leases: []api.Lease{
			{ID: "l\x1b1", Until: &until, Reason: evil, By: "mallory\n", Mode: api.ModeNewRuns, Since: now},
			{ID: "l2", UntilNextRun: true, Reason: "swap disks", By: "bob", Mode: api.ModeAll, Since: now},
		}},
		PauseHistory: []api.PauseRecord{
			{Lease: api.Lease{ID: "h1", Reason: evil, By: "mallory\t"}, Ended: now, EndedBy: "unpaused", Actor: "eve\x1b[0m"},
		},
	}
	var b bytes.Buffer
	renderStatus(&b, s, now)
	out := b.String()
	for _, line := range strings.Split(out, "\n") {
		for _, r := range line {
			if r < 0x20 || r >= 0x7f && r <= 0x9f {
				t.Errorf("raw control %q in line %q", r, line)
			}
		}
		if strings.HasPrefix(line, "State:") && strings.Contains(line, "idle") || strings.HasPrefix(line, "gone") {
			t.Errorf("forged line %q", line)
		}
	}
	for _, want := range []string{
		`State:          paused\x1b]0;title\x07`,
		`Last rejected:  pause: bad \u009b2J mode`,
		`: disk full\r\x1b[1A`,
		`mallory\n`,
		`\x1b[2Jgone\nState:\tidle`,
		"until the next run",
		`h1 unpaused by eve\x1b[0m at 2026-11-24T10:00:00Z: \x1b[2Jgone\nState:\tidle (paused by mallory\t)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}

func TestRenderPauseHistory(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	rec := func(ended, actor, by, reason string) api.PauseRecord {
		return api.PauseRecord{Lease: api.Lease{ID: "l1", By: by, Reason: reason}, Ended: now, EndedBy: ended, Actor: actor}
	}
	cases := []struct {
		rec  api.PauseRecord
		want string
	}{
		{rec("unpaused", "carol", "alice", "disk swap"), "  l1 unpaused by carol at 2026-11-24T10:00:00Z: disk swap (paused by alice)\n"},
		{rec("unpaused", "", "", ""), "  l1 unpaused at 2026-11-24T10:00:00Z\n"},
		{rec("expired", "", "alice", "upgrade"), "  l1 expired at 2026-11-24T10:00:00Z: upgrade (paused by alice)\n"},
		{rec("replaced", "bob", "alice", ""), "  l1 replaced at 2026-11-24T10:00:00Z by bob (paused by alice)\n"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		renderStatus(&b, api.Status{Plan: "home", PauseHistory: []api.PauseRecord{c.rec}}, now)
		if !strings.HasSuffix(b.String(), "\nPause history:\n"+c.want) {
			t.Errorf("%s by %q: got\n%s\nwant it to end with\n%s", c.rec.EndedBy, c.rec.Actor, b.String(), c.want)
		}
	}
}

func TestRenderLedgerAndRunsAreSafe(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", 100) + "\x1b[2J"
	var b bytes.Buffer
	renderLedger(&b, []api.LedgerEntry{{Nominal: now, Outcome: "failed", RunID: "r\n1", Detail: "bad\x1b[2J\tdetail"}}, now)
	renderRuns(&b, []api.RunRecord{{ID: "run\x1b1", Nominal: now, Started: now, Outcome: "failed", Error: &long}}, now)
	out := b.String()
	if strings.ContainsAny(out, "\x1b\r") || strings.Count(out, "\n") != 4 {
		t.Fatalf("raw control characters in\n%s", out)
	}
	for _, want := range []string{`r\n1`, `bad\x1b[2J\tdetail`, `run\x1b1`, strings.Repeat("x", 79) + "…"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunLineAddedAndDedup: a run shows what it added, with the dedup
// ratio only when the data outweighs the repository's metadata.
func TestRunLineAddedAndDedup(t *testing.T) {
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	r := api.RunRecord{Outcome: api.OutcomeSucceeded, Nominal: now, Started: now, SnapshotID: "k1", Files: 3, Bytes: 4 << 20, Uploaded: 1 << 20}
	if got := runLine(r, now); !strings.Contains(got, "1.0 MiB added (dedup 4.0x)") {
		t.Errorf("runLine = %q", got)
	}
	r.Bytes, r.Uploaded = 6, 9000
	if got := runLine(r, now); !strings.Contains(got, "8.8 KiB added") || strings.Contains(got, "dedup") {
		t.Errorf("runLine of a tiny snapshot = %q", got)
	}
}

// TestGroupTimeoutTakesDays: --timeout reads durations like every other
// duration flag, days included, and refuses what is not one before
// connecting anywhere.
func TestGroupTimeoutTakesDays(t *testing.T) {
	for _, bad := range []string{"soon", "0s", "-1d"} {
		if _, err := steward(t, "pause", "--all", "--timeout", bad); err == nil || !strings.Contains(err.Error(), `--timeout "`+bad+`": want a positive duration`) {
			t.Errorf("pause --all --timeout %s: %v", bad, err)
		}
	}
	// A day is accepted: the command gets as far as connecting.
	if _, err := steward(t, "--address", "127.0.0.1:1", "pause", "--all", "--timeout", "1d"); err == nil || strings.Contains(err.Error(), "--timeout") {
		t.Errorf("pause --all --timeout 1d: %v, want it past the flag check", err)
	}
}
