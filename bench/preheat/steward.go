package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/bench/internal/proc"
)

// worker is a running `steward-worker --dev` and a client of its server.
type worker struct {
	bin     proc.Binaries
	addr    string
	logPath string
	cmd     *exec.Cmd
	client  client.Client
}

// startWorker runs steward-worker --dev on a new database in dir, its log
// in dir/worker.log.
func startWorker(ctx context.Context, bin proc.Binaries, dir string) (*worker, error) {
	ports, err := proc.FreePorts(1)
	if err != nil {
		return nil, err
	}
	w := &worker{bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), logPath: filepath.Join(dir, "worker.log")}
	logf, err := os.Create(w.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	w.cmd = exec.CommandContext(ctx, bin.Worker, "--dev", "--dev-db", filepath.Join(dir, "steward.db"),
		"--dev-port", fmt.Sprint(ports[0]), "--dev-ui-port", "-1", "--host", "bench", "--metrics-addr", "127.0.0.1:0",
		"--cache-dir", filepath.Join(dir, "cache"))
	w.cmd.Stderr = logf
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	fmt.Println("starting steward-worker --dev ...")
	if err := proc.WaitLine(io.TeeReader(stdout, logf), "worker ready", 2*time.Minute); err != nil {
		proc.Stop(w.cmd)
		return nil, fmt.Errorf("steward-worker (log: %s): %w", w.logPath, err)
	}
	w.client, err = client.Dial(client.Options{HostPort: w.addr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		proc.Stop(w.cmd)
		return nil, err
	}
	return w, nil
}

func (w *worker) stop() {
	if w.client != nil {
		w.client.Close()
	}
	proc.Stop(w.cmd)
}

// preheatReport is the part of `steward preheat --output json` read here.
type preheatReport struct {
	ID     string `json:"id"`
	RunID  string `json:"run_id"`
	Joined bool   `json:"joined"`
	Result *struct {
		Hosts      []activities.PreheatFetchResult `json:"hosts"`
		Items      int                             `json:"items"`
		Bytes      int64                           `json:"bytes"`
		Downloaded int64                           `json:"downloaded"`
	} `json:"result"`
	Error *string `json:"error"`
}

// preheat runs `steward preheat --wait --output json` for urls (with digest
// if not empty, or listed in a file when there are many) into cacheDir, and
// returns the sample with its wall time.
func (w *worker) preheat(ctx context.Context, concurrency int, cacheDir, digest string, urls []string) (sample, error) {
	args := []string{"preheat", "--wait", "--output", "json", "--allow-loopback",
		"--concurrency", fmt.Sprint(concurrency), "--cache-dir", cacheDir}
	if digest != "" {
		args = append(args, "--digest", digest)
	}
	if len(urls) > 10 {
		list := filepath.Join(filepath.Dir(cacheDir), filepath.Base(cacheDir)+".urls")
		if err := writeLines(list, urls); err != nil {
			return sample{}, err
		}
		args = append(args, "--urls-from", list)
	} else {
		args = append(args, urls...)
	}
	cmd := exec.CommandContext(ctx, w.bin.Steward, args...)
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+w.addr)
	var stderr proc.LimitedBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("steward %v: %v\n%s%s", args, err, proc.Clip(out), stderr.String())
	}
	var rep preheatReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return sample{}, fmt.Errorf("steward preheat: read its report: %v\n%s", err, proc.Clip(out))
	}
	if rep.Error != nil || rep.Result == nil || len(rep.Result.Hosts) != 1 {
		return sample{}, fmt.Errorf("steward preheat: unexpected report:\n%s", proc.Clip(out))
	}
	h := rep.Result.Hosts[0]
	s := sample{
		Wall:       wall,
		Bytes:      rep.Result.Bytes,
		Items:      rep.Result.Items,
		Downloaded: &h.Downloaded,
		Cached:     &h.Cached,
		Failed:     &h.Failed,
		Joined:     rep.Joined,
		RunID:      rep.RunID,
	}
	if h.Failed != 0 || rep.Result.Items != len(urls) {
		return s, fmt.Errorf("steward preheat: %d of %d items failed: %v", h.Failed, rep.Result.Items, h.Errors)
	}
	hist, err := w.history(ctx, rep.ID, rep.RunID)
	if err != nil {
		return s, err
	}
	s.History = &hist
	return s, nil
}

// history is where a preheat run's time went, from its workflow history.
type history struct {
	Events   int           `json:"events"`
	Workflow time.Duration `json:"workflow_ns"`         // started -> completed
	Resolve  time.Duration `json:"resolve_activity_ns"` // scheduled -> completed
	Fetch    time.Duration `json:"fetch_activity_ns"`   // scheduled -> completed
	// FetchQueued is the fetch activity's scheduled -> (last) started.
	FetchQueued   time.Duration `json:"fetch_queued_ns"`
	FetchAttempts int           `json:"fetch_attempts"`
}

func (w *worker) history(ctx context.Context, id, runID string) (history, error) {
	var h history
	var wfStart time.Time
	type act struct {
		name               string
		scheduled, started time.Time
	}
	acts := map[int64]*act{}
	it := w.client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return h, fmt.Errorf("history of %s: %w", id, err)
		}
		h.Events++
		t := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			wfStart = t
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			h.Workflow = t.Sub(wfStart)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			acts[ev.GetEventId()] = &act{name: ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(), scheduled: t}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			at := ev.GetActivityTaskStartedEventAttributes()
			if a := acts[at.GetScheduledEventId()]; a != nil {
				a.started = t
				if a.name == activities.PreheatFetch {
					h.FetchAttempts = int(at.GetAttempt())
				}
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := acts[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
			if a == nil {
				continue
			}
			switch a.name {
			case activities.PreheatResolve:
				h.Resolve += t.Sub(a.scheduled)
			case activities.PreheatFetch:
				h.Fetch += t.Sub(a.scheduled)
				if !a.started.IsZero() {
					h.FetchQueued += a.started.Sub(a.scheduled)
				}
			}
		}
	}
	return h, nil
}
