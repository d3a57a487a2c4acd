package e2e

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/workflows/api"
)

const e2ePassword = "correct horse battery staple"

// TestBackupPlanSurvivesKillDuringPause is the walking skeleton end to end:
// a plan running every 10 s makes real kopia snapshots; a one-minute pause
// holds through kill -9 of the server and worker and a restart on the same
// database file; runs resume by themselves at the expiry; the latest
// snapshot restores to byte-identical files.
func TestBackupPlanSurvivesKillDuringPause(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	out := s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("skel", "10s", src, repo, "STEWARD_E2E_PASSWORD")))
	if !strings.Contains(out, "created skel") {
		t.Fatalf("apply output: %s", out)
	}
	c := s.client()

	// A first run succeeds and leaves a snapshot.
	var st api.Status
	waitFor(t, 60*time.Second, "a successful run", func() bool {
		st = s.status(c, "skel")
		return st.Counters.Succeeded >= 1
	})
	if st.LastSuccess == nil || st.LastRun == nil || st.LastRun.SnapshotID == "" {
		t.Fatalf("status after first run: %+v", st)
	}
	if n := len(listSnapshots(t, repo)); n < 1 {
		t.Fatalf("no snapshot in the repository after a successful run")
	}

	// Pause for one minute through the steward CLI.
	pauseOut := s.mustSteward("pause", "skel", "--for", "1m", "--reason", "maintenance", "--by", "e2e")
	if !strings.Contains(pauseOut, "paused until") || !strings.Contains(pauseOut, "by e2e: maintenance") {
		t.Fatalf("pause output: %s", pauseOut)
	}
	paused := s.status(c, "skel")
	if !paused.Pause.Paused || paused.Pause.Until == nil {
		t.Fatalf("status after pause: %+v", paused.Pause)
	}
	until := *paused.Pause.Until
	// A run may have been in flight when the pause came (mode new-runs lets
	// it finish): wait until nothing runs.
	waitFor(t, 30*time.Second, "the run in flight to finish", func() bool {
		paused = s.status(c, "skel")
		return paused.LastRun == nil || paused.LastRun.Outcome != api.OutcomeRunning
	})
	runsAtPause := paused.Counters.Runs

	// Kill the server and the worker without warning; restart both on the
	// same database file.
	s.kill9()
	s.start()
	c = s.client()
	st = s.status(c, "skel")
	if !st.Pause.Paused || st.Pause.Until == nil || !st.Pause.Until.Equal(until) || st.State != api.StatePaused {
		t.Fatalf("after restart: state %s pause %+v, want paused until %s", st.State, st.Pause, until)
	}
	if l := st.Pause.Leases; len(l) != 1 || l[0].Reason != "maintenance" || l[0].By != "e2e" {
		t.Fatalf("lease after restart: %+v", l)
	}

	// No run happens during the pause.
	for time.Until(until) > 2*time.Second {
		st = s.status(c, "skel")
		if st.Counters.Runs != runsAtPause {
			t.Fatalf("a run started during the pause: %+v (paused until %s)", st.LastRun, until)
		}
		time.Sleep(time.Second)
	}

	// After the expiry, runs resume by themselves.
	waitFor(t, 60*time.Second, "a successful run after the pause expired", func() bool {
		st = s.status(c, "skel")
		return !st.Pause.Paused && st.LastRun != nil && st.LastRun.Outcome == api.OutcomeSucceeded &&
			!st.LastRun.Started.Before(until)
	})
	if h := st.PauseHistory; len(h) != 1 || h[0].EndedBy != "expired" || !h[0].Ended.Equal(until) {
		t.Fatalf("pause history: %+v", h)
	}
	// The ledger explains every fire time of the pause, and the preview
	// lists the next ones.
	ledger := s.mustSteward("ledger", "skel")
	if n := strings.Count(ledger, "skipped-paused"); n < 4 {
		t.Fatalf("the ledger shows %d fire times skipped during the minute-long pause:\n%s", n, ledger)
	}
	if preview := s.mustSteward("plan", "preview", "skel", "-n", "3"); strings.Count(preview, "\n") != 4 {
		t.Fatalf("plan preview -n 3:\n%s", preview)
	}
	for _, r := range st.RecentRuns {
		if r.Started.After(paused.Pause.Leases[0].Since) && r.Started.Before(until) {
			t.Fatalf("run %s started during the pause", r.ID)
		}
	}

	// The latest snapshot restores to byte-identical files, without the
	// excluded ones.
	snaps := listSnapshots(t, repo)
	latest := snaps[len(snaps)-1]
	if latest.Tags["plan"] != "skel" || !strings.HasPrefix(latest.Tags["run"], "steward/plan/skel/run/") {
		t.Fatalf("latest snapshot tags: %v", latest.Tags)
	}
	if latest.ID != st.LastRun.SnapshotID {
		t.Fatalf("latest snapshot %s, but the last run reports %s", latest.ID, st.LastRun.SnapshotID)
	}
	target := filepath.Join(s.dir, "restored")
	restore(t, repo, latest.ID, target)
	assertSameTree(t, src, target, func(rel string) bool {
		return strings.HasSuffix(rel, ".tmp") || strings.Contains("/"+rel, "/.cache/")
	})
	recordHistory(t, c, "steward/plan/skel", "plan-pause-kill-expire")
	recordHistory(t, c, st.LastRun.ID, "backup-run")
}

func openRepo(t *testing.T, repo string) *snapshot.Repo {
	t.Helper()
	ctx := context.Background()
	r, err := snapshot.Open(ctx, snapshot.Options{Repository: repo, Password: e2ePassword, ConfigDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open repository: %v", err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	return r
}

// listSnapshots returns the repository's snapshots, oldest first.
func listSnapshots(t *testing.T, repo string) []snapshot.Info {
	t.Helper()
	snaps, err := openRepo(t, repo).List(context.Background())
	if err != nil {
		t.Fatalf("list snapshots: %v", err)
	}
	return snaps
}

func restore(t *testing.T, repo, id, target string) {
	t.Helper()
	if _, err := openRepo(t, repo).Restore(context.Background(), snapshot.RestoreRequest{ID: id, Target: target}, nil); err != nil {
		t.Fatalf("restore %s: %v", id, err)
	}
}

// assertSameTree checks that got holds exactly want's regular files, byte
// for byte, leaving out those excluded says were not backed up.
func assertSameTree(t *testing.T, want, got string, excluded func(rel string) bool) {
	t.Helper()
	files := func(root string) map[string][]byte {
		m := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if root == want && excluded(filepath.ToSlash(rel)) {
				return nil
			}
			b, err := os.ReadFile(p)
			m[rel] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	w, g := files(want), files(got)
	if len(w) != len(g) {
		t.Fatalf("restored %d files, want %d: %v", len(g), len(w), keys(g))
	}
	for name, b := range w {
		if !bytes.Equal(g[name], b) {
			t.Fatalf("restored %s differs from the source", name)
		}
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
