package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestPlanAttrs(t *testing.T) {
	for id, want := range map[string]string{
		"steward/plan/home":                                    "[plan home]",
		"steward/plan/home/run/2026-12-07T03:00:00Z":           "[plan home run steward/plan/home/run/2026-12-07T03:00:00Z]",
		"steward/plan/home/run/2026-12-07T03:00:00.5Z/trigger": "[plan home run steward/plan/home/run/2026-12-07T03:00:00.5Z/trigger]",
		"steward/restore/home/20261207T030000.000000000Z":      "[plan home]",
		"steward/notify/home/restore-finished/0193-aaaa":       "[plan home]",
		"steward/hosts":          "[]",
		"someone-elses-workflow": "[]",
	} {
		if got := fmt.Sprint(planAttrs(id)); got != want {
			t.Errorf("planAttrs(%q) = %s, want %s", id, got, want)
		}
	}
}

// TestPlanHandler: lines tagged with a workflow ID, by With or in the
// call, get its plan and run; others are left alone.
func TestPlanHandler(t *testing.T) {
	var b bytes.Buffer
	l := slog.New(planHandler{slog.NewJSONHandler(&b, nil)})
	run := "steward/plan/home/run/2026-12-07T03:00:00Z"
	l.With("component", "sdk", "WorkflowID", run).Info("Snapshot saved")
	l.Error("Activity error.", "WorkflowID", "steward/plan/home")
	l.Info("Started Worker")
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, v)
	}
	if lines[0]["plan"] != "home" || lines[0]["run"] != run || lines[1]["plan"] != "home" || lines[1]["run"] != nil ||
		lines[2]["plan"] != nil {
		t.Errorf("lines = %v", lines)
	}
}
