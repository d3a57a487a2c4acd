package backup

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/snapshot"
)

func TestChooseSnapshot(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	infos := []snapshot.Info{
		{ID: "aaaaaa11", Start: t0},
		{ID: "aaaaaa22", Start: t0.Add(24 * time.Hour)},
		{ID: "bbbbbb33", Start: t0.Add(48 * time.Hour)},
	}
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	cases := []struct {
		name, sel string
		at        *time.Time
		want      string // ID, or an error fragment after "!"
	}{
		{"latest", "latest", nil, "bbbbbb33"},
		{"empty means latest", "", nil, "bbbbbb33"},
		{"full ID", "aaaaaa22", nil, "aaaaaa22"},
		{"unique prefix", "bbbbbb", nil, "bbbbbb33"},
		{"ambiguous prefix", "aaaaaa", nil, "!2 snapshots of plan home start with it"},
		{"short prefix is no prefix", "bbb", nil, "!--snapshot bbb: no snapshot of plan home has this ID"},
		{"unknown ID", "k0123456789", nil, "!--snapshot k0123456789: no snapshot of plan home has this ID"},
		{"at the first", "", at(0), "aaaaaa11"},
		{"between", "", at(36 * time.Hour), "aaaaaa22"},
		{"after all", "", at(1000 * time.Hour), "bbbbbb33"},
		{"before the first", "", at(-time.Second), "!--at 2026-12-01T02:59:59Z: plan home has no snapshot taken at or before it; its first was taken 2026-12-01T03:00:00Z"},
	}
	for _, tc := range cases {
		got, err := choose(infos, "home", tc.sel, tc.at)
		if want, isErr := strings.CutPrefix(tc.want, "!"); isErr {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %v, %v; want error %q", tc.name, got.ID, err, want)
			}
			continue
		}
		if err != nil || got.ID != tc.want {
			t.Errorf("%s: got %q, %v; want %s", tc.name, got.ID, err, tc.want)
		}
	}
	if _, err := choose(nil, "home", "latest", nil); err == nil || !strings.Contains(err.Error(), "plan home has no snapshots yet") {
		t.Errorf("no snapshots: %v", err)
	}
}

func TestInsideSnapshot(t *testing.T) {
	cases := []struct{ path, source, want string }{
		{"docs/a.txt", "/home/alice", "docs/a.txt"},
		{"/docs/a.txt", "/home/alice", "docs/a.txt"},
		{"/home/alice/docs/a.txt", "/home/alice", "docs/a.txt"},
		{"/home/alice", "/home/alice", ""},
		{"/home/alicex/a", "/home/alice", "home/alicex/a"},
		{"home/alice/docs", "/home/alice", "home/alice/docs"},
		{"", "/home/alice", ""},
		{"/", "/", ""},
	}
	for _, tc := range cases {
		if got := insideSnapshot(tc.path, tc.source); got != tc.want {
			t.Errorf("insideSnapshot(%q, %q) = %q, want %q", tc.path, tc.source, got, tc.want)
		}
	}
}
