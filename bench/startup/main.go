// Command startup measures how long `steward-worker --dev` takes from exec
// until it accepts a plan, next to `temporal server start-dev` until it
// answers, in the same run on the same machine, and writes the figures to a
// results file.
//
//	go build -o /tmp/sw ./worker && go build -o /tmp/steward ./starter
//	go run ./bench/startup -worker /tmp/sw -steward /tmp/steward -temporal $(go env GOPATH)/bin/temporal
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/steward-ops/steward/bench/internal/proc"
)

type options struct {
	worker, steward, temporal string
	runs                      int
	out                       string
}

// sample is one cold start.
type sample struct {
	Ready     time.Duration `json:"ready_ns"`      // exec -> ready to serve
	FirstPlan time.Duration `json:"first_plan_ns"` // exec -> a plan applied (steward only)
}

type result struct {
	Date    time.Time           `json:"date"`
	Runs    int                 `json:"runs"`
	Samples map[string][]sample `json:"samples"`
	Summary map[string]string   `json:"summary"`
}

func main() {
	var o options
	flag.StringVar(&o.worker, "worker", "", "steward-worker binary")
	flag.StringVar(&o.steward, "steward", "", "steward CLI binary")
	flag.StringVar(&o.temporal, "temporal", "", "temporal CLI binary (the peer)")
	flag.IntVar(&o.runs, "runs", 5, "cold starts of each")
	flag.StringVar(&o.out, "out", "bench/results/startup.json", "results file")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.worker == "" || o.steward == "" || o.temporal == "" {
		return errors.New("-worker, -steward and -temporal are required")
	}
	res := result{Date: time.Now().UTC(), Runs: o.runs, Samples: map[string][]sample{}, Summary: map[string]string{}}
	for i := 0; i < o.runs; i++ {
		// Alternate, so drift on a shared machine hits both alike.
		s, err := steward(ctx, o)
		if err != nil {
			return err
		}
		res.Samples["steward"] = append(res.Samples["steward"], s)
		p, err := peer(ctx, o)
		if err != nil {
			return err
		}
		res.Samples["temporal-start-dev"] = append(res.Samples["temporal-start-dev"], p)
		fmt.Printf("run %d: steward ready %v, plan applied %v; temporal start-dev ready %v\n", i+1,
			s.Ready.Round(time.Millisecond), s.FirstPlan.Round(time.Millisecond), p.Ready.Round(time.Millisecond))
	}
	res.Summary["steward_ready_median"] = median(res.Samples["steward"], func(s sample) time.Duration { return s.Ready }).String()
	res.Summary["steward_first_plan_median"] = median(res.Samples["steward"], func(s sample) time.Duration { return s.FirstPlan }).String()
	res.Summary["temporal_start_dev_ready_median"] = median(res.Samples["temporal-start-dev"], func(s sample) time.Duration { return s.Ready }).String()
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	fmt.Println(strings.Join([]string{
		"steward ready (median): " + res.Summary["steward_ready_median"],
		"steward plan applied (median): " + res.Summary["steward_first_plan_median"],
		"temporal server start-dev ready (median): " + res.Summary["temporal_start_dev_ready_median"],
	}, "\n"))
	return os.WriteFile(o.out, append(b, '\n'), 0o644)
}

// steward times a cold `steward-worker --dev` on a new database until it
// prints "worker ready", then until `steward plan apply` succeeds.
func steward(ctx context.Context, o options) (sample, error) {
	dir, err := os.MkdirTemp("", "steward-bench-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "data")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return sample{}, err
	}
	plans := filepath.Join(dir, "plans.yaml")
	err = os.WriteFile(plans, []byte(fmt.Sprintf(`plans:
  - id: bench
    kind: backup
    schedule: {every: 1h}
    backup: {source: %s, repository: %s, password_env: BENCH_PASSWORD}
`, src, filepath.Join(dir, "repo"))), 0o644)
	if err != nil {
		return sample{}, err
	}
	ports, err := proc.FreePorts(2)
	if err != nil {
		return sample{}, err
	}
	port := ports[0]
	start := time.Now()
	cmd := exec.CommandContext(ctx, o.worker, "--dev", "--dev-db", filepath.Join(dir, "s.db"),
		"--dev-port", fmt.Sprint(port), "--dev-ui-port", fmt.Sprint(ports[1]), "--metrics-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "BENCH_PASSWORD=x")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	defer proc.Stop(cmd)
	if err := proc.WaitLine(stdout, "worker ready", time.Minute); err != nil {
		return sample{}, fmt.Errorf("steward-worker: %w", err)
	}
	ready := time.Since(start)
	apply := exec.CommandContext(ctx, o.steward, "--address", fmt.Sprintf("127.0.0.1:%d", port), "plan", "apply", "-f", plans)
	if out, err := apply.CombinedOutput(); err != nil {
		return sample{}, fmt.Errorf("steward plan apply: %v: %s", err, out)
	}
	return sample{Ready: ready, FirstPlan: time.Since(start)}, nil
}

// peer times a cold `temporal server start-dev` on a new database file until
// `temporal operator namespace describe default` answers.
func peer(ctx context.Context, o options) (sample, error) {
	dir, err := os.MkdirTemp("", "temporal-bench-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	ports, err := proc.FreePorts(2)
	if err != nil {
		return sample{}, err
	}
	port := ports[0]
	start := time.Now()
	cmd := exec.CommandContext(ctx, o.temporal, "server", "start-dev", "--db-filename", filepath.Join(dir, "t.db"),
		"--ip", "127.0.0.1", "--port", fmt.Sprint(port), "--ui-port", fmt.Sprint(ports[1]), "--log-level", "error")
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	defer proc.Stop(cmd)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c := exec.CommandContext(ctx, o.temporal, "operator", "namespace", "describe", "--address", addr, "-n", "default")
		if c.Run() == nil {
			return sample{Ready: time.Since(start)}, nil
		}
	}
	return sample{}, errors.New("temporal server start-dev did not answer within 1m")
}

func median(ss []sample, f func(sample) time.Duration) time.Duration {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = f(s)
	}
	slices.Sort(ds)
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)/2].Round(time.Millisecond)
}
