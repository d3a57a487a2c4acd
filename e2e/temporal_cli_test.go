package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/workflows/api"
)

// TestTemporalCLIOperatesPlans proves a plan can be paused, unpaused, queried
// and listed with the real temporal CLI, no steward CLI needed.
func TestTemporalCLIOperatesPlans(t *testing.T) {
	if temporalBin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("the temporal CLI is not installed: go install github.com/temporalio/cli/cmd/temporal@v1.5.1")
		}
		t.Skip("the temporal CLI is not installed: go install github.com/temporalio/cli/cmd/temporal@v1.5.1")
	}
	s := newStack(t, "STEWARD_E2E_PASSWORD=secret")
	s.start()
	src, repo := newBackupDirs(t, s)
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("viacli", "1h", src, repo, "STEWARD_E2E_PASSWORD")))
	c := s.client()
	const wf = "steward/plan/viacli"

	temporal := func(args ...string) string {
		t.Helper()
		out, err := s.temporal(args...)
		if err != nil {
			t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	before := time.Now().UTC()
	temporal("workflow", "signal", "--workflow-id", wf, "--name", "pause", "--input", `{"for":"30m","reason":"x"}`)
	var st api.Status
	waitFor(t, 30*time.Second, "the pause to show in status", func() bool {
		st = s.status(c, "viacli")
		return st.Pause.Paused
	})
	if l := st.Pause.Leases; len(l) != 1 || l[0].Reason != "x" || l[0].Until == nil ||
		l[0].Until.Before(before.Add(29*time.Minute)) || l[0].Until.After(time.Now().Add(31*time.Minute)) {
		t.Fatalf("lease after temporal workflow signal: %+v", l)
	}

	// The status query, through the temporal CLI, as JSON.
	out := temporal("workflow", "query", "--workflow-id", wf, "--name", "status", "--output", "json")
	var q struct {
		QueryResult []api.Status `json:"queryResult"`
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil || len(q.QueryResult) != 1 {
		t.Fatalf("temporal workflow query output (%v):\n%s", err, out)
	}
	if got := q.QueryResult[0]; got.Plan != "viacli" || got.State != api.StatePaused || !got.Pause.Paused {
		t.Fatalf("queried status: %+v", got)
	}

	// The Web UI's current-details line comes from the workflow metadata
	// query; it reads as a sentence.
	out = temporal("workflow", "query", "--workflow-id", wf, "--name", "__temporal_workflow_metadata", "--output", "json")
	if !strings.Contains(out, "paused until ") || !strings.Contains(out, ": x") {
		t.Fatalf("current details (workflow metadata) do not say who paused until when:\n%s", out)
	}

	// Listed by steward's search attributes (visibility is eventually
	// consistent, so poll).
	waitFor(t, 30*time.Second, "temporal workflow list to find the paused plan", func() bool {
		out, err := s.temporal("workflow", "list", "--query", `StewardPlan="viacli" AND StewardState="paused"`)
		return err == nil && strings.Contains(out, wf)
	})
	if out := temporal("workflow", "list", "--query", `StewardPlan="nosuchplan"`); strings.Contains(out, wf) {
		t.Fatalf("a query for another plan listed this one:\n%s", out)
	}

	temporal("workflow", "signal", "--workflow-id", wf, "--name", "unpause")
	waitFor(t, 30*time.Second, "the unpause to show in status", func() bool {
		st = s.status(c, "viacli")
		return !st.Pause.Paused && st.State == api.StateIdle
	})
	if h := st.PauseHistory; len(h) != 1 || h[0].EndedBy != "unpaused" {
		t.Fatalf("pause history after temporal unpause: %+v", h)
	}
	waitFor(t, 30*time.Second, "temporal workflow list to show the plan idle", func() bool {
		out, err := s.temporal("workflow", "list", "--query", `StewardPlan="viacli" AND StewardState="idle"`)
		return err == nil && strings.Contains(out, wf)
	})
	if out := temporal("workflow", "list", "--query", `StewardPlan="viacli" AND StewardOverdue=false`); !strings.Contains(out, wf) {
		t.Fatalf("the plan is not listed as not overdue:\n%s", out)
	}
	recordHistory(t, c, wf, "plan-temporal-cli-pause-unpause")
}
