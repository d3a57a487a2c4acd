// Command pause measures how long a pause signal takes to be applied: from
// sending it until the plan's status query shows the lease, on the embedded
// server of `steward-worker --dev`, for one plan and for 200 plans paused at
// once by a group pause (one server-side batch operation). The peer, in the
// same run on the same server, is a raw signal to a trivial workflow whose
// handler only records it, measured the same way: send, then query until it
// shows; for the group, the same batch signal operation over 200 trivial
// workflows, and 200 signals sent directly by the client.
//
//	go run ./bench/pause                      # builds ./worker itself
//	go run ./bench/pause -worker /tmp/sw -n 500 -group-runs 5
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	batchpb "go.temporal.io/api/batch/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"

	"github.com/steward-ops/steward/bench/internal/proc"
)

type options struct {
	worker    string
	n         int
	plans     int
	groupRuns int
	out       string
}

func main() {
	var o options
	flag.StringVar(&o.worker, "worker", "", "steward-worker binary (default: go build ./worker)")
	flag.IntVar(&o.n, "n", 300, "single-plan pauses (and as many unpauses and peer signals)")
	flag.IntVar(&o.plans, "plans", 200, "plans in the group pause")
	flag.IntVar(&o.groupRuns, "group-runs", 5, "group pauses (each followed by a group unpause)")
	flag.StringVar(&o.out, "out", "bench/results/pause.json", "results file")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "pause:", err)
		os.Exit(1)
	}
}

// Stats summarize latencies.
type Stats struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

func (s Stats) String() string {
	return fmt.Sprintf("p50 %v, p99 %v, max %v (n=%d)", ms(s.P50), ms(s.P99), ms(s.Max), s.N)
}

func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

func stats(ds []time.Duration) Stats {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return Stats{}
	}
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return Stats{N: len(s), P50: q(0.50), P99: q(0.99), Max: s[len(s)-1]}
}

type result struct {
	Date     time.Time        `json:"date"`
	CPUs     int              `json:"cpus"`
	Single   map[string]Stats `json:"single"`
	Group    map[string]Stats `json:"group"`
	Plans    int              `json:"group_plans"` // the group's plans, the single-plan one included
	Summary  []string         `json:"summary"`
	Comments []string         `json:"comments"`
	// LoadAvg is the machine's load average at the start and the end.
	LoadAvg [2]string `json:"loadavg_start_end"`
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "steward-bench-pause-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.worker == "" {
		o.worker = filepath.Join(dir, "steward-worker")
		fmt.Println("building ./worker ...")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", o.worker, "./worker").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./worker: %v\n%s", err, out)
		}
	}
	addr, stopWorker, err := startWorker(ctx, o.worker, dir)
	if err != nil {
		return err
	}
	defer stopWorker()

	c, err := client.Dial(client.Options{HostPort: addr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return err
	}
	defer c.Close()
	// The peer's trivial workflows run on a worker in this process.
	pw := worker.New(c, peerQueue, worker.Options{})
	pw.RegisterWorkflowWithOptions(PeerWorkflow, workflow.RegisterOptions{Name: peerWorkflowName})
	if err := pw.Start(); err != nil {
		return err
	}
	defer pw.Stop()

	src := filepath.Join(dir, "data")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	res := result{Date: time.Now().UTC(), CPUs: runtime.NumCPU(), Plans: o.plans + 1,
		Single: map[string]Stats{}, Group: map[string]Stats{}, LoadAvg: [2]string{proc.LoadAvg()}}

	// One plan, one trivial workflow.
	if err := applyPlans(ctx, c, []string{"solo"}, src, dir); err != nil {
		return err
	}
	if err := startPeers(ctx, c, 1, "solo"); err != nil {
		return err
	}
	fmt.Printf("single plan: %d pause/unpause pairs by signal, %d by Update (the steward CLI's path), and %d peer signals, alternating\n", o.n, o.n, 2*o.n)
	var pauses, unpauses, upPauses, upUnpauses, peer []time.Duration
	for i := range o.n {
		// Alternate, so drift on a shared machine hits both alike.
		d, err := pauseOnce(ctx, c, "solo", fmt.Sprintf("l%d", i))
		if err != nil {
			return err
		}
		pauses = append(pauses, d)
		if d, err = peerOnce(ctx, c, peerID("solo", 0), fmt.Sprintf("a%d", i)); err != nil {
			return err
		}
		peer = append(peer, d)
		if d, err = unpauseOnce(ctx, c, "solo", fmt.Sprintf("l%d", i)); err != nil {
			return err
		}
		unpauses = append(unpauses, d)
		if d, err = peerOnce(ctx, c, peerID("solo", 0), fmt.Sprintf("b%d", i)); err != nil {
			return err
		}
		peer = append(peer, d)
		if d, err = requestOnce(func() error {
			_, err := control.Pause(ctx, c, "solo", "", api.PauseSignal{For: "1h", ID: fmt.Sprintf("u%d", i), By: "bench"})
			return err
		}); err != nil {
			return err
		}
		upPauses = append(upPauses, d)
		if d, err = requestOnce(func() error {
			_, err := control.Unpause(ctx, c, "solo", "", api.UnpauseSignal{ID: fmt.Sprintf("u%d", i)})
			return err
		}); err != nil {
			return err
		}
		upUnpauses = append(upUnpauses, d)
	}
	res.Single["steward_pause_signal_to_status"] = stats(pauses)
	res.Single["steward_unpause_signal_to_status"] = stats(unpauses)
	res.Single["peer_signal_to_query"] = stats(peer)
	res.Single["steward_pause_update_answered"] = stats(upPauses)
	res.Single["steward_unpause_update_answered"] = stats(upUnpauses)
	for _, k := range []string{"steward_pause_signal_to_status", "steward_unpause_signal_to_status", "peer_signal_to_query",
		"steward_pause_update_answered", "steward_unpause_update_answered"} {
		fmt.Printf("  %-34s %v\n", k, res.Single[k])
	}

	// A group of plans, a group of trivial workflows.
	var ids []string
	for i := range o.plans {
		ids = append(ids, fmt.Sprintf("fleet-%03d", i))
	}
	fmt.Printf("applying %d plans ...\n", len(ids))
	if err := applyPlans(ctx, c, ids, src, dir); err != nil {
		return err
	}
	if err := startPeers(ctx, c, o.plans, "fleet"); err != nil {
		return err
	}
	if err := waitCount(ctx, c, fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", api.PlanWorkflowName), o.plans+1); err != nil {
		return err
	}
	if err := waitCount(ctx, c, fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", peerWorkflowName), o.plans+1); err != nil {
		return err
	}
	fmt.Printf("group of %d: %d pause --all / unpause --all, peer batch signals and direct signals, alternating\n", o.plans+1, o.groupRuns)
	var gPause, gUnpause, gPeerBatch, gPeerDirect, gStatuses []time.Duration
	all := append([]string{"solo"}, ids...)
	for i := range o.groupRuns {
		start := time.Now()
		for _, r := range control.Statuses(ctx, c, all) {
			if r.Err != nil {
				return r.Err
			}
		}
		gStatuses = append(gStatuses, time.Since(start))
		start = time.Now()
		gres, err := control.PauseGroup(ctx, c, control.Selection{All: true}, api.PauseSignal{For: "1h", ID: fmt.Sprintf("g%d", i), By: "bench"}, control.GroupOptions{})
		if err != nil {
			return fmt.Errorf("pause --all: %w", err)
		}
		gPause = append(gPause, time.Since(start))
		start = time.Now()
		if _, err := control.UnpauseGroup(ctx, c, control.Selection{All: true}, api.UnpauseSignal{ID: gres.LeaseID}, control.GroupOptions{}); err != nil {
			return fmt.Errorf("unpause --all: %w", err)
		}
		gUnpause = append(gUnpause, time.Since(start))
		d, err := peerBatch(ctx, c, o.plans+1, fmt.Sprintf("batch%d", i))
		if err != nil {
			return err
		}
		gPeerBatch = append(gPeerBatch, d)
		if d, err = peerDirect(ctx, c, o.plans+1, fmt.Sprintf("direct%d", i)); err != nil {
			return err
		}
		gPeerDirect = append(gPeerDirect, d)
		fmt.Printf("  run %d: pause --all %v, unpause --all %v; peer batch %v, peer direct %v; status of every plan %v\n", i+1,
			ms(gPause[i]), ms(gUnpause[i]), ms(gPeerBatch[i]), ms(gPeerDirect[i]), ms(gStatuses[i]))
	}
	res.Group["steward_pause_all_until_every_status_shows"] = stats(gPause)
	res.Group["steward_unpause_all_until_every_status_shows"] = stats(gUnpause)
	res.Group["peer_batch_signal_until_every_query_shows"] = stats(gPeerBatch)
	res.Group["peer_direct_signals_until_every_query_shows"] = stats(gPeerDirect)
	res.Group["steward_status_query_of_every_plan"] = stats(gStatuses)

	res.Summary = []string{
		fmt.Sprintf("single plan: pause signal -> status shows the lease: %v", res.Single["steward_pause_signal_to_status"]),
		fmt.Sprintf("single plan: unpause signal -> status shows it gone: %v", res.Single["steward_unpause_signal_to_status"]),
		fmt.Sprintf("peer: raw signal -> query shows it: %v", res.Single["peer_signal_to_query"]),
		fmt.Sprintf("single plan: pause Update (steward CLI path: status check, then Update) -> answered: %v", res.Single["steward_pause_update_answered"]),
		fmt.Sprintf("single plan: unpause Update -> answered: %v", res.Single["steward_unpause_update_answered"]),
	}
	for _, k := range []string{"steward_pause_all_until_every_status_shows", "steward_unpause_all_until_every_status_shows",
		"peer_batch_signal_until_every_query_shows", "peer_direct_signals_until_every_query_shows",
		"steward_status_query_of_every_plan"} {
		res.Summary = append(res.Summary, fmt.Sprintf("%d workflows: %s: %v", o.plans+1, k, res.Group[k]))
	}
	res.Comments = []string{
		"group timings include the status query of every plan before the signal (steward_status_query_of_every_plan), the batch job, and the confirmation of every plan (as long again)",
		"the server's batcher signals at most worker.batcherRPS (default 50) workflows per second, which bounds both batch figures",
	}
	res.LoadAvg[1] = proc.LoadAvg()
	for _, s := range res.Summary {
		fmt.Println(s)
	}
	return proc.WriteJSON(o.out, res)
}

// requestOnce times one request through the steward CLI's path: it returns
// once the plan has answered, which it does after applying it.
func requestOnce(send func() error) (time.Duration, error) {
	start := time.Now()
	if err := send(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// pauseOnce sends a pause signal and polls the status until it shows the
// lease.
func pauseOnce(ctx context.Context, c client.Client, id, lease string) (time.Duration, error) {
	start := time.Now()
	if err := c.SignalWorkflow(ctx, plan.WorkflowID(id), "", api.SignalPause, api.PauseSignal{For: "1h", ID: lease, By: "bench"}); err != nil {
		return 0, err
	}
	return pollStatus(ctx, c, id, start, func(st api.Status) bool {
		return slices.ContainsFunc(st.Pause.Leases, func(l api.Lease) bool { return l.ID == lease })
	})
}

func unpauseOnce(ctx context.Context, c client.Client, id, lease string) (time.Duration, error) {
	start := time.Now()
	if err := c.SignalWorkflow(ctx, plan.WorkflowID(id), "", api.SignalUnpause, api.UnpauseSignal{ID: lease}); err != nil {
		return 0, err
	}
	return pollStatus(ctx, c, id, start, func(st api.Status) bool { return !st.Pause.Paused })
}

func pollStatus(ctx context.Context, c client.Client, id string, start time.Time, done func(api.Status) bool) (time.Duration, error) {
	for deadline := start.Add(time.Minute); time.Now().Before(deadline); {
		st, err := control.Status(ctx, c, id)
		if err != nil {
			return 0, err
		}
		if done(st) {
			return time.Since(start), nil
		}
	}
	return 0, fmt.Errorf("plan %s: no effect within a minute", id)
}

// The peer: a workflow whose signal handler only records the last value.
const (
	peerQueue        = "bench-peer"
	peerWorkflowName = "PeerWorkflow"
	peerSignal       = "record"
	peerQuery        = "seen"
)

// PeerWorkflow records the last value signalled to it, and shows it in a
// query.
func PeerWorkflow(ctx workflow.Context) error {
	last := ""
	if err := workflow.SetQueryHandler(ctx, peerQuery, func() (string, error) { return last, nil }); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, peerSignal)
	for {
		ch.Receive(ctx, &last)
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			for ch.ReceiveAsync(&last) {
			}
			return workflow.NewContinueAsNewError(ctx, peerWorkflowName)
		}
	}
}

func peerID(group string, i int) string { return fmt.Sprintf("bench/peer/%s/%d", group, i) }

func startPeers(ctx context.Context, c client.Client, n int, group string) error {
	for i := range n {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: peerID(group, i), TaskQueue: peerQueue}, peerWorkflowName)
		if err != nil {
			return fmt.Errorf("start peer workflow: %w", err)
		}
	}
	return nil
}

func peerOnce(ctx context.Context, c client.Client, wid, value string) (time.Duration, error) {
	start := time.Now()
	if err := c.SignalWorkflow(ctx, wid, "", peerSignal, value); err != nil {
		return 0, err
	}
	if err := pollPeer(ctx, c, wid, value); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func pollPeer(ctx context.Context, c client.Client, wid, value string) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		v, err := c.QueryWorkflow(ctx, wid, "", peerQuery)
		if err != nil {
			return err
		}
		var got string
		if err := v.Get(&got); err != nil {
			return err
		}
		if got == value {
			return nil
		}
	}
	return fmt.Errorf("peer %s: no %q within a minute", wid, value)
}

// peerIDs lists the n running peer workflows.
func peerIDs(n int) []string {
	ids := []string{peerID("solo", 0)}
	for i := range n - 1 {
		ids = append(ids, peerID("fleet", i))
	}
	return ids
}

// pollPeers polls every peer until each shows value, a bounded number at a
// time like the steward group confirmation.
func pollPeers(ctx context.Context, c client.Client, n int, value string) error {
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, id := range peerIDs(n) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := pollPeer(ctx, c, id, value); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// peerBatch signals every peer through one batch signal operation, then
// polls each until it shows the value.
func peerBatch(ctx context.Context, c client.Client, n int, value string) (time.Duration, error) {
	start := time.Now()
	in, err := converter.GetDefaultDataConverter().ToPayloads(value)
	if err != nil {
		return 0, err
	}
	job := "bench/peer/" + value
	req := &workflowservice.StartBatchOperationRequest{
		Namespace:       client.DefaultNamespace,
		VisibilityQuery: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", peerWorkflowName),
		JobId:           job,
		Reason:          "bench",
		Operation: &workflowservice.StartBatchOperationRequest_SignalOperation{
			SignalOperation: &batchpb.BatchOperationSignal{Signal: peerSignal, Input: in, Identity: "bench"},
		},
	}
	for {
		_, err := c.WorkflowService().StartBatchOperation(ctx, req)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "Max concurrent batch operations") {
			return 0, fmt.Errorf("start peer batch: %w", err)
		}
		time.Sleep(50 * time.Millisecond) // the previous job is not closed in visibility yet
	}
	for {
		d, err := c.WorkflowService().DescribeBatchOperation(ctx, &workflowservice.DescribeBatchOperationRequest{Namespace: client.DefaultNamespace, JobId: job})
		if err != nil {
			return 0, err
		}
		if d.GetState() == enums.BATCH_OPERATION_STATE_COMPLETED {
			break
		}
		if d.GetState() == enums.BATCH_OPERATION_STATE_FAILED {
			return 0, errors.New("peer batch failed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := pollPeers(ctx, c, n, value); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// peerDirect signals every peer from the client, 16 at a time, then polls
// each until it shows the value.
func peerDirect(ctx context.Context, c client.Client, n int, value string) (time.Duration, error) {
	start := time.Now()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, id := range peerIDs(n) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.SignalWorkflow(ctx, id, "", peerSignal, value); err != nil {
				mu.Lock()
				first = cmpErr(first, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	if err := pollPeers(ctx, c, n, value); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// applyPlans applies backup plans that never run by themselves during the
// bench (every hour, counted from their creation).
func applyPlans(ctx context.Context, c client.Client, ids []string, src, dir string) error {
	var b strings.Builder
	b.WriteString("plans:\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "  - id: %s\n    kind: backup\n    schedule: {every: 1h, anchor: last-run}\n"+
			"    backup: {source: %s, repository: %s, password_env: BENCH_PASSWORD}\n", id, src, filepath.Join(dir, "repo"))
	}
	f, err := plan.Parse([]byte(b.String()))
	if err != nil {
		return err
	}
	_, err = control.Apply(ctx, c, f, control.ApplyOptions{})
	return err
}

// waitCount waits until visibility counts n workflows for query.
func waitCount(ctx context.Context, c client.Client, query string, n int) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err == nil && r.GetCount() == int64(n) {
			return nil
		}
	}
	return fmt.Errorf("visibility does not count %d workflows for %s", n, query)
}

// startWorker runs steward-worker --dev on a new database in dir and
// returns its frontend address.
func startWorker(ctx context.Context, bin, dir string) (string, func(), error) {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "--dev", "--dev-db", filepath.Join(dir, "s.db"),
		"--dev-port", fmt.Sprint(ports[0]), "--dev-ui-port", fmt.Sprint(ports[1]), "--host", "bench", "--metrics-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "BENCH_PASSWORD=x")
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stopFn := func() { proc.Stop(cmd) }
	if err := proc.WaitLine(stdout, "worker ready", time.Minute); err != nil {
		stopFn()
		return "", nil, fmt.Errorf("steward-worker: %w", err)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0]), stopFn, nil
}
