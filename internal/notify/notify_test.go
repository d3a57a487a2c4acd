package notify

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/plan"
)

const canary = "s3cr3t-canary-token"

func lookup(name string) (string, bool) {
	if name == "HOOK_TOKEN" {
		return canary, true
	}
	return "", false
}

// receiver is an HTTP server on loopback that records what it gets.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []string // "METHOD PATH BODY"
	status int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: http.StatusOK}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, req.Method+" "+req.URL.Path+" "+string(b))
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func (r *receiver) host() string { return strings.TrimPrefix(r.URL, "http://") }

var ev = Event{Name: plan.EventFailed, Plan: "home", Kind: "backup", Host: "nas",
	Time: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC), Error: "disk gone"}

func TestRender(t *testing.T) {
	next := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	e := ev
	e.NextRun = &next
	m, err := Render("", e)
	if err != nil {
		t.Fatal(err)
	}
	if m.Title != "steward: home failed on nas" ||
		m.Body != "error: disk gone\nnext run: 2026-12-07 04:00 UTC\nat 2026-12-07 03:00:00 UTC" {
		t.Errorf("default message = %q / %q", m.Title, m.Body)
	}
	m, err = Render("{{.Plan}} is {{.Name}}\n{{.Error}}", e)
	if err != nil || m.Title != "home is failed" || m.Body != "disk gone" {
		t.Errorf("custom message = %+v, %v", m, err)
	}
	if _, err := Render("{{.Nope}}", e); err == nil {
		t.Error("a template naming a field events lack rendered")
	}
	if _, err := ParseTemplate("{{.Plan"); err == nil {
		t.Error("a template that does not parse parsed")
	}
}

func TestSendGenericWebhook(t *testing.T) {
	r := newReceiver(t)
	s := &Sender{LookupEnv: lookup}
	tg := Target{URL: "generic+" + r.URL + "/hook/${HOOK_TOKEN}"}
	if err := s.Check(tg); err != nil {
		t.Fatalf("check: %v", err)
	}
	if err := s.Send(t.Context(), tg, ev); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := r.requests()
	if len(got) != 1 || !strings.HasPrefix(got[0], "POST /hook/"+canary+" ") || !strings.Contains(got[0], "steward: home failed on nas") ||
		!strings.Contains(got[0], "disk gone") {
		t.Fatalf("receiver got %q", got)
	}

	// A receiver that fails: the error says so, without the secret.
	r.status = http.StatusInternalServerError
	err := s.Send(t.Context(), tg, ev)
	if err == nil || strings.Contains(err.Error(), canary) || errors.Is(err, ErrTarget) {
		t.Errorf("send to a failing receiver: %v; want a retryable error without the secret", err)
	}
}

func TestSendReceiverDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Sender{LookupEnv: lookup}
	for _, tg := range []Target{
		{URL: "generic+http://" + addr + "/hook/${HOOK_TOKEN}"},
		{URL: "http://" + addr + "/ping/${HOOK_TOKEN}", Kind: plan.NotifyHealthchecks},
	} {
		e := ev
		e.Name = plan.EventRunFailed
		err := s.Send(t.Context(), tg, e)
		if err == nil || strings.Contains(err.Error(), canary) || !strings.Contains(err.Error(), "***") {
			t.Errorf("%s target, receiver down: %v; want an error with the secret replaced by ***", tg.Kind, err)
		}
	}
}

func TestSendHonoursContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := (&Sender{}).Send(ctx, Target{URL: "generic+" + srv.URL + "/hook"}, ev)
	if !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "deadline")) {
		t.Errorf("send to a receiver that never answers: %v, want the context's deadline", err)
	}
}

func TestHealthchecksPings(t *testing.T) {
	r := newReceiver(t)
	s := &Sender{LookupEnv: lookup}
	tg := Target{URL: r.URL + "/ping/${HOOK_TOKEN}", Kind: plan.NotifyHealthchecks}
	for _, name := range []string{plan.EventRunStarted, plan.EventRunSucceeded, plan.EventRunStarted, plan.EventRunFailed, plan.EventFailed} {
		e := ev
		e.Name = name
		if err := s.Send(t.Context(), tg, e); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var paths []string
	for _, g := range r.requests() {
		paths = append(paths, strings.Fields(g)[1])
	}
	base := "/ping/" + canary
	want := []string{base + "/start", base, base + "/start", base + "/fail"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("pings = %q, want %q (and nothing for other events)", paths, want)
	}
}

func TestCheckRefuses(t *testing.T) {
	s := &Sender{LookupEnv: lookup}
	for _, c := range []struct {
		tg   Target
		want string
	}{
		{Target{URL: "nosuchservice://x"}, "nosuchservice"},
		{Target{URL: "slack://${UNSET_TOKEN}@channel"}, "UNSET_TOKEN is not set"},
		{Target{URL: "slack:/broken"}, ""},
		{Target{URL: "ftp://hc.example/x", Kind: plan.NotifyHealthchecks}, "http(s) URL"},
	} {
		err := s.Check(c.tg)
		if !errors.Is(err, ErrTarget) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%q) = %v, want ErrTarget saying %q", c.tg.URL, err, c.want)
		}
	}
}
