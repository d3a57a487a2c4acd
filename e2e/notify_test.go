package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const hookCanary = "hook-token-canary-5e1a"

// hookReceiver is a webhook and healthchecks endpoint on loopback that
// records what reaches it.
type hookReceiver struct {
	mu   sync.Mutex
	reqs []string // "METHOD PATH\nBODY"
	srv  *http.Server
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.reqs = append(h.reqs, r.Method+" "+r.URL.Path+"\n"+string(b))
	h.mu.Unlock()
}

// serve starts the receiver on addr (a port reserved earlier).
func (h *hookReceiver) serve(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go h.srv.Serve(l) //nolint:errcheck // closed by the test
	t.Cleanup(func() { h.srv.Close() })
}

// count returns how many requests had a path with suffix path and a body
// holding body.
func (h *hookReceiver) count(path, body string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.reqs {
		line, b, _ := strings.Cut(r, "\n")
		if strings.HasSuffix(line, path) && strings.Contains(b, body) {
			n++
		}
	}
	return n
}

func (h *hookReceiver) all() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.reqs, "\n---\n")
}

// TestNotifications runs a plan that fails, is overdue and recovers,
// with a webhook receiver that is down for its first minute and a
// healthchecks endpoint, both real HTTP servers on loopback.
func TestNotifications(t *testing.T) {
	t.Parallel()
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword, "E2E_HOOK="+hookCanary, "E2E_HC=check-1")
	s.start()

	hookAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	hook := &hookReceiver{} // down until later
	hc := &hookReceiver{}
	hcAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	hc.serve(t, hcAddr)

	src, repo := newBackupDirs(t, s)
	planYAML := func(id, notify string) string {
		return fmt.Sprintf(`plans:
  - id: %s
    kind: backup
    schedule: {every: 15s, deadline: 20s}
    retry:
      activity: {initial: 1s, max_attempts: 1}
      run: {max_retries: 0}
    backup: {source: %s, repository: %s, password_env: STEWARD_E2E_PASSWORD}
    notify:
%s`, id, src, repo, notify)
	}

	// Bad targets are refused at apply, naming the field; nothing is made.
	for _, c := range []struct{ notify, want string }{
		{`      - {url: "nosuchservice://x"}` + "\n", `plans[0].notify[0].url: bad notification target: unknown service: "nosuchservice"`},
		{`      - {url: "generic+http://127.0.0.1/${E2E_UNSET_HOOK}"}` + "\n", "plans[0].notify[0].url: bad notification target: unresolved environment reference: environment variable E2E_UNSET_HOOK is not set on host e2e"},
		{`      - {url: "generic+http://127.0.0.1/x", events: [failed, exploded]}` + "\n", `plans[0].notify[0].events[1]: unknown event "exploded"`},
		{`      - {url: "generic+http://127.0.0.1/x", template: "{{.Plan"}` + "\n", "plans[0].notify[0].template: template: message:1: unclosed action"},
	} {
		out, err := s.steward("plan", "apply", "-f", s.writePlans(planYAML("refused", c.notify)))
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("apply with %s: %v\n%s\nwant an error saying %q", strings.TrimSpace(c.notify), err, out, c.want)
		}
	}
	if out := s.mustSteward("plan", "ls"); strings.Contains(out, "refused") {
		t.Fatalf("a refused plan was created:\n%s", out)
	}

	notify := fmt.Sprintf(`      - {url: "generic+http://%s/hook/${E2E_HOOK}", events: [failed, recovered, overdue]}
      - {url: "http://%s/ping/${E2E_HC}", kind: healthchecks}
`, hookAddr, hcAddr)
	applied := s.mustSteward("plan", "apply", "-f", s.writePlans(planYAML("flaky", notify)))
	// The source goes away: every run fails until it is back.
	if err := os.Rename(src, src+".away"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, 60*time.Second, "a failed ping at the healthchecks endpoint", func() bool {
		return hc.count("/ping/check-1/fail", "flaky") > 0
	})
	// The webhook receiver comes up after a minute: the failed and
	// overdue notifications sent meanwhile are retried until it answers.
	time.Sleep(time.Until(start.Add(time.Minute)))
	hook.serve(t, hookAddr)
	waitFor(t, 2*time.Minute, "the failed and overdue notifications, retried until the receiver is up", func() bool {
		return hook.count("/hook/"+hookCanary, "flaky failed") > 0 && hook.count("/hook/"+hookCanary, "flaky overdue") > 0
	})

	if err := os.Rename(src+".away", src); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the recovered notification", func() bool {
		return hook.count("/hook/"+hookCanary, "flaky recovered") > 0
	})
	// Stop the plan's runs, then let the last notifications land.
	pauseOut := s.mustSteward("pause", "flaky", "--reason", "count the messages")
	c := s.client()
	defer c.Close()
	waitFor(t, 2*time.Minute, "every notification to be delivered", func() bool {
		st := s.status(c, "flaky")
		return st.Notify != nil && st.Notify.Pending == 0 && st.State != "running"
	})
	st := s.status(c, "flaky")

	failedFireTimes := 0
	ledger, err := tryLedger(c, "flaky")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ledger {
		if e.Outcome == "failed" {
			failedFireTimes++
		}
	}
	if got := hook.count("/hook/"+hookCanary, "flaky failed"); got != failedFireTimes || got < 2 {
		t.Errorf("%d failed messages for %d failed fire times; want one each (and at least 2)\n%s", got, failedFireTimes, hook.all())
	}
	if got := hook.count("/hook/"+hookCanary, "flaky overdue"); got != 1 {
		t.Errorf("%d overdue messages for one overdue period, want 1\n%s", got, hook.all())
	}
	if got := hook.count("/hook/"+hookCanary, "flaky recovered"); got != 1 {
		t.Errorf("%d recovered messages, want 1\n%s", got, hook.all())
	}
	if st.Counters.Succeeded < 1 || hc.count("/ping/check-1", "flaky") < 1 || hc.count("/ping/check-1/start", "flaky") < failedFireTimes+1 {
		t.Errorf("healthchecks pings: %d success, %d start for %d runs\n%s", hc.count("/ping/check-1", "flaky"),
			hc.count("/ping/check-1/start", "flaky"), st.Counters.Runs, hc.all())
	}
	if st.Notify.Sent < 3 || st.Notify.Failed != 0 {
		t.Errorf("status notify = %+v, want the deliveries counted, none failed for good", *st.Notify)
	}

	// steward notify test reaches every target of the plan.
	testOut := s.mustSteward("notify", "test", "flaky")
	if !strings.Contains(testOut, "sent to 2 target(s)") || hook.count("/hook/"+hookCanary, "flaky test") != 1 {
		t.Errorf("steward notify test:\n%s\nreceiver:\n%s", testOut, hook.all())
	}

	// The hook's token is only referenced: it reaches the receiver and
	// nothing Temporal or steward keeps or prints.
	show := s.mustSteward("plan", "show", "flaky", "-o", "json")
	for where, text := range map[string]string{"worker log": s.out.String(), "histories": histories(t, s),
		"steward output": applied + pauseOut + testOut + show} {
		if strings.Contains(text, hookCanary) {
			t.Errorf("the %s holds the webhook's token", where)
		}
	}
	for _, h := range []*hookReceiver{hook, hc} {
		h.mu.Lock()
		for _, r := range h.reqs {
			_, body, _ := strings.Cut(r, "\n")
			if strings.Contains(body, hookCanary) || strings.Contains(body, e2ePassword) {
				t.Errorf("a notification's body holds a secret:\n%s", body)
			}
		}
		h.mu.Unlock()
	}
	if !strings.Contains(histories(t, s), "${E2E_HOOK}") {
		t.Error("the histories do not hold the reference: the canary would prove nothing")
	}
}
