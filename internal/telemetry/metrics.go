// Package telemetry is what a worker tells the world about itself and its
// plans: Prometheus metrics (the Temporal SDK's own, through OpenTelemetry,
// and steward's per-plan gauges, read from the plans' search attributes so
// that they are right after a restart and the same on every worker) and
// the health endpoints /healthz and /readyz.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
)

// DefaultAddr is where a worker serves metrics and health unless told
// otherwise: loopback, the port of the OpenTelemetry Prometheus exporter.
const DefaultAddr = "127.0.0.1:9464"

// NewRegistry returns a Prometheus registry with the Go runtime's and the
// process's collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// SDKMetrics returns a Temporal SDK metrics handler whose metrics reg
// exports, and the function that flushes and stops it.
func SDKMetrics(reg prometheus.Registerer, logger *slog.Logger) (client.MetricsHandler, func(context.Context) error, error) {
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	h := opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		Meter: mp.Meter("steward"),
		// Counters are Prometheus counters (_total), not gauges.
		UseMonotonicCounters: true,
		// The handler panics on an instrument it cannot make unless
		// told what to do instead.
		OnError: func(err error) { logger.Warn("Metrics", "error", err) },
	})
	return h, mp.Shutdown, nil
}

// Listen listens on addr for the metrics and health server. An address in
// use is an error that names it and says what to do.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("metrics address %s is already in use (another steward worker on this machine?): choose another with --metrics-addr, or turn metrics off with --metrics-addr \"\"", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	return l, nil
}

// Server serves /metrics from reg and the health endpoints of h.
func Server(reg *prometheus.Registry, h *Health, logger *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// A collector that fails leaves out its metrics, not the rest.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", h.Healthz)
	mux.HandleFunc("GET /readyz", h.Readyz)
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
