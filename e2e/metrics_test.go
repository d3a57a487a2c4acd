package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// get fetches http://addr/path and returns its status and body (0 when
// nothing answers).
func get(addr, path string) (int, string) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape reads the worker's /metrics at addr with Prometheus's own parser,
// and returns the raw text too.
func scrape(t *testing.T, addr string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	code, body := get(addr, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams, body
}

// sample is the value of the series of family name whose labels include
// want; ok is false if there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, w := range want {
			if have[k] != w {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// planSample waits until the per-plan metric name of plan reads a value
// for which ok says yes (the worker lists plans at most every 10 s), and
// returns it.
func planSample(t *testing.T, addr, name, plan string, ok func(float64) bool) float64 {
	t.Helper()
	var v float64
	var found bool
	waitFor(t, 45*time.Second, fmt.Sprintf("%s{plan=%q} to read as expected (last: %v, present %v)", name, plan, v, found), func() bool {
		fams, _ := scrape(t, addr)
		v, found = sample(fams, name, map[string]string{"plan": plan})
		return found && ok(v)
	})
	return v
}

func equals(want float64) func(float64) bool {
	return func(v float64) bool { return v == want }
}

// TestMetricsAndHealth scrapes a real worker: the per-plan gauges come from
// the plans' search attributes (right after a kill -9 and restart), the
// counters from the runs, and /readyz follows the server.
func TestMetricsAndHealth(t *testing.T) {
	t.Parallel()

	// A metrics address in use: the worker says which, before anything.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err := exec.Command(workerBin, "--address", "127.0.0.1:1", "--metrics-addr", l.Addr().String()).CombinedOutput()
	if want := fmt.Sprintf("metrics address %s is already in use", l.Addr()); err == nil || !strings.Contains(string(out), want) {
		t.Errorf("worker on a metrics address in use: %v\n%s\nwant an error saying %q", err, out, want)
	}

	// A second worker started before the server: alive, not ready, and
	// waiting for it; ready once the server is up.
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	other := newStack(t)
	cmd := exec.Command(workerBin, "--address", s.addr(), "--host", "other", "--metrics-addr", other.metricsAddr(), "--cache-dir", other.cacheDir())
	var otherOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &otherOut, &otherOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("second worker's output:\n%s", otherOut.String())
		}
	})
	waitFor(t, 30*time.Second, "/healthz of a worker that has no server yet", func() bool {
		code, _ := get(other.metricsAddr(), "/healthz")
		return code == http.StatusOK
	})
	waitFor(t, 30*time.Second, "/readyz to say 503, cannot reach the server", func() bool {
		code, body := get(other.metricsAddr(), "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "connect to Temporal at "+s.addr())
	})

	s.start()
	if code, body := get(s.metricsAddr(), "/readyz"); code != http.StatusOK || !strings.Contains(body, "temporal: ok") {
		t.Fatalf("/readyz of a ready worker: %d %q", code, body)
	}
	waitFor(t, 60*time.Second, "the second worker to be ready once the server is up", func() bool {
		code, _ := get(other.metricsAddr(), "/readyz")
		return code == http.StatusOK
	})

	src, repo := newBackupDirs(t, s)
	okPlan := strings.Replace(backupPlanYAML("ok", "1h", src, repo, "STEWARD_E2E_PASSWORD"), "kind: backup\n", "kind: backup\n    host: e2e\n", 1)
	s.mustSteward("plan", "apply", "-f", s.writePlans(okPlan))
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("held", "1h", src, repo+"-held", "STEWARD_E2E_PASSWORD")))
	// Fails every few seconds (nothing listens there) and so is overdue.
	s.mustSteward("plan", "apply", "-f", s.writePlans(fmt.Sprintf(`
plans:
  - id: late
    kind: preheat
    schedule: {every: 5s, deadline: 5s}
    retry:
      activity: {initial: 1s, max_attempts: 1}
    preheat:
      urls: [http://127.0.0.1:%d/file]
      allow_loopback: true
`, freePort(t))))
	s.mustSteward("trigger", "ok", "--wait")
	s.mustSteward("pause", "held", "--reason", "maintenance")

	c := s.client()
	defer c.Close()
	st := s.status(c, "ok")
	if st.LastSuccess == nil {
		t.Fatalf("plan ok has no last success after trigger --wait: %+v", st)
	}
	want := float64(st.LastSuccess.UnixNano()) / 1e9
	near := func(v float64) bool { return math.Abs(v-want) < 1e-3 }
	planSample(t, s.metricsAddr(), "steward_plan_last_success_timestamp_seconds", "ok", near)
	planSample(t, s.metricsAddr(), "steward_plan_paused", "held", equals(1))
	planSample(t, s.metricsAddr(), "steward_plan_paused", "ok", equals(0))
	planSample(t, s.metricsAddr(), "steward_plan_overdue", "late", equals(1))
	planSample(t, s.metricsAddr(), "steward_plan_overdue", "ok", equals(0))
	planSample(t, s.metricsAddr(), "steward_plan_last_run_outcome", "late", func(float64) bool { return true })

	// Counters count on the worker that ran the plan's workflow task or
	// activity: either of the two on the shared task queue.
	fams, body := scrape(t, s.metricsAddr())
	otherFams, otherBody := scrape(t, other.metricsAddr())
	counter := func(name string, labels map[string]string) (float64, bool) {
		a, okA := sample(fams, name, labels)
		b, okB := sample(otherFams, name, labels)
		return a + b, okA || okB
	}
	checks := []struct {
		name   string
		labels map[string]string
		ok     func(float64) bool
		want   string
	}{
		{"steward_plan_last_run_outcome", map[string]string{"plan": "ok", "kind": "backup", "host": "e2e", "outcome": "succeeded"}, equals(1), "1"},
		{"steward_plan_last_run_outcome", map[string]string{"plan": "ok", "outcome": "failed"}, equals(0), "0"},
		{"steward_plan_last_run_outcome", map[string]string{"plan": "late", "outcome": "failed"}, equals(1), "1"},
		{"steward_plan_last_run_duration_seconds", map[string]string{"plan": "ok"}, func(v float64) bool { return v > 0 && v < 120 }, "between 0 and 120"},
		{"steward_plan_next_run_timestamp_seconds", map[string]string{"plan": "ok"}, func(v float64) bool { return v > want }, "after the last success"},
		{"steward_plans", map[string]string{"kind": "backup", "state": "paused"}, equals(1), "1"},
		{"steward_plans_listing_up", nil, equals(1), "1"},
		{"steward_runs_total", map[string]string{"plan": "ok", "outcome": "succeeded"}, equals(1), "1"},
		{"steward_runs_total", map[string]string{"plan": "late", "outcome": "failed"}, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"steward_backup_files_total", map[string]string{"plan": "ok"}, equals(3), "3 (the source's files the plan does not exclude)"},
		{"steward_backup_new_bytes_total", map[string]string{"plan": "ok"}, func(v float64) bool { return v > 0 }, "> 0"},
		{"temporal_workflow_completed_total", nil, func(v float64) bool { return v >= 1 }, ">= 1 (the SDK's own metrics)"},
	}
	for _, c := range checks {
		v, ok := sample(fams, c.name, c.labels)
		if strings.HasSuffix(c.name, "_total") {
			v, ok = counter(c.name, c.labels)
		}
		if !ok || !c.ok(v) {
			t.Errorf("%s%v = %v (present %v), want %s", c.name, c.labels, v, ok, c.want)
		}
	}
	if strings.Contains(body, e2ePassword) || strings.Contains(otherBody, e2ePassword) {
		t.Error("/metrics holds the repository password")
	}

	// kill -9 the stack (worker and server), then start it again, with
	// JSON logs: the gauges read the same, from the search attributes.
	s.kill9()
	waitFor(t, 30*time.Second, "/readyz of the second worker to say 503 while the server is down", func() bool {
		code, _ := get(other.metricsAddr(), "/readyz")
		return code == http.StatusServiceUnavailable
	})
	// The container healthcheck's command says so too.
	if out, err := s.steward("health", "--metrics-addr", other.metricsAddr()); err == nil || !strings.Contains(out, "is not ready") {
		t.Errorf("steward health while the server is down: %v\n%s\nwant exit status 1 saying the worker is not ready", err, out)
	}
	s.start("--log-format", "json")
	waitFor(t, 60*time.Second, "/readyz of the second worker to say 200 once the server is back", func() bool {
		code, _ := get(other.metricsAddr(), "/readyz")
		return code == http.StatusOK
	})
	planSample(t, s.metricsAddr(), "steward_plan_last_success_timestamp_seconds", "ok", near)
	planSample(t, s.metricsAddr(), "steward_plan_paused", "held", equals(1))
	planSample(t, s.metricsAddr(), "steward_plan_overdue", "late", equals(1))
	if out, err := s.steward("health", "--metrics-addr", s.metricsAddr()); err != nil || !strings.Contains(out, "temporal: ok") {
		t.Errorf("steward health of a ready worker: %v\n%s", err, out)
	}

	// The failing plan's lines say which plan and run they are about.
	var jsonLines, runLines int
	waitFor(t, 30*time.Second, "a JSON log line of a run of plan late", func() bool {
		jsonLines, runLines = 0, 0
		for _, line := range strings.Split(s.out.String(), "\n") {
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("--log-format json wrote a line that is not JSON: %v\n%s", err, line)
			}
			jsonLines++
			if run, _ := v["run"].(string); v["plan"] == "late" && strings.HasPrefix(run, "steward/plan/late/run/") {
				runLines++
			}
		}
		return runLines > 0
	})
	if jsonLines == 0 {
		t.Errorf("--log-format json wrote no JSON log line:\n%s", s.out.String())
	}
	if strings.Contains(s.out.String(), e2ePassword) {
		t.Error("the worker's log holds the repository password")
	}
}
