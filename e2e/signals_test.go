package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/steward-ops/steward/workflows/api"
)

// TestBadPauseInputChangesNothing sends bad pause and unpause input through
// the Temporal API and the steward CLI: each is refused with a clear reason,
// counted, and the plan keeps running on schedule.
func TestBadPauseInputChangesNothing(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD=secret")
	s.start()
	src, repo := newBackupDirs(t, s)
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("bad", "10s", src, repo, "STEWARD_E2E_PASSWORD")))
	c := s.client()

	// Garbage JSON, straight through the Temporal API.
	garbage := converter.NewRawValue(&commonpb.Payload{
		Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingJSON)},
		Data:     []byte(`{"for": "1h", oops`),
	})
	if err := c.SignalWorkflow(context.Background(), "steward/plan/bad", "", api.SignalPause, garbage); err != nil {
		t.Fatal(err)
	}
	var st api.Status
	waitFor(t, 30*time.Second, "the garbage signal to be counted", func() bool {
		st = s.status(c, "bad")
		return st.Counters.RejectedSignals == 1
	})
	if st.Pause.Paused || st.LastRejection == nil || !strings.Contains(*st.LastRejection, "pause signal") {
		t.Fatalf("after a garbage pause: paused %v, rejection %v", st.Pause.Paused, st.LastRejection)
	}

	// Bad input through the steward CLI: a clear error, nothing changed.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pause", "bad", "--for", "-5m"}, `for "-5m": must be positive`},
		{[]string{"pause", "bad", "--for", "soon"}, `for "soon": not a duration`},
		{[]string{"pause", "bad", "--until", "2020-01-01T00:00:00Z"}, "is not in the future"},
		{[]string{"pause", "bad", "--for", "1h", "--until", "2099-01-01T00:00:00Z"}, "exclusive"},
		{[]string{"pause", "bad", "--mode", "everything"}, `mode "everything": want new-runs or all`},
		{[]string{"pause", "bad", "--reason", strings.Repeat("r", 10<<10)}, "reason: 10240 bytes, longer than 1024"},
		{[]string{"unpause", "bad", "--id", "nope"}, `id "nope": no such active lease`},
		{[]string{"pause", "nosuchplan", "--for", "1h"}, `no plan "nosuchplan" is running`},
	} {
		out, err := s.steward(tc.args...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("steward %s: err %v, output:\n%s\nwant an error containing %q", strings.Join(tc.args[:2], " "), err, clipOut(out), tc.want)
		}
	}
	st = s.status(c, "bad")
	if st.Pause.Paused || len(st.PauseHistory) != 0 {
		t.Fatalf("bad input changed the pause state: %+v history %+v", st.Pause, st.PauseHistory)
	}

	// The plan is not wedged: runs go on.
	runs := st.Counters.Succeeded
	waitFor(t, 60*time.Second, "another successful run", func() bool {
		return s.status(c, "bad").Counters.Succeeded > runs
	})
	recordHistory(t, c, "steward/plan/bad", "plan-rejected-signals")
}

func clipOut(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}
