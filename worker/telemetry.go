package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/telemetry"
)

const (
	// planListingMaxAge is how long one listing of the plans serves the
	// per-plan gauges: one visibility query per scrape at a 10 s or
	// longer scrape interval, fewer at a shorter one.
	planListingMaxAge = 10 * time.Second
	// planListingTimeout bounds one listing (10 pages of 1,000 plans).
	planListingTimeout = 20 * time.Second
)

// workerTelemetry is the worker's metrics and health server; with no
// metrics address, only its Health, which nothing serves.
type workerTelemetry struct {
	health   *telemetry.Health
	reg      *prometheus.Registry
	metrics  client.MetricsHandler
	srv      *http.Server
	shutdown func(context.Context) error
	logger   *slog.Logger
}

// startTelemetry serves /metrics, /healthz and /readyz on o.MetricsAddr
// (not ready until ready is called), and makes the Temporal SDK's metrics
// handler.
func startTelemetry(o options, logger *slog.Logger) (*workerTelemetry, error) {
	t := &workerTelemetry{health: telemetry.NewHealth("starting"), logger: logger}
	if o.MetricsAddr == "" {
		return t, nil
	}
	l, err := telemetry.Listen(o.MetricsAddr)
	if err != nil {
		return nil, err
	}
	t.reg = telemetry.NewRegistry()
	t.metrics, t.shutdown, err = telemetry.SDKMetrics(t.reg, logger)
	if err != nil {
		l.Close() //nolint:errcheck // failing anyway
		return nil, err
	}
	t.srv = telemetry.Server(t.reg, t.health, logger)
	go func() {
		if err := t.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("Metrics server", "error", err)
		}
	}()
	fmt.Fprintf(o.Out, "steward: metrics at http://%s/metrics, health at /healthz and /readyz\n", l.Addr())
	return t, nil
}

// ready adds the per-plan gauges of c's namespace and makes the worker
// ready while the server answers and has steward's search attributes.
func (t *workerTelemetry) ready(c client.Client, namespace string) {
	if t.reg == nil {
		return
	}
	t.reg.MustRegister(telemetry.NewPlanCollector(func(ctx context.Context) ([]control.Summary, error) {
		return control.List(ctx, c)
	}, planListingMaxAge, planListingTimeout))
	t.health.Ready(
		telemetry.Check{Name: "temporal", Run: func(ctx context.Context) error {
			_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
		telemetry.Check{Name: "search attributes", Run: func(ctx context.Context) error {
			return searchAttributes(ctx, c, namespace)
		}},
	)
}

// fatal makes the worker not ready for good: a task queue worker stopped.
func (t *workerTelemetry) fatal(err error) {
	t.health.NotReady(fmt.Sprintf("a task queue worker stopped: %v", err))
}

// stop stops the server and the SDK's metrics.
func (t *workerTelemetry) stop() {
	if t.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.srv.Shutdown(ctx); err != nil {
		t.logger.Warn("Stop metrics server", "error", err)
	}
	if err := t.shutdown(ctx); err != nil {
		t.logger.Warn("Stop metrics", "error", err)
	}
}
