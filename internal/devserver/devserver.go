// Package devserver runs an embedded Temporal server backed by a SQLite file,
// together with the Temporal Web UI, inside the current process.
//
// It is what `worker --dev` uses, and the only package of steward allowed to
// import go.temporal.io/server. The server keeps all state in one SQLite file
// (WAL journal), so restarting on the same file keeps every workflow and timer.
// Every listener is bound to Options.IP (127.0.0.1 by default), services find
// each other through static hosts (no membership ring), and one file is served
// by at most one server at a time (an exclusive lock on DBPath + ".lock").
//
// Known limitation: the server's SQLite plugin keeps one database connection per
// file open for the life of the process (it never closes pooled connections).
// Stop releases everything else, and Start on the same file in the same process
// reuses that connection, so do not delete or replace the file between Stop
// and Start in one process.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Defaults applied by Start to zero-valued Options fields.
const (
	DefaultIP        = "127.0.0.1"
	DefaultPort      = 7233
	DefaultUIPort    = 8233
	DefaultNamespace = "default"
	// DefaultRetention is the workflow-execution retention given to the
	// namespace when Start creates it (the server's own default is 24h).
	DefaultRetention = 7 * 24 * time.Hour
)

const (
	clusterName = "active"
	// sqliteBusyTimeout is how long a SQLite statement waits for a lock held
	// by another connection before failing with SQLITE_BUSY.
	sqliteBusyTimeout = 10 * time.Second
	// nsRefreshInterval is how often every service reloads namespaces (and
	// so search attribute aliases) from the database. Set explicitly so the
	// wait after registering a new search attribute is well defined.
	nsRefreshInterval = 2 * time.Second
	// readyTimeout bounds the wait for the frontend and the UI when the
	// caller's context has no earlier deadline.
	readyTimeout = 60 * time.Second
)

// Options configure Start.
type Options struct {
	// DBPath is the SQLite database file. It is created, with the Temporal
	// schema, if missing; its directory must exist. Required.
	DBPath string
	// IP is the address every listener binds to: frontend gRPC and HTTP,
	// the internal services and the Web UI. Default "127.0.0.1".
	IP string
	// Port is the frontend gRPC port. Default 7233.
	Port int
	// UIPort is the Web UI port. Default 8233; negative disables the UI.
	UIPort int
	// Namespace is created on first start. Default "default".
	Namespace string
	// SearchAttributes are custom search attributes registered in Namespace,
	// when the database is created and on every start (only missing ones are
	// added). Start fails if one exists with another type.
	SearchAttributes map[string]enums.IndexedValueType
	// Logger receives server logs. Default: text to stderr.
	Logger *slog.Logger
	// LogLevel is the minimum level of server logs passed to Logger.
	// Default slog.LevelWarn (the server is very chatty at Info).
	LogLevel slog.Leveler
	// DynamicConfig overrides server dynamic config values by key, e.g.
	// "matching.numTaskqueueReadPartitions": 1. Optional.
	DynamicConfig map[string]any
}

// Server is a running embedded Temporal server and Web UI.
type Server struct {
	frontendAddr string
	uiURL        string

	stopping atomic.Bool
	stopOnce sync.Once
	stopErr  error
	server   temporal.Server
	ui       *uiserver.Server
	uiDone   <-chan error
	lock     *fileLock
}

// FrontendAddress returns the frontend gRPC host:port, e.g. "127.0.0.1:7233".
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIURL returns the Web UI address, e.g. "http://127.0.0.1:8233", or "" when
// the UI is disabled.
func (s *Server) UIURL() string { return s.uiURL }

// Start starts the server and the Web UI. It returns once the frontend answers
// and every search attribute in opts is registered, so the caller can use them
// at once. ctx bounds the start-up only; call Stop to shut down.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readyTimeout)
		defer cancel()
	}

	s := &Server{frontendAddr: hostPort(opts.connectIP(), opts.Port)}
	// Filter here too, so a caller's Info-level logger is not flooded, and
	// mute the server once Stop begins: shutting down makes its services log
	// a burst of spurious warnings and errors about each other going away.
	opts.Logger = slog.New(levelHandler{Handler: opts.Logger.Handler(), level: opts.LogLevel, mute: &s.stopping})
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()

	// Lock first: it also proves the directory exists and is writable.
	if s.lock, err = lockFile(opts.DBPath + ".lock"); err != nil {
		return nil, err
	}

	// Fail clearly on busy ports before the server would log.Fatal on them.
	if err := checkPortFree(opts.IP, opts.Port, "Temporal frontend"); err != nil {
		return nil, err
	}
	if opts.UIPort > 0 {
		if err := checkPortFree(opts.IP, opts.UIPort, "Temporal Web UI"); err != nil {
			return nil, err
		}
	}

	cfg, err := buildConfig(&opts)
	if err != nil {
		return nil, err
	}
	if err := prepareDatabase(&opts, cfg.Persistence.DataStores[sqliteplugin.PluginName].SQL); err != nil {
		return nil, err
	}
	if s.server, err = newTemporalServer(&opts, cfg); err != nil {
		return nil, err
	}
	if err := callSafely("start Temporal server", s.server.Start); err != nil {
		return nil, err
	}

	if err := ensureSearchAttributes(ctx, s.frontendAddr, &opts); err != nil {
		return nil, err
	}

	if opts.UIPort > 0 {
		if s.ui, s.uiDone, err = startUI(ctx, &opts); err != nil {
			return nil, err
		}
		s.uiURL = "http://" + hostPort(opts.connectIP(), opts.UIPort)
	}
	return s, nil
}

// Stop stops the Web UI and the server and releases the database lock; it
// takes about a second (the frontend's minimum drain time). Server logs are
// dropped from the moment Stop begins. It is safe to call more than once;
// later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		var errs []error
		if s.ui != nil {
			s.ui.Stop()
			<-s.uiDone
		}
		if s.server != nil {
			errs = append(errs, callSafely("stop Temporal server", s.server.Stop))
		}
		if s.lock != nil {
			errs = append(errs, s.lock.release())
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

func (o *Options) normalize() error {
	if o.DBPath == "" {
		return errors.New("devserver: database path (DBPath) is required")
	}
	if strings.ContainsAny(o.DBPath, "?#") {
		return fmt.Errorf("database %s: path must not contain '?' or '#'", o.DBPath)
	}
	abs, err := filepath.Abs(o.DBPath)
	if err != nil {
		return fmt.Errorf("database %s: %w", o.DBPath, err)
	}
	o.DBPath = abs
	if fi, err := os.Stat(o.DBPath); err == nil && fi.IsDir() {
		return fmt.Errorf("database %s: is a directory", o.DBPath)
	}
	dir := filepath.Dir(o.DBPath)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("database %s: directory %s: %w", o.DBPath, dir, unwrapPathError(err))
	} else if !fi.IsDir() {
		return fmt.Errorf("database %s: %s is not a directory", o.DBPath, dir)
	}

	if o.IP == "" {
		o.IP = DefaultIP
	}
	if net.ParseIP(o.IP) == nil {
		return fmt.Errorf("devserver: IP %q is not an IP address", o.IP)
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("devserver: invalid frontend port %d", o.Port)
	}
	if o.UIPort == 0 {
		o.UIPort = DefaultUIPort
	}
	if o.UIPort > 65535 {
		return fmt.Errorf("devserver: invalid UI port %d", o.UIPort)
	}
	if o.UIPort > 0 && o.UIPort == o.Port {
		return fmt.Errorf("devserver: frontend and UI cannot share port %d", o.Port)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.LogLevel == nil {
		o.LogLevel = slog.LevelWarn
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: o.LogLevel}))
	}
	return nil
}

// connectIP is the address that reaches a listener bound to o.IP: o.IP
// itself, or loopback when o.IP is a wildcard such as 0.0.0.0.
func (o *Options) connectIP() string {
	ip := net.ParseIP(o.IP)
	switch {
	case !ip.IsUnspecified():
		return o.IP
	case ip.To4() != nil:
		return "127.0.0.1"
	default:
		return "::1"
	}
}

func buildConfig(o *Options) (*config.Config, error) {
	ports := map[string]int{"frontend": o.Port}
	var httpPort int
	taken := map[int]bool{o.Port: true}
	for _, svc := range []string{"frontend-http", "history", "matching", "worker"} {
		p, err := servicePort(o.IP, taken)
		if err != nil {
			return nil, err
		}
		taken[p] = true
		if svc == "frontend-http" {
			httpPort = p
		} else {
			ports[svc] = p
		}
	}

	var cfg config.Config
	cfg.Global.Membership.MaxJoinDuration = 30 * time.Second
	cfg.Global.Membership.BroadcastAddress = o.connectIP()

	cfg.Persistence.DefaultStore = sqliteplugin.PluginName
	cfg.Persistence.VisibilityStore = sqliteplugin.PluginName
	cfg.Persistence.NumHistoryShards = 1
	cfg.Persistence.DataStores = map[string]config.DataStore{
		sqliteplugin.PluginName: {SQL: &config.SQL{
			PluginName:   sqliteplugin.PluginName,
			DatabaseName: o.DBPath,
			// Keys the plugin does not know as URI parameters become
			// "PRAGMA key=value" (journal_mode, not _journal_mode).
			ConnectAttributes: map[string]string{
				"mode":         "rwc",
				"journal_mode": "wal",
				"busy_timeout": strconv.Itoa(int(sqliteBusyTimeout / time.Millisecond)),
			},
		}},
	}

	frontendAddr := hostPort(o.connectIP(), o.Port)
	cfg.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
				HTTPAddress:            hostPort(o.connectIP(), httpPort),
			},
		},
	}
	cfg.DCRedirectionPolicy.Policy = "noop"
	cfg.Services = make(map[string]config.Service, len(ports))
	for name, port := range ports {
		var svc config.Service
		svc.RPC.GRPCPort = port
		svc.RPC.BindOnIP = o.IP
		if name == "frontend" {
			svc.RPC.HTTPPort = httpPort
		}
		cfg.Services[name] = svc
	}
	cfg.Archival.History.State = "disabled"
	cfg.Archival.Visibility.State = "disabled"
	cfg.NamespaceDefaults.Archival.History.State = "disabled"
	cfg.NamespaceDefaults.Archival.Visibility.State = "disabled"
	cfg.PublicClient.HostPort = frontendAddr
	return &cfg, nil
}

// prepareDatabase creates the schema when the file is new (or empty) and the
// namespace when it is missing, with the custom search attributes.
func prepareDatabase(o *Options, sqlCfg *config.SQL) error {
	fi, err := os.Stat(o.DBPath)
	switch {
	case errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0):
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			// Do not leave a half-initialised file behind.
			for _, suffix := range []string{"", "-wal", "-shm"} {
				_ = os.Remove(o.DBPath + suffix)
			}
			return fmt.Errorf("database %s: creating schema: %w", o.DBPath, err)
		}
	case err != nil:
		return fmt.Errorf("database %s: %w", o.DBPath, unwrapPathError(err))
	default:
		// SQLite would quietly open a read-only file read-only, and the
		// server would fail later with an obscure error.
		f, err := os.OpenFile(o.DBPath, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("database %s: %w", o.DBPath, unwrapPathError(err))
		}
		_ = f.Close()
	}

	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, o.SearchAttributes)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", o.Namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(DefaultRetention)
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return fmt.Errorf("database %s: %w", o.DBPath, err)
	}
	return nil
}

func newTemporalServer(o *Options, cfg *config.Config) (temporal.Server, error) {
	logger := newServerLogger(o.Logger)
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal claim mapper: %w", err)
	}

	hosts := make(map[primitives.ServiceName]static.Hosts, len(cfg.Services))
	for name, svc := range cfg.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(hostPort(o.connectIP(), svc.RPC.GRPCPort))
	}

	dc := dynamicconfig.StaticClient{
		dynamicconfig.NamespaceCacheRefreshInterval.Key(): nsRefreshInterval,
		// Same as `temporal server start-dev`: a smaller mutable state cache.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8096,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	}
	for k, v := range o.DynamicConfig {
		dc[dynamicconfig.MakeKey(k)] = v
	}

	var srv temporal.Server
	err = callSafely("create Temporal server", func() error {
		var err error
		srv, err = temporal.NewServer(
			temporal.WithConfig(cfg),
			temporal.ForServices(temporal.DefaultServices),
			temporal.WithStaticHosts(hosts),
			temporal.WithLogger(logger),
			temporal.WithAuthorizer(authorizer),
			temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
			temporal.WithDynamicConfigClient(dc),
		)
		return err
	})
	if err != nil {
		return nil, err
	}
	return srv, nil
}

// callSafely runs f, turning a panic into an error.
func callSafely(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: panic: %v", what, r)
		}
	}()
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func hostPort(ip string, port int) string {
	return net.JoinHostPort(ip, strconv.Itoa(port))
}

// unwrapPathError drops the *os.PathError wrapper, whose path the caller
// already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
