package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/workflows/api"
)

// TestPreconditionWaitsThenRunsOnce is the seed scenario of issue 6: the
// plan's precondition needs a directory that is not there yet, so the run
// waits and re-checks; killing the worker meanwhile changes nothing but the
// timing; once the directory appears the run succeeds, with exactly one
// snapshot for its fire time.
func TestPreconditionWaitsThenRunsOnce(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	mnt := filepath.Join(s.dir, "mnt")
	plans := strings.Replace(backupPlanYAML("gated", "20s", src, repo, "STEWARD_E2E_PASSWORD"),
		"    backup:\n", fmt.Sprintf("    preconditions:\n      - path_exists: %s\n    backup:\n", mnt), 1)
	s.mustSteward("plan", "apply", "-f", s.writePlans(plans))
	c := s.client()

	waitFor(t, time.Minute, "the run to wait for its precondition", func() bool {
		l, err := tryLedger(c, "gated")
		return err == nil && len(l) > 0 && l[len(l)-1].Outcome == api.LedgerWaiting &&
			strings.Contains(l[len(l)-1].Detail, "no such file or directory")
	})
	st := s.status(c, "gated")
	if st.State != api.StateWaiting || st.Counters.Runs != 0 {
		t.Fatalf("while waiting: state %s counters %+v", st.State, st.Counters)
	}

	s.kill9()
	s.start()
	c = s.client()
	if st := s.status(c, "gated"); st.Counters.Runs != 0 || st.State != api.StateWaiting {
		t.Fatalf("after the restart: state %s counters %+v", st.State, st.Counters)
	}

	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the run to succeed once the directory exists", func() bool {
		st, err := tryStatus(c, "gated")
		return err == nil && st.Counters.Succeeded == 1
	})
	// The plan runs on every 20 s, so a later run may start meanwhile:
	// check that no fire time got more than one snapshot, and that the one
	// that waited got exactly one.
	first := s.status(c, "gated").RecentRuns[0]
	perRun := map[string]int{}
	for _, snap := range listSnapshots(t, repo) {
		perRun[snap.Tags["run"]]++
	}
	for run, n := range perRun {
		if n != 1 {
			t.Fatalf("run %s has %d snapshots", run, n)
		}
	}
	if perRun[first.ID] != 1 || first.Outcome != api.OutcomeSucceeded {
		t.Fatalf("the run that waited (%+v) has %d snapshots", first, perRun[first.ID])
	}
	l, err := tryLedger(c, "gated")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l {
		switch e.Outcome {
		case api.LedgerCoalesced, api.LedgerSucceeded, api.LedgerWaiting, api.LedgerStarted:
		default:
			t.Fatalf("unexpected ledger entry %+v; ledger:\n%s", e, ledgerText(l))
		}
	}
	recordHistory(t, c, "steward/plan/gated", "plan-precondition-wait")
}

// TestDiskFullFailsClearlyAndRecovers fills a small tmpfs holding the
// repository: the run fails at once with a non-retryable disk-full error,
// no snapshot is left, the repository still verifies, and once space is
// freed the next run succeeds.
func TestDiskFullFailsClearlyAndRecovers(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	repoFS := filepath.Join(s.dir, "small")
	if err := os.Mkdir(repoFS, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", repoFS).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount a tmpfs (CI runs as root): %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", repoFS).Run() })
	s.start()
	src := filepath.Join(s.dir, "data")
	writeRandomFiles(t, src, 16, 1<<20) // 16 MiB that does not compress
	repo := filepath.Join(repoFS, "repo")
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("full", "1h", src, repo, "STEWARD_E2E_PASSWORD")))
	c := s.client()

	s.mustSteward("trigger", "full")
	var st api.Status
	waitFor(t, 2*time.Minute, "the run to fail", func() bool {
		st = s.status(c, "full")
		return st.LastRun != nil && st.LastRun.Outcome == api.OutcomeFailed && st.Retry.NextAt != nil
	})
	if st.LastRun.Error == nil || !strings.Contains(strings.ToLower(*st.LastRun.Error), "no space") {
		t.Fatalf("last run error: %v", st.LastRun.Error)
	}
	if n := len(listSnapshots(t, repo)); n != 0 {
		t.Fatalf("%d snapshots after a disk-full run", n)
	}
	if _, err := openRepo(t, repo).Verify(context.Background(), 100); err != nil {
		t.Fatalf("the repository does not verify after running out of space: %v", err)
	}

	// Free space, run again.
	if out, err := exec.Command("mount", "-o", "remount,size=256m", repoFS).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v: %s", err, out)
	}
	s.mustSteward("trigger", "full", "--reason", "space freed")
	waitFor(t, 2*time.Minute, "a run to succeed after space was freed", func() bool {
		st = s.status(c, "full")
		return st.Counters.Succeeded == 1
	})
	if n := len(listSnapshots(t, repo)); n != 1 {
		t.Fatalf("%d snapshots after the successful run, want 1", n)
	}
}
