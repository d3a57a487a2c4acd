package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/workflows/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./starter -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// listFixture is plan ls's view of four plans: one healthy, one whose
// every run fails, one overdue, and one paused.
func listFixture() ([]control.Summary, time.Time) {
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	str := func(s string) *string { return &s }
	until := at(2 * time.Hour)
	return []control.Summary{
		{Plan: "broken", Kind: "backup", State: api.StateIdle, NextRun: at(time.Minute),
			LastResult: &control.LastResult{Outcome: api.OutcomeFailed, Finished: now.Add(-2 * time.Minute)}},
		{Plan: "home", Kind: "backup", State: api.StateIdle, NextRun: at(40 * time.Minute), LastSuccess: at(-20 * time.Minute),
			LastResult: &control.LastResult{Outcome: api.OutcomeSucceeded, Finished: now.Add(-20 * time.Minute)}},
		{Plan: "models", Kind: "preheat", State: api.StatePaused, NextRun: at(3 * time.Hour), LastSuccess: at(-26 * time.Hour),
			PausedUntil: until, PausedBy: str("alice"), PauseReason: str("maintenance\x1b[2J"),
			Leases: []api.Lease{{ID: "l1", Until: until, Reason: "maintenance\x1b[2J", By: "alice", Mode: api.ModeNewRuns, Since: now.Add(-time.Hour)},
				{ID: "l2", Until: at(time.Hour), By: "bob", Mode: api.ModeNewRuns, Since: now.Add(-time.Hour)}},
			LastResult: &control.LastResult{Outcome: api.OutcomeCancelled, Finished: now.Add(-time.Hour)}},
		{Plan: "offsite", Kind: "backup", State: api.StateRetrying, NextRun: at(8 * time.Hour), LastSuccess: at(-9 * 24 * time.Hour),
			Overdue:    true,
			LastResult: &control.LastResult{Outcome: api.OutcomeFailed, Finished: now.Add(-3 * time.Hour)}},
		{Plan: "fresh", Kind: "backup", State: api.StateIdle, NextRun: at(time.Hour)},
	}, now
}

func TestPlanListGolden(t *testing.T) {
	plans, now := listFixture()
	var text bytes.Buffer
	renderList(&text, plans, now)
	golden(t, "plan-ls.txt", text.Bytes())

	var js bytes.Buffer
	if err := encodeJSON(&js, plans); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-ls.json", js.Bytes())
}
