package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/workflows/api"
)

// planLabels label every per-plan metric.
var planLabels = []string{"plan", "kind", "host"}

var (
	descLastSuccess = prometheus.NewDesc("steward_plan_last_success_timestamp_seconds",
		"When the plan's last successful run ended (Unix time); absent before its first success.", planLabels, nil)
	descLastRun = prometheus.NewDesc("steward_plan_last_run_timestamp_seconds",
		"When the plan's last run ended, whatever its outcome (Unix time); absent before its first run.", planLabels, nil)
	descLastOutcome = prometheus.NewDesc("steward_plan_last_run_outcome",
		"1 for the outcome of the plan's last finished run (succeeded, failed or cancelled; a failed precondition is a failed run), 0 for the others.",
		append(planLabels, "outcome"), nil)
	descLastDuration = prometheus.NewDesc("steward_plan_last_run_duration_seconds",
		"How long the plan's last finished run took, from its start to its end.", planLabels, nil)
	descOverdue = prometheus.NewDesc("steward_plan_overdue",
		"1 while the plan has had no success within its schedule's deadline.", planLabels, nil)
	descPaused = prometheus.NewDesc("steward_plan_paused",
		"1 while the plan is paused.", planLabels, nil)
	descNextRun = prometheus.NewDesc("steward_plan_next_run_timestamp_seconds",
		"When the plan runs next (Unix time); absent when it has no next run.", planLabels, nil)
	descPlans = prometheus.NewDesc("steward_plans",
		"Running plans by kind and state (idle, running, waiting, retrying or paused).", []string{"kind", "state"}, nil)
	descListUp = prometheus.NewDesc("steward_plans_listing_up",
		"1 if the last listing of the plans from Temporal's visibility succeeded; while it is 0 the per-plan metrics are those of the last listing that did.", nil, nil)
	descListAt = prometheus.NewDesc("steward_plans_listing_timestamp_seconds",
		"When the per-plan metrics were listed (Unix time).", nil, nil)
	descListTook = prometheus.NewDesc("steward_plans_listing_duration_seconds",
		"How long the last listing of the plans took.", nil, nil)
)

// outcomes are the values of steward_plan_last_run_outcome's outcome label.
var outcomes = []string{api.OutcomeSucceeded, api.OutcomeFailed, api.OutcomeCancelled}

// Lister lists the running plans with their search attributes
// (control.List).
type Lister func(ctx context.Context) ([]control.Summary, error)

// PlanCollector exports per-plan gauges from a listing of the plans' search
// attributes. A listing serves every scrape for MaxAge, and concurrent
// scrapes share one: a scrape costs the Temporal server one visibility query
// (a page per 1,000 plans) per MaxAge at most, however many plans and
// scrapers there are.
type PlanCollector struct {
	list    Lister
	maxAge  time.Duration
	timeout time.Duration
	now     func() time.Time

	mu     sync.Mutex
	plans  []control.Summary
	listed time.Time // when plans were listed
	tried  time.Time // when a listing was last tried
	ok     bool      // the last try succeeded
	took   time.Duration
}

// NewPlanCollector returns a collector that lists the plans with list at
// most once per maxAge, giving up on a listing after timeout.
func NewPlanCollector(list Lister, maxAge, timeout time.Duration) *PlanCollector {
	return &PlanCollector{list: list, maxAge: maxAge, timeout: timeout, now: time.Now}
}

// Describe implements prometheus.Collector.
func (c *PlanCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLastSuccess, descLastRun, descLastOutcome, descLastDuration,
		descOverdue, descPaused, descNextRun, descPlans, descListUp, descListAt, descListTook} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PlanCollector) Collect(ch chan<- prometheus.Metric) {
	plans, listed, ok, took := c.snapshot()
	ch <- prometheus.MustNewConstMetric(descListUp, prometheus.GaugeValue, boolValue(ok))
	ch <- prometheus.MustNewConstMetric(descListTook, prometheus.GaugeValue, took.Seconds())
	if listed.IsZero() {
		return
	}
	ch <- prometheus.MustNewConstMetric(descListAt, prometheus.GaugeValue, unixSeconds(listed))
	type kindState struct{ kind, state string }
	counts := map[kindState]int{}
	for _, p := range plans {
		counts[kindState{p.Kind, p.State}]++
		labels := []string{p.Plan, p.Kind, p.Host}
		gauge := func(d *prometheus.Desc, v float64, more ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(labels, more...)...)
		}
		gauge(descOverdue, boolValue(p.Overdue))
		gauge(descPaused, boolValue(p.State == api.StatePaused))
		if p.LastSuccess != nil {
			gauge(descLastSuccess, unixSeconds(*p.LastSuccess))
		}
		if p.NextRun != nil {
			gauge(descNextRun, unixSeconds(*p.NextRun))
		}
		if r := p.LastResult; r != nil {
			gauge(descLastRun, unixSeconds(r.Finished))
			for _, o := range outcomes {
				gauge(descLastOutcome, boolValue(r.Outcome == o), o)
			}
			if r.Seconds != nil {
				gauge(descLastDuration, *r.Seconds)
			}
		}
	}
	for ks, n := range counts {
		ch <- prometheus.MustNewConstMetric(descPlans, prometheus.GaugeValue, float64(n), ks.kind, ks.state)
	}
}

// snapshot returns the plans as last listed, listing them again first if
// the last try is older than maxAge.
func (c *PlanCollector) snapshot() (plans []control.Summary, listed time.Time, ok bool, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tried.IsZero() || c.now().Sub(c.tried) >= c.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		start := c.now()
		got, err := c.list(ctx)
		cancel()
		c.tried = c.now()
		c.took = c.tried.Sub(start)
		c.ok = err == nil
		if err == nil {
			c.plans, c.listed = got, c.tried
		}
	}
	return c.plans, c.listed, c.ok, c.took
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
