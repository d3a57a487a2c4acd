package control

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/steward-ops/steward/workflows/api"
)

func TestSelectionQuery(t *testing.T) {
	const base = "WorkflowType = 'PlanWorkflow' AND ExecutionStatus = 'Running'"
	for _, tc := range []struct {
		sel     Selection
		want    string
		wantErr string
	}{
		{Selection{All: true}, base, ""},
		{Selection{Query: `StewardKind="backup"`}, base + ` AND (StewardKind="backup")`, ""},
		// The selector is parenthesized, so its OR cannot widen the group
		// beyond running plans.
		{Selection{Query: `StewardKind="a" OR StewardKind="b"`}, base + ` AND (StewardKind="a" OR StewardKind="b")`, ""},
		{Selection{}, "", "--all or --selector"},
		{Selection{Query: "  "}, "", "--all or --selector"},
		{Selection{All: true, Query: `StewardKind="backup"`}, "", "exclusive"},
	} {
		got, err := tc.sel.query()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%+v: %q, %v; want an error containing %q", tc.sel, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.sel, got, err, tc.want)
		}
	}
}

func at(min int) *time.Time {
	t := time.Date(2026, 11, 24, 10, min, 0, 0, time.UTC)
	return &t
}

func status(leases ...api.Lease) api.Status {
	return api.Status{Pause: api.PauseStatus{Paused: len(leases) > 0, Leases: leases}}
}

func TestHoldingLease(t *testing.T) {
	short := api.Lease{ID: "short", Until: at(10), By: "alice", Since: *at(0)}
	long := api.Lease{ID: "long", Until: at(50), By: "bob", Since: *at(1)}
	forever := api.Lease{ID: "forever", By: "carol", Since: *at(2)}
	for _, tc := range []struct {
		st     api.Status
		prefer string
		want   string
	}{
		{status(), "", ""},
		{status(short, long), "", "long"},
		{status(long, short), "", "long"},
		{status(short, forever, long), "", "forever"},
		{status(short, long), "short", "short"},
		{status(short, long), "gone", "long"},
	} {
		got := HoldingLease(tc.st, tc.prefer)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("no leases: got %+v", got)
		case tc.want != "" && (got == nil || got.ID != tc.want):
			t.Errorf("leases %v, prefer %q: got %+v, want %s", tc.st.Pause.Leases, tc.prefer, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	lease := api.Lease{ID: "g-1", Until: at(30), Since: *at(0)}
	other := api.Lease{ID: "other", Since: *at(0)}
	rejected := func(st api.Status, n int) api.Status {
		st.Counters.RejectedSignals = n
		msg := fmt.Sprintf("pause signal at 2026-11-24T10:00:00Z rejected: reason %d", n)
		st.LastRejection = &msg
		return st
	}
	ended := func(st api.Status, l api.Lease) api.Status {
		st.PauseHistory = append(st.PauseHistory, api.PauseRecord{Lease: l, Ended: *at(1), EndedBy: "expired"})
		return st
	}
	pauseDone := func(before, st api.Status) (string, bool) {
		if hasLease(st, "g-1") || newHistoryRecord(before, st, "g-1") {
			return OutcomePaused, true
		}
		return "", false
	}
	unpauseDone := func(_, st api.Status) (string, bool) {
		return OutcomeUnpaused, !hasLease(st, "g-1")
	}
	notFound := serviceerror.NewNotFound("workflow not found")

	for _, tc := range []struct {
		name           string
		before         *api.Status
		now            StatusResult
		done           func(before, st api.Status) (string, bool)
		rejectionFirst bool
		want           string // "" = still pending
		wantErr        string
	}{
		{"pause shows the lease", ptr(status()), StatusResult{Status: status(lease)}, pauseDone, rejectedUnlessDone, OutcomePaused, ""},
		{"pause not yet seen", ptr(status()), StatusResult{Status: status(other)}, pauseDone, rejectedUnlessDone, "", ""},
		{"short pause already over", ptr(status()), StatusResult{Status: ended(status(), lease)}, pauseDone, rejectedUnlessDone, OutcomePaused, ""},
		{"same lease ended before, not again", ptr(ended(status(), lease)), StatusResult{Status: ended(status(), lease)}, pauseDone, rejectedUnlessDone, "", ""},
		{"pause rejected", ptr(rejected(status(), 2)), StatusResult{Status: rejected(status(), 3)}, pauseDone, rejectedUnlessDone, OutcomeRejected, "reason 3"},
		{"old rejection is not ours", ptr(rejected(status(), 2)), StatusResult{Status: rejected(status(), 2)}, pauseDone, rejectedUnlessDone, "", ""},
		{"lease there despite another rejection", ptr(status()), StatusResult{Status: rejected(status(lease), 1)}, pauseDone, rejectedUnlessDone, OutcomePaused, ""},
		{"unpause of an unknown lease is rejected", ptr(status()), StatusResult{Status: rejected(status(), 1)}, unpauseDone, rejectedFirst, OutcomeRejected, "reason 1"},
		{"unpause done", ptr(status(lease)), StatusResult{Status: status()}, unpauseDone, rejectedFirst, OutcomeUnpaused, ""},
		{"plan removed", ptr(status()), StatusResult{Err: &notRunningError{id: "x", err: notFound}}, pauseDone, rejectedUnlessDone, OutcomeGone, ""},
		{"query failed", ptr(status()), StatusResult{Err: errors.New("deadline exceeded")}, pauseDone, rejectedUnlessDone, "", "deadline exceeded"},
		{"no status before: no rejection can be told", nil, StatusResult{Status: rejected(status(), 1)}, pauseDone, rejectedUnlessDone, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := &target{id: "x", before: tc.before, out: PlanOutcome{Plan: "x"}}
			classify(tg, tc.now, tc.done, tc.rejectionFirst)
			if tg.done != (tc.want != "") || tg.out.Outcome != tc.want {
				t.Fatalf("done %v outcome %q, want %q", tg.done, tg.out.Outcome, tc.want)
			}
			if tc.wantErr != "" && (tg.out.Error == nil || *tg.out.Error != tc.wantErr && !strings.Contains(*tg.out.Error, tc.wantErr)) {
				t.Fatalf("error %v, want %q", tg.out.Error, tc.wantErr)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestGroupErrorNamesEveryFailedPlan(t *testing.T) {
	reason, late := `for "-1h": must be positive`, "no confirmation within 2m0s"
	err := &GroupError{Signal: "pause", Total: 50, Failed: []PlanOutcome{
		{Plan: "a", Outcome: OutcomeRejected, Error: &reason},
		{Plan: "b", Outcome: OutcomeRejected, Error: &reason},
		{Plan: "c", Outcome: OutcomeUnconfirmed, Error: &late},
	}}
	want := `2 of 50 plans rejected the pause signal; 1 of 50 plans did not confirm it
  a: rejected: for "-1h": must be positive
  b: rejected: for "-1h": must be positive
  c: not confirmed: no confirmation within 2m0s`
	if err.Error() != want {
		t.Fatalf("error:\n%s\nwant:\n%s", err, want)
	}
}

func TestNotRunningErrorKeepsNotFound(t *testing.T) {
	err := notFound("home", serviceerror.NewNotFound("workflow not found for ID: steward/plan/home"))
	if err.Error() != `no plan "home" is running` || !isNotFound(err) {
		t.Fatalf("notFound: %q (is NotFound: %v)", err, isNotFound(err))
	}
}
