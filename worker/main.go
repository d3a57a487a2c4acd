// Command steward-worker runs steward's workflows and activities. With --dev
// it first starts an embedded Temporal server (SQLite file, Web UI) so one
// command runs everything; without it, it connects to any Temporal with the
// temporal CLI's settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // plans name IANA zones; do not depend on the host's tzdata

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/activities/backup"
	"github.com/steward-ops/steward/activities/gate"
	notifyacts "github.com/steward-ops/steward/activities/notify"
	"github.com/steward-ops/steward/activities/preheat"
	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/notify"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/internal/telemetry"
	"github.com/steward-ops/steward/workflows"
	"github.com/steward-ops/steward/workflows/api"
)

// options is everything the worker needs, parsed from flags.
type options struct {
	Dev       bool
	DevDB     string
	DevIP     string
	DevPort   int
	DevUIPort int
	DevConfig map[string]any
	Plans     string
	Host      string
	CacheDir  string
	Conn      control.Connection
	LogLevel  slog.Level
	LogJSON   bool
	// MetricsAddr is where /metrics, /healthz and /readyz are served; ""
	// serves none.
	MetricsAddr string
	// Notify are the default notification targets, for plans that name
	// none.
	Notify []notify.Target
	Out    io.Writer
}

func main() {
	tuneGC(os.Getenv("GOGC"))
	app := &cli.App{
		Name:  "steward-worker",
		Usage: "run steward's durable backup schedules on Temporal",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dev", Usage: "start an embedded Temporal server (SQLite file, Web UI) in this process"},
			&cli.StringFlag{Name: "dev-db", Value: filepath.Join(".steward", "steward.db"), Usage: "SQLite `FILE` of the embedded server"},
			&cli.StringFlag{Name: "dev-ip", Value: "127.0.0.1", Usage: "address the embedded server and Web UI listen on"},
			&cli.IntFlag{Name: "dev-port", Value: 7233, Usage: "frontend gRPC port of the embedded server"},
			&cli.IntFlag{Name: "dev-ui-port", Value: 8233, Usage: "Web UI port of the embedded server (negative: no UI)"},
			&cli.StringSliceFlag{Name: "dev-dynamic-config-value", Usage: "embedded server dynamic config `KEY=JSON` (repeatable), like the temporal CLI's start-dev"},
			&cli.StringFlag{Name: "plans", Usage: "apply the plan `FILE` at start"},
			&cli.StringFlag{Name: "host", Usage: "this worker's host name: it runs the activities of plans with this host (default: the machine's host name)"},
			&cli.StringFlag{Name: "cache-dir", Value: filepath.Join(".steward", "cache"), Usage: "preheat cache `DIR` for preheats that name no cache.dir"},
			&cli.StringFlag{Name: "address", Usage: "Temporal frontend `HOST:PORT` (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)"},
			&cli.StringFlag{Name: "namespace", Usage: "Temporal namespace (default $TEMPORAL_NAMESPACE or default)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json (one JSON object per line, for log collectors)"},
			&cli.StringSliceFlag{Name: "notify", Usage: "default notification target `URL` (shoutrrr; ${NAME} for secrets; repeatable): plans without notify: send it their failed, recovered, overdue, circuit-open and verify-failed events"},
			&cli.StringFlag{Name: "metrics-addr", Value: telemetry.DefaultAddr, Usage: "`HOST:PORT` to serve Prometheus /metrics, /healthz and /readyz on (\"\": none)"},
		},
		Action: func(c *cli.Context) error {
			opts, err := parseOptions(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, opts)
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "steward-worker:", err)
		os.Exit(1)
	}
}

func parseOptions(c *cli.Context) (options, error) {
	o := options{
		Dev:         c.Bool("dev"),
		DevDB:       c.String("dev-db"),
		DevIP:       c.String("dev-ip"),
		DevPort:     c.Int("dev-port"),
		DevUIPort:   c.Int("dev-ui-port"),
		Plans:       c.String("plans"),
		Host:        c.String("host"),
		CacheDir:    c.String("cache-dir"),
		MetricsAddr: c.String("metrics-addr"),
		Conn:        control.Connection{Address: c.String("address"), Namespace: c.String("namespace")},
		Out:         os.Stdout,
	}
	for _, kv := range c.StringSlice("dev-dynamic-config-value") {
		k, v, ok := strings.Cut(kv, "=")
		val, err := dynamicValue(v)
		if !ok || k == "" || err != nil {
			return o, fmt.Errorf("--dev-dynamic-config-value %q: want KEY=JSON, like limit.historyCount.suggestContinueAsNew=2000", kv)
		}
		if o.DevConfig == nil {
			o.DevConfig = map[string]any{}
		}
		o.DevConfig[k] = val
	}
	if err := o.LogLevel.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return o, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	for _, u := range c.StringSlice("notify") {
		t := notify.Target{URL: u}
		if err := (&notify.Sender{LookupEnv: os.LookupEnv}).Check(t); err != nil {
			return o, fmt.Errorf("--notify: %w", err)
		}
		o.Notify = append(o.Notify, t)
	}
	switch f := c.String("log-format"); f {
	case "text":
	case "json":
		o.LogJSON = true
	default:
		return o, fmt.Errorf("--log-format %q: want text or json", f)
	}
	if o.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return o, fmt.Errorf("host name: %w (set --host)", err)
		}
		o.Host = h
	}
	// The cache directory travels to activities as an absolute path, so
	// where the worker was started from does not matter later.
	dir, err := filepath.Abs(o.CacheDir)
	if err != nil || o.CacheDir == "" {
		return o, fmt.Errorf("--cache-dir %q: want a directory", o.CacheDir)
	}
	o.CacheDir = dir
	if o.Dev && o.Conn.Address != "" {
		return o, errors.New("--dev and --address are exclusive: --dev runs its own server")
	}
	return o, nil
}

// dynamicValue decodes a dynamic config value written as JSON. Whole
// numbers become ints: the server's int settings reject float64.
func dynamicValue(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return int(i), nil
		}
		return n.Float64()
	}
	return v, nil
}

// run starts the worker (and with Dev the embedded server) and blocks until
// ctx is done.
func run(ctx context.Context, o options) error {
	hopts := &slog.HandlerOptions{Level: o.LogLevel}
	var handler slog.Handler = slog.NewTextHandler(os.Stderr, hopts)
	if o.LogJSON {
		handler = slog.NewJSONHandler(os.Stderr, hopts)
	}
	logger := slog.New(planHandler{handler})

	// Read the plan file first: a typo should fail before anything starts.
	var plans *plan.File
	if o.Plans != "" {
		data, err := os.ReadFile(o.Plans)
		if err != nil {
			return fmt.Errorf("read plans: %w", err)
		}
		if plans, err = plan.Parse(data); err != nil {
			return fmt.Errorf("plans %s:\n%w", o.Plans, err)
		}
	}

	copts, err := o.Conn.Options()
	if err != nil {
		return err
	}
	// Metrics and health first: /readyz says "not ready" while the rest
	// starts.
	tel, err := startTelemetry(o, logger)
	if err != nil {
		return err
	}
	defer tel.stop()
	if tel.metrics != nil {
		copts.MetricsHandler = tel.metrics
	}
	if o.Dev {
		srv, err := startDevServer(ctx, o, logger)
		if err != nil {
			return err
		}
		defer func() {
			if err := srv.Stop(); err != nil {
				logger.Error("Stop embedded Temporal server", "error", err)
			}
		}()
		copts.HostPort = srv.FrontendAddress()
		fmt.Fprintf(o.Out, "steward: embedded Temporal at %s, database %s\n", srv.FrontendAddress(), o.DevDB)
		if u := srv.UIURL(); u != "" {
			fmt.Fprintf(o.Out, "steward: Web UI at %s/namespaces/%s/workflows\n", u, copts.Namespace)
		}
	}
	copts.Logger = sdklog.NewStructuredLogger(logger.With("component", "sdk"))
	c, err := dial(ctx, copts, tel.health, logger)
	if err != nil {
		return err
	}
	defer c.Close()

	if err := searchAttributes(ctx, c, copts.Namespace); err != nil {
		return err
	}

	workers, backups := newWorkers(c, o, tel.fatal)
	// Deferred first, so it runs after the workers stopped: it closes the
	// repositories they kept open.
	defer backups.Close(context.WithoutCancel(ctx))
	for _, w := range workers {
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		defer w.Stop()
	}
	if err := control.RegisterHost(ctx, c, o.Host); err != nil {
		return err
	}
	tel.ready(c, copts.Namespace)
	fmt.Fprintf(o.Out, "steward: worker ready on host %s, task queues %s\n", o.Host, queueNames(o.Host))

	if plans != nil {
		res, err := control.Apply(ctx, c, plans, control.ApplyOptions{})
		if err != nil {
			return fmt.Errorf("apply %s: %w", o.Plans, err)
		}
		for _, pc := range res.Plans {
			if pc.Action != control.ActionUnchanged {
				fmt.Fprintf(o.Out, "steward: %s\n", pc)
			}
		}
		fmt.Fprintf(o.Out, "steward: applied %s: %s\n", o.Plans, res.Summary())
	}
	<-ctx.Done()
	tel.health.NotReady("shutting down")
	fmt.Fprintln(o.Out, "steward: shutting down")
	return nil
}

// searchAttributes fails, saying what to do, while namespace lacks one of
// steward's search attributes.
func searchAttributes(ctx context.Context, c client.Client, namespace string) error {
	missing, err := control.MissingSearchAttributes(ctx, c, namespace)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("namespace %s lacks steward's search attributes %s: run `steward setup` once against this server",
			namespace, strings.Join(missing, ", "))
	}
	return nil
}

// The wait between attempts to reach Temporal: dialFirst, doubling up to
// dialMax.
const (
	dialFirst = time.Second
	dialMax   = 30 * time.Second
)

// dial connects to Temporal, trying again (1 s, then up to every 30 s) while
// nothing answers: a worker started before its server, or while the server
// restarts, waits for it instead of exiting, not ready meanwhile.
func dial(ctx context.Context, copts client.Options, health *telemetry.Health, logger *slog.Logger) (client.Client, error) {
	wait := dialFirst
	for {
		c, err := control.Dial(ctx, copts)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		health.NotReady(err.Error())
		logger.Warn("Temporal is not reachable yet; trying again", "address", copts.HostPort, "in", wait, "error", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, dialMax)
	}
}

// heartbeatThrottle is the longest the SDK holds back an activity heartbeat.
const heartbeatThrottle = 2 * time.Second

// newWorkers returns the worker of the shared queue (workflows, and the
// activities of plans with no host) and the worker of this host's queue,
// and the backup activities they share.
func newWorkers(c client.Client, o options, onFatal func(error)) ([]worker.Worker, *backup.Activities) {
	host, cacheDir := o.Host, o.CacheDir
	acts := backup.New()
	notes := notifyacts.New(host, o.Notify)
	acts.Hostname = host
	checks := gate.New()
	warm := preheat.New(c, host, cacheDir)
	shared := worker.New(c, activities.TaskQueue, worker.Options{MaxHeartbeatThrottleInterval: heartbeatThrottle, OnFatalError: onFatal})
	shared.RegisterWorkflowWithOptions(workflows.PlanWorkflow, workflow.RegisterOptions{Name: api.PlanWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.BackupRunWorkflow, workflow.RegisterOptions{Name: api.BackupRunWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.CheckPlanWorkflow, workflow.RegisterOptions{Name: api.CheckPlanWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.PreheatRunWorkflow, workflow.RegisterOptions{Name: api.PreheatRunWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.CacheEvictWorkflow, workflow.RegisterOptions{Name: api.CacheEvictWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.HostsWorkflow, workflow.RegisterOptions{Name: api.HostsWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.SnapshotsWorkflow, workflow.RegisterOptions{Name: api.SnapshotsWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.RestoreWorkflow, workflow.RegisterOptions{Name: api.RestoreWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.VerifyWorkflow, workflow.RegisterOptions{Name: api.VerifyWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.MaintenanceWorkflow, workflow.RegisterOptions{Name: api.MaintenanceWorkflowName})
	shared.RegisterWorkflowWithOptions(workflows.NotifyWorkflow, workflow.RegisterOptions{Name: api.NotifyWorkflowName})
	acts.Register(shared)
	checks.Register(shared)
	warm.Register(shared)
	notes.Register(shared)
	hostW := worker.New(c, activities.HostTaskQueue(host), worker.Options{
		DisableWorkflowWorker: true,
		// Cancellation reaches an activity only in a heartbeat's reply:
		// send heartbeats often enough that a pause with mode all stops a
		// backup within seconds.
		MaxHeartbeatThrottleInterval: heartbeatThrottle,
		OnFatalError:                 onFatal,
	})
	acts.Register(hostW)
	checks.Register(hostW)
	warm.Register(hostW)
	notes.Register(hostW)
	return []worker.Worker{shared, hostW}, acts
}

// devServer is the embedded Temporal server --dev runs (none in a
// worker built with the nodev tag: see devserver_nodev.go).
type devServer interface {
	FrontendAddress() string
	UIURL() string
	Stop() error
}

func queueNames(host string) string {
	return activities.TaskQueue + ", " + activities.HostTaskQueue(host)
}
