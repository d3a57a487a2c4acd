package devserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const testIP = "127.0.0.1"

var planKey = temporal.NewSearchAttributeKeyKeyword("StewardPlan")

// sleepyWorkflow upserts a custom search attribute, then sleeps an hour.
func sleepyWorkflow(ctx workflow.Context) error {
	if err := workflow.UpsertTypedSearchAttributes(ctx, planKey.ValueSet("nightly")); err != nil {
		return err
	}
	return workflow.Sleep(ctx, time.Hour)
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := FreePort(testIP)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testOptions(t *testing.T, dbPath string) Options {
	return Options{
		DBPath: dbPath,
		Port:   freePort(t),
		UIPort: freePort(t),
		// Not t.Log: server goroutines may log after the test has ended.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	begin := time.Now()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start returned in %v", time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func dial(t *testing.T, s *Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.FrontendAddress(), Namespace: DefaultNamespace})
	if err != nil {
		t.Fatalf("dial %s: %v", s.FrontendAddress(), err)
	}
	return c
}

func listSearchAttributes(t *testing.T, c client.Client) map[string]enums.IndexedValueType {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(context.Background(),
		&operatorservice.ListSearchAttributesRequest{Namespace: DefaultNamespace})
	if err != nil {
		t.Fatalf("ListSearchAttributes: %v", err)
	}
	return resp.GetCustomAttributes()
}

func wantSearchAttributes(t *testing.T, c client.Client, want map[string]enums.IndexedValueType) {
	t.Helper()
	got := listSearchAttributes(t, c)
	for name, typ := range want {
		if got[name] != typ {
			t.Errorf("search attribute %s: got %v, want %v (all: %v)", name, got[name], typ, got)
		}
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, lastErr)
}

func TestPersistenceAcrossRestart(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "steward.db")
	opts := testOptions(t, dbPath)
	opts.SearchAttributes = map[string]enums.IndexedValueType{
		"StewardPlan": enums.INDEXED_VALUE_TYPE_KEYWORD,
	}

	// First start: creates the database, namespace and search attributes.
	s := startServer(t, opts)
	if got, want := s.FrontendAddress(), hostPort(testIP, opts.Port); got != want {
		t.Errorf("FrontendAddress = %q, want %q", got, want)
	}
	if got, want := s.UIURL(), "http://"+hostPort(testIP, opts.UIPort); got != want {
		t.Errorf("UIURL = %q, want %q", got, want)
	}
	checkWAL(t, dbPath)
	checkUI(t, s.UIURL())
	checkListeners(t, testIP)

	c := dial(t, s)
	ns, err := c.WorkflowService().DescribeNamespace(context.Background(),
		&workflowservice.DescribeNamespaceRequest{Namespace: DefaultNamespace})
	if err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
	if got := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != DefaultRetention {
		t.Errorf("retention = %v, want %v", got, DefaultRetention)
	}
	wantSearchAttributes(t, c, opts.SearchAttributes)

	// Second Start on the same file while the first runs fails on the lock.
	second := opts
	second.Port, second.UIPort = freePort(t), -1
	if s2, err := Start(context.Background(), second); err == nil {
		_ = s2.Stop()
		t.Fatal("second Start on the same database succeeded")
	} else if !strings.Contains(err.Error(), dbPath) || !strings.Contains(err.Error(), "in use") ||
		!strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second Start: unclear error: %v", err)
	} else {
		t.Logf("second Start: %v", err)
	}

	// A workflow that upserts a custom attribute, then waits on a 1h timer.
	const taskQueue, wfID = "devserver-test", "sleepy"
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(sleepyWorkflow)
	if err := w.Start(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	run, err := c.ExecuteWorkflow(context.Background(),
		client.StartWorkflowOptions{ID: wfID, TaskQueue: taskQueue}, sleepyWorkflow)
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	waitFor(t, "timer started", 30*time.Second, func() (bool, error) {
		return hasEvent(c, wfID, run.GetRunID(), enums.EVENT_TYPE_TIMER_STARTED)
	})
	w.Stop()
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	// Restart on the same file, same ports, with one more search attribute
	// (registered through the operator API since the database exists).
	opts.SearchAttributes = map[string]enums.IndexedValueType{
		"StewardPlan":   enums.INDEXED_VALUE_TYPE_KEYWORD,
		"StewardPaused": enums.INDEXED_VALUE_TYPE_BOOL,
	}
	s = startServer(t, opts)
	checkUI(t, s.UIURL())
	c = dial(t, s)
	defer c.Close()
	desc, err := c.DescribeWorkflowExecution(context.Background(), wfID, run.GetRunID())
	if err != nil {
		t.Fatalf("DescribeWorkflowExecution after restart: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("workflow status after restart = %v, want RUNNING", st)
	}
	if _, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["StewardPlan"]; !ok {
		t.Errorf("workflow lost its StewardPlan search attribute: %v", desc.GetWorkflowExecutionInfo().GetSearchAttributes())
	}
	if fired, err := hasEvent(c, wfID, run.GetRunID(), enums.EVENT_TYPE_TIMER_FIRED); err != nil || fired {
		t.Errorf("timer fired after restart = %v (err %v), want pending", fired, err)
	}
	wantSearchAttributes(t, c, opts.SearchAttributes)
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	// An existing attribute with another type is a clear error.
	opts.SearchAttributes = map[string]enums.IndexedValueType{"StewardPlan": enums.INDEXED_VALUE_TYPE_INT}
	opts.UIPort = -1
	if s, err := Start(context.Background(), opts); err == nil {
		_ = s.Stop()
		t.Fatal("Start with a conflicting search attribute type succeeded")
	} else if !strings.Contains(err.Error(), "StewardPlan") {
		t.Errorf("conflicting search attribute: unclear error: %v", err)
	} else {
		t.Logf("conflicting search attribute: %v", err)
	}
	assertUnlocked(t, dbPath)
}

func hasEvent(c client.Client, wfID, runID string, typ enums.EventType) (bool, error) {
	it := c.GetWorkflowHistory(context.Background(), wfID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return false, err
		}
		if ev.GetEventType() == typ {
			return true, nil
		}
	}
	return false, nil
}

// checkWAL reads the SQLite header: bytes 18 and 19 are 2 in WAL mode.
func checkWAL(t *testing.T, dbPath string) {
	t.Helper()
	f, err := os.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdr := make([]byte, 20)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		t.Fatalf("reading %s header: %v", dbPath, err)
	}
	if !strings.HasPrefix(string(hdr), "SQLite format 3\x00") || hdr[18] != 2 || hdr[19] != 2 {
		t.Errorf("%s is not a SQLite database in WAL mode (header %q)", dbPath, hdr)
	}
}

func checkUI(t *testing.T, url string) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
}

// assertUnlocked fails if the database lock is still held.
func assertUnlocked(t *testing.T, dbPath string) {
	t.Helper()
	l, err := lockFile(dbPath + ".lock")
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	if err := l.release(); err != nil {
		t.Fatal(err)
	}
}

func TestBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", hostPort(testIP, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	busyAddr := hostPort(testIP, busy)

	for _, tc := range []struct {
		name string
		set  func(*Options)
	}{
		{"frontend", func(o *Options) { o.Port = busy }},
		{"ui", func(o *Options) { o.UIPort = busy }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "steward.db")
			opts := testOptions(t, dbPath)
			tc.set(&opts)
			s, err := Start(context.Background(), opts)
			if err == nil {
				_ = s.Stop()
				t.Fatal("Start on a busy port succeeded")
			}
			want := "listen " + busyAddr + ": port already in use"
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
			t.Log(err)
			assertUnlocked(t, dbPath)
		})
	}
}

func TestBadDatabasePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", "", "DBPath"},
		{"parent is a file", filepath.Join(file, "steward.db"), "database " + filepath.Join(file, "steward.db") + ": "},
		{"missing directory", filepath.Join(dir, "nope", "steward.db"), "database " + filepath.Join(dir, "nope", "steward.db") + ": "},
		{"directory", dir, "database " + dir + ": is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(context.Background(), Options{DBPath: tc.path, Port: freePort(t), UIPort: -1})
			if err == nil {
				_ = s.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db.lock")
	l, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockFile(path)
	if err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second lock: %v", err)
	}
	if err := l.release(); err != nil {
		t.Fatal(err)
	}
	l, err = lockFile(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if err := l.release(); err != nil {
		t.Fatal(err)
	}
}

// checkListeners fails if this process listens on TCP anywhere but ip
// (Linux only: it reads /proc).
func checkListeners(t *testing.T, ip string) {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	var listening []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
				continue
			}
			addr := procAddr(f[1])
			listening = append(listening, addr)
			if host, _, _ := net.SplitHostPort(addr); host != ip {
				t.Errorf("listening on %s, want only %s", addr, ip)
			}
		}
	}
	// frontend gRPC + HTTP, history, matching, worker, UI.
	if len(listening) < 6 {
		t.Errorf("found %d listeners (%v), want at least 6", len(listening), listening)
	}
	t.Logf("listeners: %v", listening)
}

// procAddr decodes a /proc/net/tcp address such as "0100007F:1F90".
func procAddr(s string) string {
	hexIP, hexPort, _ := strings.Cut(s, ":")
	port, _ := strconv.ParseUint(hexPort, 16, 16)
	b := make(net.IP, len(hexIP)/2)
	for i := range b {
		v, _ := strconv.ParseUint(hexIP[2*i:2*i+2], 16, 8)
		b[i] = byte(v)
	}
	// The kernel prints each 32-bit word in host (little-endian) order.
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.JoinHostPort(b.String(), strconv.FormatUint(port, 10))
}
