package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// metricName matches the names of steward's metrics.
var metricName = regexp.MustCompile(`\bsteward_[a-z_]+\b`)

// exportedMetrics are the metric names the worker exports: the string
// literals of its collectors and counters.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	root := repoRoot(t)
	var names []string
	for _, f := range []string{"internal/telemetry/plans.go", "workflows/metrics.go", "workflows/notify.go"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(steward_[a-z_]+)"`).FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %v in the worker's metrics code", names)
	}
	return names
}

// checkNames fails for each steward_ metric expr uses that the worker does
// not export (a rule or panel that would never show anything).
func checkNames(t *testing.T, where, expr string, known []string) {
	t.Helper()
	for _, n := range metricName.FindAllString(expr, -1) {
		if !slices.Contains(known, n) {
			t.Errorf("%s uses %s, which the worker does not export", where, n)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestAlertRules(t *testing.T) {
	path := filepath.Join(repoRoot(t), "deploy", "prometheus", "alerts.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	known := exportedMetrics(t)
	var alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %+v lacks an alert name, expr, severity or summary", r)
			}
			if _, err := time.ParseDuration(strings.Replace(r.For, "d", "h", 1)); r.For != "" && err != nil {
				t.Errorf("rule %s: for %q: %v", r.Alert, r.For, err)
			}
			checkNames(t, "alert "+r.Alert, r.Expr, known)
		}
	}
	// What the operator needs to hear about.
	for _, want := range []string{"StewardPlanOverdue", "StewardPlanNoRecentSuccess", "StewardPlanFailing", "StewardWorkerDown"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alerts.yml has no %s alert (has %v)", want, alerts)
		}
	}
	// promtool, where it is installed (Debian's prometheus package),
	// checks the expressions themselves.
	promtool, err := exec.LookPath("promtool")
	switch {
	case err == nil:
		if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
	case os.Getenv("CI") != "":
		t.Error("promtool is not installed: .ci/run installs Debian's prometheus package")
	}
}

type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana", "steward.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard lacks a uid, title or panels: %+v", d)
	}
	known := exportedMetrics(t)
	var used []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkNames(t, "panel "+p.Title, q.Expr, known)
			used = append(used, metricName.FindAllString(q.Expr, -1)...)
		}
	}
	// Plans by state, overdue, last success age, run outcomes, bytes.
	for _, want := range []string{"steward_plans", "steward_plan_overdue", "steward_plan_last_success_timestamp_seconds",
		"steward_runs_total", "steward_backup_bytes_total"} {
		if !slices.Contains(used, want) {
			t.Errorf("no panel of the dashboard shows %s", want)
		}
	}
}

// TestComposeHealthchecks: the worker is healthy when its /readyz says so,
// Temporal when its frontend answers the health RPC, the UI when its
// server's /healthz answers.
func TestComposeHealthchecks(t *testing.T) {
	p := mustLoadCompose(t)
	w := service(t, p, "steward-worker")
	if w.HealthCheck == nil || !strings.Contains(strings.Join(w.HealthCheck.Test, " "), "/usr/local/bin/steward health --metrics-addr 127.0.0.1:9464") {
		t.Errorf("steward-worker healthcheck = %+v, want steward health on its metrics address", w.HealthCheck)
	}
	if i := slices.Index(w.Command, "--metrics-addr"); i < 0 || w.Command[i+1] != "0.0.0.0:9464" {
		t.Errorf("steward-worker command = %v, want --metrics-addr 0.0.0.0:9464 (for Prometheus on the compose network)", w.Command)
	}
	ui := service(t, p, "temporal-ui")
	if ui.HealthCheck == nil || !strings.Contains(strings.Join(ui.HealthCheck.Test, " "), "http://127.0.0.1:8080/healthz") {
		t.Errorf("temporal-ui healthcheck = %+v, want ui-server's /healthz", ui.HealthCheck)
	}
	tp := service(t, p, "temporal")
	if tp.HealthCheck == nil || !strings.Contains(strings.Join(tp.HealthCheck.Test, " "), "temporal operator cluster health") {
		t.Errorf("temporal healthcheck = %+v, want the health RPC", tp.HealthCheck)
	}
}
