package workflows

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/repository"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

var t0 = time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)

// fakeBackups records every backup activity call.
type fakeBackups struct {
	mu     sync.Mutex
	env    *testsuite.TestWorkflowEnvironment
	calls  []backupCall
	fail   error
	failIf func(runID string) error
}

type backupCall struct {
	at    time.Time
	runID string
}

func (f *fakeBackups) Backup(ctx context.Context, req activities.BackupRequest) (activities.BackupResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, backupCall{at: f.env.Now().UTC(), runID: req.RunID})
	if f.fail != nil {
		return activities.BackupResult{}, f.fail
	}
	if f.failIf != nil {
		if err := f.failIf(req.RunID); err != nil {
			return activities.BackupResult{}, err
		}
	}
	return activities.BackupResult{SnapshotID: "k" + req.RunID[len(req.RunID)-9:], Files: 3, Bytes: 42}, nil
}

func (f *fakeBackups) runIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, c := range f.calls {
		ids = append(ids, c.runID)
	}
	return ids
}

// noRunRetries turns run-level retries off.
func noRunRetries(p *plan.Plan) {
	zero := 0
	p.Retry.Run.MaxRetries = &zero
}

func backupPlan(every time.Duration) plan.Plan {
	p := plan.Plan{
		ID:       "home",
		Kind:     plan.KindBackup,
		Schedule: plan.Schedule{Every: plan.Duration(every)},
		Backup: &plan.Backup{
			Source: "/home/alice",
			Ref:    repository.Ref{Repository: "/mnt/backup/repo", PasswordEnv: "STEWARD_REPO_PASSWORD"},
		},
	}
	p.SetDefaults()
	return p
}

type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	fb  *fakeBackups
	fn  *fakeNotify
}

func newHarness(t *testing.T) *harness {
	return newHarnessWithRunTime(t, 0)
}

// newHarnessWithRunTime is a harness whose runs each take d of workflow
// time (a fake run workflow sleeps, then calls the fake backup).
func newHarnessWithRunTime(t *testing.T, d time.Duration, metrics ...client.MetricsHandler) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	for _, m := range metrics {
		s.SetMetricsHandler(m)
	}
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	env.RegisterWorkflowWithOptions(PlanWorkflow, workflow.RegisterOptions{Name: api.PlanWorkflowName})
	if d == 0 {
		env.RegisterWorkflowWithOptions(BackupRunWorkflow, workflow.RegisterOptions{Name: api.BackupRunWorkflowName})
	} else {
		slow := func(ctx workflow.Context, req BackupRunRequest) (api.RunReport, error) {
			if err := workflow.Sleep(ctx, d); err != nil {
				return api.RunReport{}, err
			}
			return BackupRunWorkflow(ctx, req)
		}
		env.RegisterWorkflowWithOptions(slow, workflow.RegisterOptions{Name: api.BackupRunWorkflowName})
	}
	fb := &fakeBackups{env: env}
	env.RegisterActivityWithOptions(fb.Backup, activity.RegisterOptions{Name: activities.Backup})
	// Every backup plan maintains its repository; tests of maintenance
	// register their own fake.
	env.RegisterWorkflowWithOptions(MaintenanceWorkflow, workflow.RegisterOptions{Name: api.MaintenanceWorkflowName})
	env.RegisterActivityWithOptions(func(_ context.Context, req activities.MaintainRequest) (activities.MaintainResult, error) {
		return activities.MaintainResult{Full: req.Full}, nil
	}, activity.RegisterOptions{Name: activities.Maintain})
	fn := &fakeNotify{}
	env.RegisterActivityWithOptions(fn.Notify, activity.RegisterOptions{Name: activities.Notify})
	return &harness{t: t, env: env, fb: fb, fn: fn}
}

// fakeNotify records the notifications a plan sends; fail, if set, fails
// each delivery with it.
type fakeNotify struct {
	mu   sync.Mutex
	reqs []activities.NotifyRequest
	fail error
}

func (f *fakeNotify) Notify(_ context.Context, req activities.NotifyRequest) (activities.NotifyResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.fail != nil {
		return activities.NotifyResult{}, f.fail
	}
	return activities.NotifyResult{Sent: len(req.Targets)}, nil
}

// events lists the names of the events sent, in order.
func (f *fakeNotify) events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.reqs {
		out = append(out, r.Event.Name)
	}
	return out
}

// at runs fn when the workflow clock reaches t0+d.
func (h *harness) at(d time.Duration, fn func()) {
	h.env.RegisterDelayedCallback(fn, d)
}

func (h *harness) signal(name string, payload any) {
	h.env.SignalWorkflow(name, payload)
}

func (h *harness) status() api.Status {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(api.QueryStatus)
	if err != nil {
		h.t.Fatalf("query status: %v", err)
	}
	var s api.Status
	if err := v.Get(&s); err != nil {
		h.t.Fatalf("decode status: %v", err)
	}
	return s
}

// run executes the plan until t0+stop, then cancels it.
func (h *harness) run(p plan.Plan, stop time.Duration) {
	h.t.Helper()
	h.at(stop, func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(api.PlanWorkflowName, PlanInput{Spec: p})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil && !isCanceled(errors.Unwrap(err)) && !strings.Contains(err.Error(), "canceled") {
		h.t.Fatalf("workflow error: %v", err)
	}
}

func wantRuns(t *testing.T, got []string, nominals ...string) {
	t.Helper()
	var want []string
	for _, n := range nominals {
		want = append(want, "steward/plan/home/run/"+n)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("runs:\n got %q\nwant %q", got, want)
	}
}

func TestEveryFiresAtExpectedTimes(t *testing.T) {
	h := newHarness(t)
	var mid api.Status
	h.at(90*time.Minute, func() { mid = h.status() })
	h.run(backupPlan(time.Hour), 3*time.Hour+time.Minute)

	wantRuns(t, h.fb.runIDs(), "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z")
	for _, c := range h.fb.calls {
		if c.at.Sub(mustTime(c.runID[len(c.runID)-20:])) > time.Second {
			t.Errorf("run %s started late, at %s", c.runID, c.at)
		}
	}
	if mid.State != api.StateIdle || mid.Counters.Runs != 1 || mid.Counters.Succeeded != 1 {
		t.Errorf("status at 02:00: state %s, counters %+v", mid.State, mid.Counters)
	}
	if mid.NextRun == nil || !mid.NextRun.Equal(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("next_run = %v, want 02:00", mid.NextRun)
	}
	if mid.LastRun == nil || mid.LastRun.Outcome != api.OutcomeSucceeded || mid.LastRun.SnapshotID == "" {
		t.Errorf("last_run = %+v", mid.LastRun)
	}
	if mid.LastSuccess == nil {
		t.Error("last_success is null after a successful run")
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPauseSuppressesRunsAndExpiresByItself(t *testing.T) {
	h := newHarness(t)
	var during, after api.Status
	h.at(15*time.Minute, func() {
		h.signal(api.SignalPause, api.PauseSignal{For: "2h", Reason: "maintenance", By: "alice"})
	})
	h.at(2*time.Hour, func() { during = h.status() })
	h.at(2*time.Hour+20*time.Minute, func() { after = h.status() })
	h.run(backupPlan(time.Hour), 4*time.Hour+time.Minute)

	// Paused 00:45 to 02:45: the 01:00 and 02:00 runs are skipped.
	wantRuns(t, h.fb.runIDs(), "2026-01-01T03:00:00Z", "2026-01-01T04:00:00Z")
	until := time.Date(2026, 1, 1, 2, 45, 0, 0, time.UTC)
	if during.State != api.StatePaused || !during.Pause.Paused || during.Pause.Until == nil || !during.Pause.Until.Equal(until) {
		t.Fatalf("status while paused: state %s pause %+v", during.State, during.Pause)
	}
	if l := during.Pause.Leases; len(l) != 1 || l[0].Reason != "maintenance" || l[0].By != "alice" || l[0].Mode != api.ModeNewRuns {
		t.Fatalf("leases while paused: %+v", l)
	}
	if !strings.Contains(during.Details, "paused until 2026-01-01 02:45:00 UTC by alice: maintenance") {
		t.Errorf("details = %q", during.Details)
	}
	if after.State != api.StateIdle || after.Pause.Paused || after.Counters.Skipped != 2 {
		t.Fatalf("status after expiry: state %s paused %v counters %+v", after.State, after.Pause.Paused, after.Counters)
	}
	if len(after.PauseHistory) != 1 || after.PauseHistory[0].EndedBy != endExpired || !after.PauseHistory[0].Ended.Equal(until) {
		t.Fatalf("pause history: %+v", after.PauseHistory)
	}
}

func TestEarlyUnpauseResumesAtOnce(t *testing.T) {
	h := newHarness(t)
	var after api.Status
	h.at(15*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{For: "2h"}) })
	h.at(70*time.Minute, func() {
		h.signal(api.SignalUnpause, api.UnpauseSignal{By: "bob"})
	})
	h.at(71*time.Minute, func() { after = h.status() })
	h.run(backupPlan(time.Hour), 2*time.Hour+time.Minute)

	// 01:00 fell in the pause (skipped); 02:00 runs.
	wantRuns(t, h.fb.runIDs(), "2026-01-01T02:00:00Z")
	if after.State != api.StateIdle || after.NextRun == nil || !after.NextRun.Equal(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("after unpause: state %s next %v", after.State, after.NextRun)
	}
	if h := after.PauseHistory; len(h) != 1 || h[0].EndedBy != endUnpaused || h[0].Actor != "bob" {
		t.Fatalf("pause history: %+v", h)
	}
}

func TestUnpauseWithLatestCatchUpRunsMissedSlotNow(t *testing.T) {
	h := newHarness(t)
	h.at(15*time.Minute, func() { h.signal(api.SignalPause, nil) }) // indefinite
	h.at(3*time.Hour+10*time.Minute, func() {
		h.signal(api.SignalUnpause, api.UnpauseSignal{CatchUp: "latest"})
	})
	h.run(backupPlan(time.Hour), 3*time.Hour+20*time.Minute)

	// 01:00, 02:00, 03:00 came due while paused: only the latest runs.
	wantRuns(t, h.fb.runIDs(), "2026-01-01T03:00:00Z")
	if at := h.fb.calls[0].at; !at.Equal(time.Date(2026, 1, 1, 3, 40, 0, 0, time.UTC)) {
		t.Fatalf("catch-up run started at %s, want at the unpause (03:40)", at)
	}
}

func TestTriggerRunsNow(t *testing.T) {
	h := newHarness(t)
	h.at(10*time.Minute, func() { h.signal(api.SignalTrigger, api.TriggerSignal{Reason: "before upgrade", By: "carol"}) })
	h.run(backupPlan(time.Hour), 25*time.Minute)

	ids := h.fb.runIDs()
	if len(ids) != 1 || ids[0] != "steward/plan/home/run/2026-01-01T00:40:00Z/trigger" {
		t.Fatalf("runs = %q, want one triggered run at 00:40", ids)
	}
}

func TestTriggerRespectsPauseUnlessForced(t *testing.T) {
	h := newHarness(t)
	var st api.Status
	h.at(5*time.Minute, func() { h.signal(api.SignalPause, nil) })
	h.at(10*time.Minute, func() { h.signal(api.SignalTrigger, nil) })
	h.at(12*time.Minute, func() { st = h.status() })
	h.at(20*time.Minute, func() { h.signal(api.SignalTrigger, api.TriggerSignal{Force: true}) })
	h.run(backupPlan(time.Hour), 25*time.Minute)

	if n := len(h.fb.calls); n != 1 || !h.fb.calls[0].at.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("runs = %+v, want only the forced trigger at 00:50", h.fb.calls)
	}
	if st.Counters.RejectedSignals != 1 || st.LastRejection == nil || !strings.Contains(*st.LastRejection, "paused") {
		t.Fatalf("unforced trigger while paused: counters %+v rejection %v", st.Counters, st.LastRejection)
	}
}

func jsonPayload(s string) converter.RawValue {
	return converter.NewRawValue(&commonpb.Payload{
		Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingJSON)},
		Data:     []byte(s),
	})
}

func TestMalformedSignalsAreCountedAndIgnored(t *testing.T) {
	bad := []struct {
		name, payload, want string
	}{
		{"garbage JSON", `{not json`, "invalid character"},
		{"wrong type", `{"for": 5}`, "cannot unmarshal number"},
		{"unknown field", `{"fro":"2h"}`, `unknown field "fro"`},
		{"negative for", `{"for":"-1h"}`, "must be positive"},
		{"unparsable for", `{"for":"soon"}`, "not a duration"},
		{"until in the past", `{"until":"2025-01-01T00:00:00Z"}`, "not in the future"},
		{"for and until", `{"for":"1h","until":"2027-01-01T00:00:00Z"}`, "exclusive"},
		{"unknown mode", `{"mode":"everything"}`, `mode "everything"`},
		{"10 KB reason", `{"reason":"` + strings.Repeat("x", 10<<10) + `"}`, "longer than 1024"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var st api.Status
			h.at(10*time.Minute, func() { h.signal(api.SignalPause, jsonPayload(tc.payload)) })
			h.at(11*time.Minute, func() { st = h.status() })
			h.run(backupPlan(time.Hour), 61*time.Minute)

			if st.Counters.RejectedSignals != 1 || st.Pause.Paused || st.State != api.StateIdle {
				t.Fatalf("after bad pause: state %s paused %v counters %+v", st.State, st.Pause.Paused, st.Counters)
			}
			if st.LastRejection == nil || !strings.Contains(*st.LastRejection, tc.want) {
				t.Fatalf("last_rejection = %v, want it to mention %q", st.LastRejection, tc.want)
			}
			// The plan keeps its timers: the 01:00 run happens.
			wantRuns(t, h.fb.runIDs(), "2026-01-01T01:00:00Z")
		})
	}
}

func TestUnpauseUnknownLeaseIsRejected(t *testing.T) {
	h := newHarness(t)
	var st api.Status
	h.at(5*time.Minute, func() { h.signal(api.SignalPause, api.PauseSignal{ID: "maint", For: "1h"}) })
	h.at(10*time.Minute, func() { h.signal(api.SignalUnpause, api.UnpauseSignal{ID: "nope"}) })
	h.at(11*time.Minute, func() { st = h.status() })
	h.run(backupPlan(time.Hour), 20*time.Minute)
	if !st.Pause.Paused || st.Counters.RejectedSignals != 1 || !strings.Contains(*st.LastRejection, `"nope": no such active lease`) {
		t.Fatalf("status: paused %v counters %+v rejection %v", st.Pause.Paused, st.Counters, st.LastRejection)
	}
}

func TestFailedRunIsRecorded(t *testing.T) {
	h := newHarness(t)
	h.fb.fail = errors.New("disk on fire")
	var st api.Status
	h.at(time.Hour, func() { st = h.status() })
	p := backupPlan(time.Hour)
	p.Retry.Activity.MaxAttempts = 2
	p.Retry.Activity.Initial = plan.Duration(time.Second)
	noRunRetries(&p)
	h.run(p, time.Hour+time.Minute)

	if len(h.fb.calls) != 2 {
		t.Fatalf("activity attempts = %d, want 2 (max_attempts)", len(h.fb.calls))
	}
	if st.Counters.Failed != 1 || st.LastRun == nil || st.LastRun.Outcome != api.OutcomeFailed ||
		st.LastRun.Error == nil || !strings.Contains(*st.LastRun.Error, "disk on fire") || st.LastSuccess != nil {
		t.Fatalf("status after failure: %+v last run %+v", st.Counters, st.LastRun)
	}
}

func TestApplyUpdateChangesSchedule(t *testing.T) {
	h := newHarness(t)
	var rejected error
	h.at(5*time.Minute, func() {
		bad := backupPlan(time.Hour)
		bad.Schedule.Every = plan.Duration(-time.Second)
		h.env.UpdateWorkflow(api.UpdateApply, "bad", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { rejected = err },
			OnAccept: func() {}, OnComplete: func(any, error) {},
		}, bad)
	})
	h.at(10*time.Minute, func() {
		h.env.UpdateWorkflow(api.UpdateApply, "good", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("apply rejected: %v", err) },
			OnAccept: func() {}, OnComplete: func(any, error) {},
		}, backupPlan(15*time.Minute))
	})
	h.run(backupPlan(time.Hour), 65*time.Minute)

	if rejected == nil || !strings.Contains(rejected.Error(), "plan.schedule.every") {
		t.Fatalf("bad apply: %v, want an error naming plan.schedule.every", rejected)
	}
	wantRuns(t, h.fb.runIDs(), "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:15:00Z", "2026-01-01T01:30:00Z")
}

func TestContinueAsNewCarriesState(t *testing.T) {
	h := newHarness(t)
	h.at(30*time.Second, func() {
		h.signal(api.SignalPause, api.PauseSignal{ID: "keep", Until: "2030-01-01T00:00:00Z", Reason: "r"})
	})
	h.at(40*time.Second, func() { h.signal(api.SignalUnpause, api.UnpauseSignal{ID: "keep"}) })
	h.at(50*time.Second, func() { h.signal(api.SignalPause, api.PauseSignal{ID: "x", For: "1s"}) })
	h.at(time.Minute, func() { h.signal(api.SignalPause, jsonPayload("{")) })
	h.at(time.Minute+10*time.Second, func() {
		h.signal(api.SignalPause, api.PauseSignal{ID: "long", Until: "2030-01-01T00:00:00Z"})
	})
	h.at(time.Minute+11*time.Second, func() { h.signal(api.SignalUnpause, nil) })
	h.env.ExecuteWorkflow(api.PlanWorkflowName, PlanInput{Spec: backupPlan(time.Minute)})

	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var in PlanInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
		t.Fatalf("decode continue-as-new input: %v", err)
	}
	st := in.State
	if st == nil || st.Counters.Runs != runsPerExecution || st.Counters.Succeeded != runsPerExecution {
		t.Fatalf("carried counters: %+v", st)
	}
	if st.Counters.RejectedSignals != 1 || len(st.PauseHistory) != 3 || st.Running != nil {
		t.Fatalf("carried state: counters %+v history %d running %v", st.Counters, len(st.PauseHistory), st.Running)
	}
	if !st.NextRun.After(st.Prev) || len(st.RecentRuns) != plan.DefaultHistoryMax {
		t.Fatalf("carried schedule: prev %s next %s recent %d", st.Prev, st.NextRun, len(st.RecentRuns))
	}

	// The next execution picks up where this one stopped.
	h2 := newHarness(t)
	h2.env.SetStartTime(st.Prev.Add(time.Second))
	var s2 api.Status
	h2.at(2*time.Minute, func() { s2 = h2.status() })
	h2.at(2*time.Minute+time.Second, func() { h2.env.CancelWorkflow() })
	h2.env.ExecuteWorkflow(api.PlanWorkflowName, in)
	if s2.Counters.Runs != runsPerExecution+2 || s2.Counters.RejectedSignals != 1 || len(s2.PauseHistory) != 3 {
		t.Fatalf("after continue-as-new: counters %+v history %d", s2.Counters, len(s2.PauseHistory))
	}
}
