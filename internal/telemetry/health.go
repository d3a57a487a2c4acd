package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Check is one condition of readiness: Run returns nil when it holds.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// checkTimeout bounds each readiness check: a probe wants an answer, and a
// server that does not answer within it is as good as down.
const checkTimeout = 3 * time.Second

// Health answers /healthz (the process is alive: always 200) and /readyz
// (200 when every check passes, else 503 saying which failed). Until Ready
// is called, and after NotReady, /readyz answers 503 with the reason given.
type Health struct {
	mu     sync.RWMutex
	checks []Check
	reason string
}

// NewHealth returns a Health that is not ready, for reason.
func NewHealth(reason string) *Health { return &Health{reason: reason} }

// Ready makes readiness depend on checks.
func (h *Health) Ready(checks ...Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks, h.reason = checks, ""
}

// NotReady makes the worker not ready, for reason.
func (h *Health) NotReady(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks, h.reason = nil, reason
}

// Healthz answers 200: the process serves requests.
func (h *Health) Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// Readyz runs the checks and answers 200 if all pass, else 503; the body
// has one line per check.
func (h *Health) Readyz(w http.ResponseWriter, r *http.Request) {
	h.mu.RLock()
	checks, reason := h.checks, h.reason
	h.mu.RUnlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if reason != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", reason)
		return
	}
	var b strings.Builder
	ok := true
	for _, c := range checks {
		ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
		err := c.Run(ctx)
		cancel()
		if err != nil {
			ok = false
			fmt.Fprintf(&b, "%s: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(&b, "%s: ok\n", c.Name)
	}
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprint(w, b.String())
}
