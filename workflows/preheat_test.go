package workflows

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// fakePreheat answers the preheat activities; each host's fetch is told
// apart by the task queue it was scheduled on.
type fakePreheat struct {
	mu      sync.Mutex
	env     *testsuite.TestWorkflowEnvironment
	online  []string
	offline []string
	fail    map[string]error // by host
	expiry  time.Duration    // NextExpiry after now, 0: none
	fetches []string         // host of each fetch
	evicts  []time.Time
}

func (f *fakePreheat) Resolve(_ context.Context, req activities.PreheatResolveRequest) (activities.PreheatResolveResult, error) {
	res := activities.PreheatResolveResult{Source: req.Source, Hosts: req.Hosts}
	if req.Source.Image != "" {
		res.Source.Image = "r.example.com/app@sha256:" + strings.Repeat("a", 64)
		res.Source.Blobs = []activities.OCIBlob{{Repository: "r.example.com/app", Digest: "sha256:" + strings.Repeat("b", 64), Size: 10}}
	}
	if req.AllHosts {
		res.Hosts, res.Offline = f.online, f.offline
	}
	return res, nil
}

func (f *fakePreheat) host(ctx context.Context) string {
	q := activity.GetInfo(ctx).TaskQueue
	if h, ok := strings.CutPrefix(q, activities.TaskQueue+"@"); ok {
		return h
	}
	return "any"
}

func (f *fakePreheat) nextExpiry() *time.Time {
	if f.expiry == 0 {
		return nil
	}
	t := f.env.Now().Add(f.expiry).UTC()
	return &t
}

func (f *fakePreheat) Fetch(ctx context.Context, req activities.PreheatFetchRequest) (activities.PreheatFetchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	host := f.host(ctx)
	f.fetches = append(f.fetches, host)
	items := len(req.Source.Files) + len(req.Source.Blobs)
	res := activities.PreheatFetchResult{Host: host, Items: items, Bytes: int64(10 * items), Downloaded: int64(10 * items), NextExpiry: f.nextExpiry()}
	if err := f.fail[host]; err != nil {
		res.Failed, res.Errors = 1, []string{err.Error()}
		return res, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrDigestMismatch, nil, res)
	}
	return res, nil
}

func (f *fakePreheat) Evict(ctx context.Context, _ activities.PreheatEvictRequest) (activities.PreheatEvictResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.evicts = append(f.evicts, f.env.Now().UTC())
	return activities.PreheatEvictResult{Host: f.host(ctx), Evicted: 1, NextExpiry: f.nextExpiry()}, nil
}

func newPreheatEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakePreheat) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	env.RegisterWorkflowWithOptions(PlanWorkflow, workflow.RegisterOptions{Name: api.PlanWorkflowName})
	env.RegisterWorkflowWithOptions(PreheatRunWorkflow, workflow.RegisterOptions{Name: api.PreheatRunWorkflowName})
	env.RegisterWorkflowWithOptions(CacheEvictWorkflow, workflow.RegisterOptions{Name: api.CacheEvictWorkflowName})
	f := &fakePreheat{env: env, fail: map[string]error{}}
	env.RegisterActivityWithOptions(f.Resolve, activity.RegisterOptions{Name: activities.PreheatResolve})
	env.RegisterActivityWithOptions(f.Fetch, activity.RegisterOptions{Name: activities.PreheatFetch})
	env.RegisterActivityWithOptions(f.Evict, activity.RegisterOptions{Name: activities.PreheatEvict})
	return env, f
}

func filesPreheat(hosts plan.Hosts) plan.Preheat {
	p := plan.Preheat{URLs: []plan.URL{{URL: "https://files.example.com/a"}, {URL: "https://files.example.com/b"}}, Hosts: hosts}
	p.SetDefaults()
	return p
}

func TestPreheatRunFansOutToEachHost(t *testing.T) {
	env, f := newPreheatEnv(t)
	env.ExecuteWorkflow(api.PreheatRunWorkflowName, api.PreheatRunRequest{Preheat: filesPreheat(plan.Hosts{Names: []string{"a", "b"}})})
	var rep api.RunReport
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if err := env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.Kind != api.RunKindPreheat || rep.Preheat == nil || rep.Files != 2 || rep.End.Before(rep.Start) {
		t.Fatalf("run report %+v", rep)
	}
	res := *rep.Preheat
	slices.Sort(f.fetches)
	if !slices.Equal(f.fetches, []string{"a", "b"}) || len(res.Hosts) != 2 || res.Hosts[0].Host != "a" || res.Items != 2 || res.Downloaded != 40 {
		t.Fatalf("fetches on %v, report %+v; want one fetch on each of a and b", f.fetches, res)
	}
}

func TestPreheatRunHostsAll(t *testing.T) {
	env, f := newPreheatEnv(t)
	f.online, f.offline = []string{"a", "c"}, []string{"b"}
	env.ExecuteWorkflow(api.PreheatRunWorkflowName, api.PreheatRunRequest{Preheat: filesPreheat(plan.Hosts{All: true})})
	var rep api.RunReport
	if err := env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	slices.Sort(f.fetches)
	if !slices.Equal(f.fetches, []string{"a", "c"}) || rep.Preheat == nil || !slices.Equal(rep.Preheat.Offline, []string{"b"}) {
		t.Fatalf("fetches on %v, report %+v; want a and c, b reported offline", f.fetches, rep.Preheat)
	}
}

func TestPreheatRunNoHostOnline(t *testing.T) {
	env, f := newPreheatEnv(t)
	f.offline = []string{"b"}
	env.ExecuteWorkflow(api.PreheatRunWorkflowName, api.PreheatRunRequest{Preheat: filesPreheat(plan.Hosts{All: true})})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "no registered worker host is online (offline: b)") {
		t.Fatalf("error %v; want no host online", err)
	}
}

func TestPreheatRunWithoutHostsUsesThePlanHost(t *testing.T) {
	env, f := newPreheatEnv(t)
	env.ExecuteWorkflow(api.PreheatRunWorkflowName, api.PreheatRunRequest{Host: "nas", Preheat: filesPreheat(plan.Hosts{})})
	if err := env.GetWorkflowError(); err != nil || !slices.Equal(f.fetches, []string{"nas"}) {
		t.Fatalf("fetches on %v (%v); want the plan's host nas", f.fetches, err)
	}
}

func TestPreheatRunReportsFailedHost(t *testing.T) {
	env, f := newPreheatEnv(t)
	f.fail["b"] = errors.New("fetch x: digest mismatch")
	env.ExecuteWorkflow(api.PreheatRunWorkflowName, api.PreheatRunRequest{Preheat: filesPreheat(plan.Hosts{Names: []string{"a", "b"}})})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "1 of 2 hosts failed: b: ") || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("error %v; want host b's failure named", err)
	}
	var rep api.RunReport
	if !runDetails(err, &rep) || rep.Preheat == nil || len(rep.Preheat.Hosts) != 2 || rep.Preheat.Hosts[0].Failed != 0 || rep.Preheat.Hosts[1].Failed != 1 {
		t.Fatalf("report in the error: %+v; want a succeeded and b failed", rep.Preheat)
	}
}

func TestPreheatRunRejectsBadRequest(t *testing.T) {
	env, f := newPreheatEnv(t)
	env.ExecuteWorkflow(api.PreheatRunWorkflowName, api.PreheatRunRequest{Preheat: plan.Preheat{URLs: []plan.URL{{URL: "file:///etc/passwd"}}}})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "file:// URLs are refused") || len(f.fetches) != 0 {
		t.Fatalf("error %v, fetches %v; want the request refused before any fetch", err, f.fetches)
	}
}

func preheatPlan() plan.Plan {
	p := plan.Plan{
		ID: "home", Kind: plan.KindPreheat,
		Schedule: plan.Schedule{Every: plan.Duration(24 * time.Hour)},
		Preheat:  &plan.Preheat{URLs: []plan.URL{{URL: "https://files.example.com/a"}}, Cache: plan.Cache{TTL: plan.Duration(2 * time.Hour)}},
	}
	p.SetDefaults()
	noRunRetries(&p)
	return p
}

// TestPreheatPlanRunsAndEvictsOnItsTimer: a preheat plan's run is a
// PreheatRunWorkflow whose report becomes the run record; when the cache's
// next entry expires, with no run due, the plan evicts on a timer.
func TestPreheatPlanRunsAndEvictsOnItsTimer(t *testing.T) {
	env, f := newPreheatEnv(t)
	f.expiry = 2 * time.Hour
	h := &harness{t: t, env: env}
	var st api.Status
	h.at(time.Minute, func() { h.signal(api.SignalTrigger, api.TriggerSignal{}) })
	h.at(2*time.Minute, func() { st = h.status() })
	h.run(preheatPlan(), 5*time.Hour)
	if st.LastRun == nil || st.LastRun.Outcome != api.OutcomeSucceeded || st.LastRun.Files != 1 || st.LastRun.Downloaded != 10 {
		t.Fatalf("last run %+v; want a succeeded preheat of 1 item, 10 bytes downloaded", st.LastRun)
	}
	// Trigger at 00:31 → entries expire at 02:31, evicted then; the
	// eviction reports the next expiry 2h later, 04:31.
	want := []time.Time{t0.Add(time.Minute + 2*time.Hour), t0.Add(time.Minute + 4*time.Hour)}
	if len(f.evicts) != 2 || !f.evicts[0].Equal(want[0]) || !f.evicts[1].Equal(want[1]) {
		t.Fatalf("evictions at %v; want %v", f.evicts, want)
	}
}
