package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/workflows/api"
)

// external is a `temporal server start-dev` on a SQLite file: a Temporal
// server that steward's worker connects to from outside, so the server and
// the worker can be stopped independently.
type external struct {
	t    *testing.T
	db   string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func (e *external) addr() string { return fmt.Sprintf("127.0.0.1:%d", e.port) }

func (e *external) start() {
	e.t.Helper()
	e.cmd = exec.Command(temporalBin, "server", "start-dev", "--db-filename", e.db, "--ip", "127.0.0.1",
		"--port", fmt.Sprint(e.port), "--headless", "--log-level", "error")
	e.cmd.Stdout, e.cmd.Stderr = os.Stderr, os.Stderr
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.done = make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(e.done) }()
	waitFor(e.t, time.Minute, "temporal server start-dev to answer", func() bool {
		return exec.Command(temporalBin, "operator", "namespace", "describe", "--address", e.addr(), "-n", "default").Run() == nil
	})
}

func (e *external) kill9() {
	if e.cmd != nil {
		_ = e.cmd.Process.Signal(syscall.SIGKILL)
		<-e.done
		e.cmd = nil
	}
}

// TestCatchUpAfterWorkerAndServerDowntime stops first the worker, then the
// server, each for more than three intervals of a 10 s plan: on return the
// ledger coalesces the missed fire times into one late run (catchup:
// latest), and the next fire time stays on the plan's grid instead of
// counting from the restart.
func TestCatchUpAfterWorkerAndServerDowntime(t *testing.T) {
	if temporalBin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("the temporal CLI is not installed: go install github.com/temporalio/cli/cmd/temporal@v1.5.1")
		}
		t.Skip("the temporal CLI is not installed")
	}
	dir := t.TempDir()
	srv := &external{t: t, db: filepath.Join(dir, "temporal.db"), port: freePort(t)}
	srv.start()
	t.Cleanup(srv.kill9)

	// A stack whose worker connects to the external server.
	s := newStack(t, "STEWARD_E2E_PASSWORD=secret")
	s.port = srv.port
	out := s.mustSteward("setup")
	if !strings.Contains(out, "added") || !strings.Contains(out, "StewardPlan") {
		t.Fatalf("steward setup: %s", out)
	}
	if out := s.mustSteward("setup"); !strings.Contains(out, "already has") {
		t.Fatalf("second steward setup: %s", out)
	}
	s.startExternal()
	src, repo := newBackupDirs(t, s)
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("grid", "10s", src, repo, "STEWARD_E2E_PASSWORD")))
	c := s.client()
	waitFor(t, time.Minute, "a first successful run", func() bool { return s.status(c, "grid").Counters.Succeeded >= 1 })

	downtime := func(what string, stop, start func()) {
		t.Helper()
		before := s.status(c, "grid")
		stop()
		down := time.Now()
		time.Sleep(35 * time.Second) // the outage itself: three intervals and a half
		start()
		c = s.client()
		var l []api.LedgerEntry
		waitFor(t, time.Minute, "a run after the "+what+" came back", func() bool {
			st, err := tryStatus(c, "grid")
			return err == nil && st.Counters.Runs > before.Counters.Runs && st.LastRun != nil &&
				st.LastRun.Outcome == api.OutcomeSucceeded
		})
		l, err := control.Ledger(context.Background(), c, "grid", 0)
		if err != nil {
			t.Fatal(err)
		}
		var coalesced []string
		var ran *api.LedgerEntry
		for i := range l {
			e := &l[i]
			if !e.Nominal.After(down) {
				continue
			}
			switch e.Outcome {
			case api.LedgerCoalesced:
				coalesced = append(coalesced, e.Nominal.Format(time.RFC3339))
			case api.LedgerSucceeded, api.LedgerStarted:
				if ran == nil {
					ran = e
				}
			case api.LedgerMissed:
				t.Fatalf("%s downtime: a fire time was missed although catchup is latest: %+v", what, e)
			}
		}
		if len(coalesced) < 2 || ran == nil {
			t.Fatalf("%s downtime: coalesced %v, run %+v; ledger:\n%s", what, coalesced, ran, ledgerText(l))
		}
		st := s.status(c, "grid")
		if st.NextRun == nil || st.NextRun.UnixNano()%int64(10*time.Second) != 0 {
			t.Fatalf("%s downtime: next run %v is off the plan's 10 s grid", what, st.NextRun)
		}
		recordHistory(t, c, "steward/plan/grid", "plan-catchup-after-"+strings.ReplaceAll(what, " ", "-"))
	}
	downtime("worker", s.kill9, func() { s.startExternal() })
	downtime("server", srv.kill9, srv.start)
}

func ledgerText(l []api.LedgerEntry) string {
	var b strings.Builder
	for _, e := range l {
		fmt.Fprintf(&b, "%s %s %s %s\n", e.Nominal.Format(time.RFC3339), e.Outcome, e.Late, e.Detail)
	}
	return b.String()
}

// startExternal runs the worker without --dev against s.port.
func (s *stack) startExternal() {
	s.t.Helper()
	s.startArgs([]string{"--address", s.addr(), "--host", "e2e"})
}
