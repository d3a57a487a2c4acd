package workflows

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/workflows/api"
)

// countingMetrics is a metrics handler that keeps its counters, keyed by
// name{tag=value,...} with the tags sorted.
type countingMetrics struct {
	tags   map[string]string
	mu     *sync.Mutex
	counts map[string]int64
}

func newCountingMetrics() countingMetrics {
	return countingMetrics{tags: map[string]string{}, mu: &sync.Mutex{}, counts: map[string]int64{}}
}

func (m countingMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(m.tags)
	maps.Copy(merged, tags)
	return countingMetrics{tags: merged, mu: m.mu, counts: m.counts}
}

func (m countingMetrics) Counter(name string) client.MetricsCounter {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m.tags)) {
		parts = append(parts, k+"="+m.tags[k])
	}
	return counterFunc(func(n int64) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.counts[name+"{"+strings.Join(parts, ",")+"}"] += n
	})
}

func (m countingMetrics) Gauge(name string) client.MetricsGauge {
	return client.MetricsNopHandler.Gauge(name)
}

func (m countingMetrics) Timer(name string) client.MetricsTimer {
	return client.MetricsNopHandler.Timer(name)
}

// sum adds up the counters of name whose tags include every one of want
// (k=v each).
func (m countingMetrics) sum(name string, want ...string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, v := range m.counts {
		tags, ok := strings.CutPrefix(k, name+"{")
		if !ok {
			continue
		}
		have := strings.Split(strings.TrimSuffix(tags, "}"), ",")
		match := true
		for _, w := range want {
			if !slices.Contains(have, w) {
				match = false
			}
		}
		if match {
			n += v
		}
	}
	return n
}

type counterFunc func(int64)

func (f counterFunc) Inc(n int64) { f(n) }

// TestPlanMetrics: runs are counted with their outcome and the plan's
// labels, what a backup moved too, and so are rejected signals; the plan's
// host and its last run's duration are search attributes.
func TestPlanMetrics(t *testing.T) {
	m := newCountingMetrics()
	h := newHarnessWithRunTime(t, 90*time.Second, m)
	var mu sync.Mutex
	var hosts []string
	var millis []int64
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Return().Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		mu.Lock()
		defer mu.Unlock()
		if v, ok := sa.GetKeyword(api.AttrHost); ok {
			hosts = append(hosts, v)
		}
		if v, ok := sa.GetInt64(api.AttrLastRunMillis); ok {
			millis = append(millis, v)
		}
	})
	p := backupPlan(time.Hour)
	p.Host = "nas"
	noRunRetries(&p)
	h.fb.failIf = func(runID string) error {
		if strings.Contains(runID, "T02:00") {
			return temporal.NewNonRetryableApplicationError("disk gone", "test", errors.New("disk gone"))
		}
		return nil
	}
	h.at(3*time.Hour+time.Minute, func() { h.signal(api.SignalPause, "not an object") })
	h.run(p, 3*time.Hour+2*time.Minute)

	st := h.status()
	ok := int64(st.Counters.Succeeded)
	if ok < 2 || st.Counters.Failed != 1 {
		t.Fatalf("counters %+v: want 2 or more successes and 1 failure", st.Counters)
	}
	labels := []string{"plan=home", "kind=backup", "host=nas"}
	for _, c := range []struct {
		name string
		tags []string
		want int64
	}{
		{metricRuns, append(labels, "outcome=succeeded"), ok},
		{metricRuns, append(labels, "outcome=failed"), 1},
		{metricBackupFiles, labels, ok * 3},
		{metricBackupBytes, labels, ok * 42},
		{metricSignalsRejected, append(labels, "signal="+api.SignalPause), 1},
	} {
		if got := m.sum(c.name, c.tags...); got != c.want {
			t.Errorf("%s%v = %d, want %d", c.name, c.tags, got, c.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hosts) == 0 || slices.ContainsFunc(hosts, func(h string) bool { return h != "nas" }) {
		t.Errorf("StewardHost upserts = %q, want nas each time", hosts)
	}
	if !slices.Contains(millis, int64(90_000)) {
		t.Errorf("StewardLastRunMillis upserts = %v, want 90000 (runs take 90 s)", millis)
	}
}
