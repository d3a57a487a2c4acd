package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is Debian's headless browser, or "" (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium: .ci/run installs Debian's chromium package")
	}
	t.Skip("no chromium (apt-get install chromium)")
	return ""
}

// planColumns are the search attribute columns the README's plan view adds.
var planColumns = []string{"StewardPlan", "StewardState", "StewardNextRun", "StewardLastSuccess", "StewardLastResult", "StewardOverdue"}

// TestWebUIPlanView opens the embedded Web UI in a real (headless) browser
// with the README's query and columns: the plans are listed with their
// state, next run and last success, and the other workflows steward starts
// (runs, apply-time checks) are not.
func TestWebUIPlanView(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("uiplan", "1h", src, repo, "STEWARD_E2E_PASSWORD")))
	s.mustSteward("trigger", "uiplan", "--wait")
	c := s.client()
	defer c.Close()
	st := s.status(c, "uiplan")
	waitFor(t, 30*time.Second, "the plan's last success in visibility", func() bool {
		out, err := s.steward("plan", "ls", "-o", "json")
		return err == nil && strings.Contains(out, `"last_success": "`)
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.WindowSize(2400, 1200))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	base := fmt.Sprintf("http://127.0.0.1:%d", s.uiPort)
	cols := []map[string]any{{"label": "Status", "pinned": true}, {"label": "Workflow ID", "pinned": true}}
	for _, c := range planColumns {
		cols = append(cols, map[string]any{"label": c, "pinned": false})
	}
	stored, err := json.Marshal(map[string]any{"default": cols})
	if err != nil {
		t.Fatal(err)
	}
	query := "WorkflowType = 'PlanWorkflow' AND ExecutionStatus = 'Running'"
	var table string
	var listed bool
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/namespaces/default/workflows"),
		chromedp.WaitReady("body"),
		chromedp.Evaluate(fmt.Sprintf("localStorage.setItem('namespace-workflow-table-columns', %q)", stored), nil),
		chromedp.Navigate(base+"/namespaces/default/workflows?query="+url.QueryEscape(query)),
		chromedp.Poll(`!!document.querySelector('table') && document.querySelector('table').innerText.includes('steward/plan/uiplan')`, &listed),
		chromedp.Text("table", &table, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("browse the Web UI: %v\n%s", err, table)
	}
	for _, want := range append(planColumns, "steward/plan/uiplan", "idle", "succeeded") {
		if !strings.Contains(table, want) {
			t.Errorf("the plan view lacks %q:\n%s", want, table)
		}
	}
	if st.NextRun != nil && !strings.Contains(table, st.NextRun.UTC().Format("2006")) {
		t.Errorf("the plan view shows no next run date:\n%s", table)
	}
	for _, other := range []string{"steward/plan/uiplan/run/", "steward/check/"} {
		if strings.Contains(table, other) {
			t.Errorf("the plan view lists %s workflows:\n%s", other, table)
		}
	}
}
