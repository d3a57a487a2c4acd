package main

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/control"
)

func TestParseAt(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]time.Time{
		"2026-12-01T03:00:00Z":      time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC),
		"2026-12-01T04:00:00+01:00": time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC),
		"2026-12-01 04:00":          time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC),
		"2026-12-01T04:00:30":       time.Date(2026, 12, 1, 3, 0, 30, 0, time.UTC),
	} {
		got, err := parseAt(in, berlin)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseAt(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "2026-12-01", "12/01/2026 04:00", ""} {
		if _, err := parseAt(in, berlin); err == nil || !strings.Contains(err.Error(), "--at") {
			t.Errorf("parseAt(%q): %v, want an error naming --at", in, err)
		}
	}
}

func TestRestoreOptionsCheck(t *testing.T) {
	at := time.Now()
	for _, tc := range []struct {
		o    control.Restore
		want string
	}{
		{control.Restore{Target: "/r"}, ""},
		{control.Restore{Target: "/r", Path: "docs/a.txt", Snapshot: "latest"}, ""},
		{control.Restore{}, "--target: give the directory"},
		{control.Restore{Target: "r"}, "--target r: want an absolute path"},
		{control.Restore{Target: "/r", Snapshot: "k1", At: &at}, "--snapshot and --at: give one of them"},
		{control.Restore{Target: "/r", Path: "docs/../../etc"}, "must stay inside the snapshot"},
		{control.Restore{Target: "/r", Path: "a\x00b"}, "NUL"},
	} {
		err := tc.o.Check()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}

func TestBackupProgressLines(t *testing.T) {
	p := activities.BackupProgress{Files: 30, Bytes: 3 << 20, Uploaded: 1 << 20}
	if got := progressLine(p); got != "30 files, 3.0 MiB read, 1.0 MiB added so far" {
		t.Errorf("before the estimate: %q", got)
	}
	if s := backupSample(p); s.total != 0 || s.info != "30 files, 1.0 MiB added" {
		t.Errorf("bar before the estimate: %+v", s)
	}
	p.TotalFiles, p.TotalBytes = 120, 12<<20
	if got := progressLine(p); got != "30 of ~120 files, 3.0 MiB of ~12.0 MiB (25%) read, 1.0 MiB added so far" {
		t.Errorf("with the estimate: %q", got)
	}
	if s := backupSample(p); s.total != 12<<20 || s.done != 3<<20 || s.info != "30/120 files, 1.0 MiB added" {
		t.Errorf("bar with the estimate: %+v", s)
	}
	p.Bytes = 20 << 20 // the source grew since it was estimated
	if s := backupSample(p); s.total != s.done {
		t.Errorf("bar past the estimate: %+v", s)
	}
}
