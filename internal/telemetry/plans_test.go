package telemetry

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-ops/steward/internal/control"
)

func ptr[T any](v T) *T { return &v }

func TestPlanCollector(t *testing.T) {
	success := time.Date(2026, 12, 7, 10, 0, 0, 500_000_000, time.UTC)
	next := success.Add(time.Hour)
	plans := []control.Summary{
		{Plan: "home", Kind: "backup", Host: "nas", State: "idle", LastSuccess: &success, NextRun: &next,
			LastResult: &control.LastResult{Outcome: "succeeded", Finished: success, Seconds: ptr(12.5)}},
		{Plan: "held", Kind: "backup", State: "paused", Overdue: true,
			LastResult: &control.LastResult{Outcome: "failed", Finished: success}},
		{Plan: "fresh", Kind: "preheat", State: "idle"},
	}
	c := NewPlanCollector(func(context.Context) ([]control.Summary, error) { return plans, nil }, time.Minute, time.Second)
	want := `
# HELP steward_plan_last_success_timestamp_seconds When the plan's last successful run ended (Unix time); absent before its first success.
# TYPE steward_plan_last_success_timestamp_seconds gauge
steward_plan_last_success_timestamp_seconds{host="nas",kind="backup",plan="home"} 1.7966376005e+09
# HELP steward_plan_overdue 1 while the plan has had no success within its schedule's deadline.
# TYPE steward_plan_overdue gauge
steward_plan_overdue{host="",kind="backup",plan="held"} 1
steward_plan_overdue{host="",kind="preheat",plan="fresh"} 0
steward_plan_overdue{host="nas",kind="backup",plan="home"} 0
# HELP steward_plan_paused 1 while the plan is paused.
# TYPE steward_plan_paused gauge
steward_plan_paused{host="",kind="backup",plan="held"} 1
steward_plan_paused{host="",kind="preheat",plan="fresh"} 0
steward_plan_paused{host="nas",kind="backup",plan="home"} 0
# HELP steward_plan_last_run_outcome 1 for the outcome of the plan's last finished run (succeeded, failed or cancelled; a failed precondition is a failed run), 0 for the others.
# TYPE steward_plan_last_run_outcome gauge
steward_plan_last_run_outcome{host="",kind="backup",outcome="cancelled",plan="held"} 0
steward_plan_last_run_outcome{host="",kind="backup",outcome="failed",plan="held"} 1
steward_plan_last_run_outcome{host="",kind="backup",outcome="succeeded",plan="held"} 0
steward_plan_last_run_outcome{host="nas",kind="backup",outcome="cancelled",plan="home"} 0
steward_plan_last_run_outcome{host="nas",kind="backup",outcome="failed",plan="home"} 0
steward_plan_last_run_outcome{host="nas",kind="backup",outcome="succeeded",plan="home"} 1
# HELP steward_plan_last_run_duration_seconds How long the plan's last finished run took, from its start to its end.
# TYPE steward_plan_last_run_duration_seconds gauge
steward_plan_last_run_duration_seconds{host="nas",kind="backup",plan="home"} 12.5
# HELP steward_plan_next_run_timestamp_seconds When the plan runs next (Unix time); absent when it has no next run.
# TYPE steward_plan_next_run_timestamp_seconds gauge
steward_plan_next_run_timestamp_seconds{host="nas",kind="backup",plan="home"} 1.7966412005e+09
# HELP steward_plans Running plans by kind and state (idle, running, waiting, retrying or paused).
# TYPE steward_plans gauge
steward_plans{kind="backup",state="idle"} 1
steward_plans{kind="backup",state="paused"} 1
steward_plans{kind="preheat",state="idle"} 1
# HELP steward_plans_listing_up 1 if the last listing of the plans from Temporal's visibility succeeded; while it is 0 the per-plan metrics are those of the last listing that did.
# TYPE steward_plans_listing_up gauge
steward_plans_listing_up 1
`
	names := []string{"steward_plan_last_success_timestamp_seconds", "steward_plan_overdue", "steward_plan_paused",
		"steward_plan_last_run_outcome", "steward_plan_last_run_duration_seconds", "steward_plan_next_run_timestamp_seconds",
		"steward_plans", "steward_plans_listing_up"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestPlanCollectorListsOncePerMaxAge: scrapes within MaxAge, and
// concurrent ones, share one listing.
func TestPlanCollectorListsOncePerMaxAge(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	list := func(context.Context) ([]control.Summary, error) {
		calls.Add(1)
		<-release
		return []control.Summary{{Plan: "a", Kind: "backup", State: "idle"}}, nil
	}
	c := NewPlanCollector(list, time.Minute, time.Second)
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("10 concurrent scrapes listed the plans %d times, want 1", n)
	}
	mu.Lock()
	now = now.Add(59 * time.Second)
	mu.Unlock()
	if _, err := reg.Gather(); err != nil || calls.Load() != 1 {
		t.Errorf("a scrape within MaxAge listed again (%d listings, %v)", calls.Load(), err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if _, err := reg.Gather(); err != nil || calls.Load() != 2 {
		t.Errorf("a scrape after MaxAge did not list again (%d listings, %v)", calls.Load(), err)
	}
}

// TestPlanCollectorListingFails: a failed listing keeps the last good
// gauges and says so.
func TestPlanCollectorListingFails(t *testing.T) {
	fail := false
	list := func(context.Context) ([]control.Summary, error) {
		if fail {
			return nil, errors.New("connection refused")
		}
		return []control.Summary{{Plan: "a", Kind: "backup", State: "paused"}}, nil
	}
	c := NewPlanCollector(list, 0, time.Second)
	if got := testutil.ToFloat64(onlyDesc(c, "steward_plans_listing_up")); got != 1 {
		t.Fatalf("listing up = %v, want 1", got)
	}
	fail = true
	want := `
# HELP steward_plan_paused 1 while the plan is paused.
# TYPE steward_plan_paused gauge
steward_plan_paused{host="",kind="backup",plan="a"} 1
# HELP steward_plans_listing_up 1 if the last listing of the plans from Temporal's visibility succeeded; while it is 0 the per-plan metrics are those of the last listing that did.
# TYPE steward_plans_listing_up gauge
steward_plans_listing_up 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "steward_plan_paused", "steward_plans_listing_up"); err != nil {
		t.Error(err)
	}
}

// TestPlanCollectorNeverListed: before any listing succeeds there are no
// per-plan gauges, only the listing's state.
func TestPlanCollectorNeverListed(t *testing.T) {
	c := NewPlanCollector(func(context.Context) ([]control.Summary, error) {
		return nil, errors.New("down")
	}, time.Minute, time.Second)
	if n := testutil.CollectAndCount(c); n != 2 {
		t.Errorf("a collector that never listed exports %d metrics, want 2 (listing up and its duration)", n)
	}
}

// onlyDesc is a collector of c's metric name alone.
func onlyDesc(c prometheus.Collector, name string) prometheus.Collector {
	return filtered{c, name}
}

type filtered struct {
	prometheus.Collector
	name string
}

func (f filtered) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { f.Collector.Collect(all); close(all) }()
	for m := range all {
		if strings.Contains(m.Desc().String(), `"`+f.name+`"`) {
			ch <- m
		}
	}
}
