package telemetry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func probe(t *testing.T, h http.HandlerFunc) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	return rec.Code, rec.Body.String()
}

func TestHealth(t *testing.T) {
	h := NewHealth("starting")
	if code, body := probe(t, h.Healthz); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, body := probe(t, h.Readyz); code != http.StatusServiceUnavailable || body != "not ready: starting\n" {
		t.Errorf("/readyz before Ready = %d %q, want 503 not ready: starting", code, body)
	}

	serverDown := false
	h.Ready(
		Check{Name: "temporal", Run: func(context.Context) error {
			if serverDown {
				return errors.New("connection refused")
			}
			return nil
		}},
		Check{Name: "search attributes", Run: func(context.Context) error { return nil }},
	)
	if code, body := probe(t, h.Readyz); code != http.StatusOK || body != "temporal: ok\nsearch attributes: ok\n" {
		t.Errorf("/readyz when ready = %d %q", code, body)
	}
	serverDown = true
	if code, body := probe(t, h.Readyz); code != http.StatusServiceUnavailable || body != "temporal: connection refused\nsearch attributes: ok\n" {
		t.Errorf("/readyz with the server down = %d %q", code, body)
	}
	h.NotReady("shutting down")
	if code, body := probe(t, h.Readyz); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz after NotReady = %d %q", code, body)
	}
	if code, _ := probe(t, h.Healthz); code != http.StatusOK {
		t.Errorf("/healthz after NotReady = %d, want 200: the process still lives", code)
	}
}

// TestReadyzBoundsChecks: a check that hangs fails at checkTimeout, it
// does not hang the probe.
func TestReadyzBoundsChecks(t *testing.T) {
	h := NewHealth("")
	h.Ready(Check{Name: "temporal", Run: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}})
	code, body := probe(t, h.Readyz)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "temporal: context deadline exceeded") {
		t.Errorf("/readyz with a hanging check = %d %q", code, body)
	}
}

func TestListenInUse(t *testing.T) {
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Listen(l.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "metrics address "+l.Addr().String()+" is already in use") ||
		!strings.Contains(err.Error(), "--metrics-addr") {
		t.Errorf("Listen on an address in use: %v, want an error naming it and --metrics-addr", err)
	}
}
