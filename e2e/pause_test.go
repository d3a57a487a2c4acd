package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/workflows/api"
)

// Pause leases end to end: stacked leases across kill -9, mode all
// cancelling a backup, group pause and unpause through one server-side
// batch operation, a burst of signals across continue-as-new, and bad
// input to the group forms of the CLI.

// TestStackedLeasesHoldAcrossKillBetweenExpiries: two leases of 40 s and
// 80 s; the worker and its server are killed with kill -9 and restarted
// between the two expiries. The plan stays paused until the later expiry,
// runs the first slot after it, and its pause history shows both leases
// expired, each at its own expiry.
func TestStackedLeasesHoldAcrossKillBetweenExpiries(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("stacked", "10s", src, repo, "STEWARD_E2E_PASSWORD")))
	c := s.client()
	waitFor(t, 60*time.Second, "a first successful run", func() bool {
		return s.status(c, "stacked").Counters.Succeeded >= 1
	})

	s.mustSteward("pause", "stacked", "--for", "40s", "--id", "short", "--reason", "disk swap", "--by", "alice")
	out := s.mustSteward("pause", "stacked", "--for", "80s", "--id", "long", "--reason", "raid rebuild", "--by", "bob")
	if !strings.Contains(out, "(2 leases)") {
		t.Errorf("pause output should tell of both leases: %s", out)
	}
	st := s.status(c, "stacked")
	short, long := lease(t, st, "short"), lease(t, st, "long")
	if st.Pause.Until == nil || !st.Pause.Until.Equal(*long.Until) {
		t.Fatalf("paused until %v, want the later expiry %s", st.Pause.Until, long.Until)
	}
	pausedSince := short.Since
	// A run may have been in flight when the pause came; new-runs lets it end.
	waitFor(t, 30*time.Second, "the run in flight to finish", func() bool {
		st = s.status(c, "stacked")
		return st.LastRun == nil || st.LastRun.Outcome != api.OutcomeRunning
	})
	runsAtPause := st.Counters.Runs

	// Kill while both leases are active; stay down past the first expiry.
	s.kill9()
	for time.Now().Before(short.Until.Add(time.Second)) {
		time.Sleep(100 * time.Millisecond)
	}
	s.start()
	c = s.client()
	st = s.status(c, "stacked")
	if time.Now().After(*long.Until) {
		t.Fatalf("the restart took until after the second expiry (%s); the machine is too slow for this test", long.Until)
	}
	if st.State != api.StatePaused || len(st.Pause.Leases) != 1 || st.Pause.Leases[0].ID != "long" ||
		st.Pause.Until == nil || !st.Pause.Until.Equal(*long.Until) {
		t.Fatalf("after restart past the first expiry: state %s, pause %+v; want paused by lease long until %s", st.State, st.Pause, long.Until)
	}
	if h := st.PauseHistory; len(h) != 1 || h[0].ID != "short" || h[0].EndedBy != "expired" || !h[0].Ended.Equal(*short.Until) {
		t.Fatalf("pause history after restart: %+v; want lease short expired at %s", h, short.Until)
	}
	if !strings.Contains(st.Details, "by bob: raid rebuild") {
		t.Errorf("current details after restart: %q", st.Details)
	}

	// No run until the later expiry.
	for time.Until(*long.Until) > time.Second {
		if st = s.status(c, "stacked"); st.Counters.Runs != runsAtPause {
			t.Fatalf("a run started while lease long was active: %+v (paused until %s)", st.LastRun, long.Until)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Right after it, the first slot at or after the expiry runs.
	waitFor(t, 60*time.Second, "a successful run after the second expiry", func() bool {
		st = s.status(c, "stacked")
		return st.LastRun != nil && st.LastRun.Outcome == api.OutcomeSucceeded && !st.LastRun.Started.Before(*long.Until)
	})
	var first *api.RunRecord
	for i, r := range st.RecentRuns {
		if r.Started.After(pausedSince) && r.Started.Before(*long.Until) {
			t.Fatalf("run %s started during the pause (%s to %s)", r.ID, pausedSince, long.Until)
		}
		if first == nil && !r.Started.Before(*long.Until) {
			first = &st.RecentRuns[i]
		}
	}
	if first == nil || first.Nominal.Before(*long.Until) || !first.Nominal.Before(long.Until.Add(10*time.Second)) {
		t.Fatalf("first run after the pause: %+v; want the first 10s slot at or after %s", first, long.Until)
	}
	h := st.PauseHistory
	if len(h) != 2 || h[1].ID != "long" || h[1].EndedBy != "expired" || !h[1].Ended.Equal(*long.Until) ||
		h[0].ID != "short" || !h[0].Ended.Equal(*short.Until) {
		t.Fatalf("pause history: %+v; want short expired at %s, then long at %s", h, short.Until, long.Until)
	}
	if h[1].By != "bob" || h[1].Reason != "raid rebuild" || h[0].By != "alice" {
		t.Errorf("pause history lost who and why: %+v", h)
	}
}

// TestPauseModeAllCancelsRunningBackup: a pause with mode all cancels the
// backup in flight; the run is recorded as cancelled, the repository still
// verifies in full, and a later run succeeds.
func TestPauseModeAllCancelsRunningBackup(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := filepath.Join(s.dir, "big"), filepath.Join(s.dir, "repo")
	// 192 MiB of random data in many files is real content to verify;
	// kopia takes it in about a second, so sparse files of zeros (no disk
	// space, but every byte is read and hashed) keep the first run busy
	// long enough to be caught in flight.
	writeRandomFiles(t, src, 384, 512<<10)
	sparse := writeSparseFiles(t, filepath.Join(src, "sparse"), 2, 2<<30)
	s.mustSteward("plan", "apply", "-f", s.writePlans(hourlyPlansYAML([]string{"big"}, src, repo)))
	c := s.client()

	s.mustSteward("trigger", "big", "--reason", "first backup")
	var st api.Status
	waitFor(t, 60*time.Second, "the backup to be running and writing to the repository", func() bool {
		st = s.status(c, "big")
		if st.LastRun != nil && st.LastRun.Outcome != api.OutcomeRunning {
			t.Fatalf("the first run ended (%s) before it could be paused: make the source bigger", st.LastRun.Outcome)
		}
		packs, _ := filepath.Glob(filepath.Join(repo, "p*", "*", "*.f"))
		return st.State == api.StateRunning && len(packs) > 0
	})
	running := st.LastRun.ID

	out := s.mustSteward("pause", "big", "--mode", "all", "--for", "10m", "--reason", "stop now", "--by", "e2e")
	if !strings.Contains(out, "paused until") {
		t.Fatalf("pause output: %s", out)
	}
	waitFor(t, 60*time.Second, "the run to be recorded as cancelled", func() bool {
		st = s.status(c, "big")
		return st.LastRun != nil && st.LastRun.ID == running && st.LastRun.Outcome != api.OutcomeRunning
	})
	if st.LastRun.Outcome != api.OutcomeCancelled || st.Counters.Cancelled != 1 || st.State != api.StatePaused {
		t.Fatalf("after pause with mode all: state %s, last run %+v, counters %+v", st.State, st.LastRun, st.Counters)
	}
	// "cancelled" is recorded only once the snapshot has stopped: no
	// snapshot of the cancelled run exists, then or later.
	if _, found, err := openRepo(t, repo).FindByTag(context.Background(), "run", running); err != nil || found {
		t.Fatalf("a snapshot of the cancelled run %s exists (%v, %v)", running, found, err)
	}
	// Spare the next run the sparse files.
	for _, f := range sparse {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}

	s.mustSteward("unpause", "big")
	s.mustSteward("trigger", "big", "--reason", "after the cancelled one")
	waitFor(t, 120*time.Second, "a later run to succeed", func() bool {
		st = s.status(c, "big")
		return st.Counters.Succeeded == 1 && st.LastRun.Outcome == api.OutcomeSucceeded
	})
	if st.LastRun.ID == running || st.LastRun.SnapshotID == "" {
		t.Fatalf("last run after the cancelled one: %+v", st.LastRun)
	}
	if l, err := tryLedger(c, "big"); err != nil || !ledgerHas(l, running, api.LedgerCancelled, "pause") {
		t.Fatalf("the ledger does not say the pause cancelled run %s: %+v (%v)", running, l, err)
	}
	r := openRepo(t, repo)
	if _, err := r.Verify(context.Background(), 100); err != nil {
		t.Fatalf("the repository does not verify after a cancelled backup: %v", err)
	}
	snaps, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(snaps, func(i snapshot.Info) bool { return i.ID == st.LastRun.SnapshotID }) {
		t.Fatalf("snapshot %s of the later run is not in the repository: %+v", st.LastRun.SnapshotID, snaps)
	}
	target := filepath.Join(s.dir, "restored")
	restore(t, repo, st.LastRun.SnapshotID, target)
	assertSameTree(t, src, target, func(string) bool { return false })
}

// TestGroupPauseOf50PlansSurvivesKill: `steward pause --all` pauses 50
// plans through one batch operation, `plan ls` says who paused them and
// why, the leases survive kill -9 of the server with the same expiry, and
// `steward unpause --all` resumes every plan.
func TestGroupPauseOf50PlansSurvivesKill(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	var ids []string
	for i := range 50 {
		ids = append(ids, fmt.Sprintf("fleet-%02d", i))
	}
	s.mustSteward("plan", "apply", "-f", s.writePlans(hourlyPlansYAML(ids, src, repo)))
	c := s.client()
	waitListed(t, c, len(ids))

	until := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
	out := s.mustSteward("pause", "--all", "--until", until.Format(time.RFC3339), "--id", "migration",
		"--reason", "storage migration", "--by", "ops")
	if !strings.Contains(out, "paused 50 of 50 plans (lease migration)") ||
		tableRows(out, "fleet-", "paused", until.Format(time.RFC3339), "ops") != 50 {
		t.Fatalf("pause --all output:\n%s", out)
	}
	checkAll := func(when string, ok func(api.Status) bool) {
		t.Helper()
		for _, r := range control.Statuses(context.Background(), c, ids) {
			if r.Err != nil || !ok(r.Status) {
				t.Fatalf("%s: plan %s: %v, state %s, pause %+v", when, r.Status.Plan, r.Err, r.Status.State, r.Status.Pause)
			}
		}
	}
	pausedByMigration := func(st api.Status) bool {
		l := control.HoldingLease(st, "migration")
		return st.State == api.StatePaused && len(st.Pause.Leases) == 1 && l != nil && l.ID == "migration" &&
			l.Until != nil && l.Until.Equal(until) && l.By == "ops" && l.Reason == "storage migration"
	}
	checkAll("after pause --all", pausedByMigration)

	s.kill9()
	s.start()
	c = s.client()
	checkAll("after kill -9 and restart", pausedByMigration)

	// plan ls says who paused what until when, for people and scripts.
	var ls string
	waitFor(t, 30*time.Second, "plan ls to show who paused every plan, and why", func() bool {
		ls = s.mustSteward("plan", "ls")
		return tableRows(ls, "fleet-", "paused", "ops", "storage migration") == 50
	})
	if !strings.Contains(ls, "BY") || !strings.Contains(ls, "REASON") {
		t.Fatalf("plan ls has no BY and REASON columns:\n%s", ls)
	}
	var listed []control.Summary
	if err := json.Unmarshal([]byte(s.mustSteward("plan", "ls", "--output", "json")), &listed); err != nil {
		t.Fatal(err)
	}
	for _, p := range listed {
		if p.PausedBy == nil || *p.PausedBy != "ops" || p.PauseReason == nil || *p.PauseReason != "storage migration" ||
			len(p.Leases) != 1 || p.PausedUntil == nil || !p.PausedUntil.Equal(until) || p.Kind != "backup" {
			t.Fatalf("plan ls --output json: %+v", p)
		}
	}

	out = s.mustSteward("unpause", "--all", "--by", "ops")
	if !strings.Contains(out, "unpaused 50 of 50 plans") {
		t.Fatalf("unpause --all output:\n%s", out)
	}
	checkAll("after unpause --all", func(st api.Status) bool {
		h := st.PauseHistory
		return st.State == api.StateIdle && !st.Pause.Paused && len(h) == 1 && h[0].ID == "migration" &&
			h[0].EndedBy == "unpaused" && h[0].Actor == "ops"
	})
}

// TestSignalBurstIsAccountedFor sends 2,000 pause and unpause signals to
// one plan as fast as the server acknowledges them. Each pause has its own
// lease ID and is followed by the unpause of that ID, with a few invalid
// pauses among them, and a last pause with a known ID. Every acknowledged
// signal is in the plan's histories, the plan continued-as-new on the way
// (long before the server's limit of 10,000 signals per run), and its state
// accounts for every signal: a lost pause would have made its unpause a
// rejection, a lost unpause would have left its lease.
func TestSignalBurstIsAccountedFor(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	s.mustSteward("plan", "apply", "-f", s.writePlans(hourlyPlansYAML([]string{"burst"}, src, repo)))
	c := s.client()
	const wid = "steward/plan/burst"
	firstRun := describe(t, c, wid).GetWorkflowExecutionInfo().GetExecution().GetRunId()

	const total, bad = 2000, 9
	pairs := (total - bad - 1) / 2
	var sent []any
	for i := range pairs {
		if i%110 == 55 && len(sent) < 2*i+bad { // 9 invalid pauses, spread out
			sent = append(sent, api.PauseSignal{For: "-1h", ID: fmt.Sprintf("bad%04d", i)})
		}
		id := fmt.Sprintf("b%04d", i)
		sent = append(sent,
			api.PauseSignal{For: "1h", ID: id, By: "burst", Reason: "burst"},
			api.UnpauseSignal{ID: id, By: "burst"})
	}
	sent = append(sent, api.PauseSignal{For: "2h", ID: "final", By: "burst", Reason: "the last word"})
	if len(sent) != total {
		t.Fatalf("built %d signals, want %d", len(sent), total)
	}
	start := time.Now()
	acked := 0
	for i, sig := range sent {
		name := api.SignalPause
		if _, ok := sig.(api.UnpauseSignal); ok {
			name = api.SignalUnpause
		}
		if err := c.SignalWorkflow(context.Background(), wid, "", name, sig); err != nil {
			t.Fatalf("signal %d of %d (%s): %v", i+1, total, name, err)
		}
		acked++
	}
	t.Logf("%d signals acknowledged in %v", acked, time.Since(start))

	var st api.Status
	waitFor(t, 120*time.Second, "the last pause to show", func() bool {
		st = s.status(c, "burst")
		return control.HoldingLease(st, "final") != nil && control.HoldingLease(st, "final").ID == "final"
	})
	t.Logf("applied %v after the first signal", time.Since(start))

	// The final state is the last signal's.
	if st.State != api.StatePaused || len(st.Pause.Leases) != 1 || st.Pause.Leases[0].Reason != "the last word" {
		t.Fatalf("final state %s, leases %+v; want only lease final", st.State, st.Pause.Leases)
	}
	// Every signal is accounted for: the invalid ones were rejected, every
	// valid pause was ended by its unpause (none rejected, no lease left),
	// and the bounded pause history ends with the last pairs, in order.
	if st.Counters.RejectedSignals != bad || st.LastRejection == nil || !strings.Contains(*st.LastRejection, "must be positive") {
		t.Fatalf("rejected %d signals (last: %v), want exactly the %d invalid ones", st.Counters.RejectedSignals, st.LastRejection, bad)
	}
	h := st.PauseHistory
	if len(h) == 0 {
		t.Fatal("empty pause history")
	}
	for i, r := range h {
		want := fmt.Sprintf("b%04d", pairs-len(h)+i)
		if r.ID != want || r.EndedBy != "unpaused" || r.Actor != "burst" {
			t.Fatalf("pause_history[%d] = %s %s by %q, want %s unpaused by burst (history %d long)", i, r.ID, r.EndedBy, r.Actor, want, len(h))
		}
	}
	t.Logf("accounted: %d pauses ended by their unpause (last %d in pause_history) + 1 active lease + %d rejected = %d signals",
		pairs, len(h), bad, 2*pairs+1+bad)

	// The server has every signal, across the runs of the chain, and the
	// plan continued as new on the way.
	runs, signalled, events := chain(t, c, wid, firstRun)
	if signalled != acked {
		t.Fatalf("histories hold %d signals, %d were acknowledged", signalled, acked)
	}
	if len(runs) < 2 {
		t.Fatalf("the plan did not continue-as-new during %d signals (runs: %v)", total, runs)
	}
	t.Logf("%d signals over %d runs of %v events", signalled, len(runs), events)
}

// TestGroupPauseBadInput: bad group pauses and unpauses through the CLI get
// clear errors, rejections are reported plan by plan, and nothing changes.
func TestGroupPauseBadInput(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	s.mustSteward("plan", "apply", "-f", s.writePlans(hourlyPlansYAML([]string{"one", "two"}, src, repo)))
	c := s.client()
	waitListed(t, c, 2)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"pause", "one", "--all"}, []string{"a plan ID (one) and --all are exclusive"}},
		{[]string{"unpause", "--selector", `StewardKind="backup"`, "two"}, []string{"a plan ID (two) and --selector are exclusive"}},
		{[]string{"pause", "--all", "--selector", `StewardKind="backup"`}, []string{"--all and --selector are exclusive"}},
		{[]string{"pause", "--selector", `StewardKind=(`}, []string{"--selector 'StewardKind=('", "the server rejects the query", "malformed"}},
		{[]string{"pause", "--selector", `NoSuchAttribute="x"`}, []string{"the server rejects the query", "NoSuchAttribute"}},
		{[]string{"pause", "--selector", `StewardKind="preheat"`}, []string{"no running plan matches; nothing was signalled"}},
		{[]string{"pause", "--all", "--for", "-1h"}, []string{
			"2 of 2 plans rejected the pause signal",
			`one: rejected: for "-1h": must be positive`,
			`two: rejected: for "-1h": must be positive`}},
		{[]string{"pause", "--selector", `StewardPlan="two"`, "--mode", "everything"}, []string{
			"1 of 1 plans rejected the pause signal", `two: rejected: mode "everything": want new-runs or all`}},
		{[]string{"unpause", "--all", "--id", "nope"}, []string{
			"2 of 2 plans rejected the unpause signal", `one: rejected: id "nope": no such active lease`}},
	} {
		out, err := s.steward(tc.args...)
		if err == nil {
			t.Errorf("steward %s succeeded:\n%s", strings.Join(tc.args, " "), out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("steward %s:\n%s\nwant it to contain %q", strings.Join(tc.args, " "), clipOut(out), w)
			}
		}
	}
	want := map[string]int{"one": 2, "two": 3}
	for id, rejected := range want {
		st := s.status(c, id)
		if st.Pause.Paused || len(st.PauseHistory) != 0 || st.Counters.RejectedSignals != rejected {
			t.Errorf("plan %s after bad input: pause %+v, history %+v, rejected %d (want %d)",
				id, st.Pause, st.PauseHistory, st.Counters.RejectedSignals, rejected)
		}
	}
}

// tableRows counts the lines of a table that start with prefix and hold
// every one of cells.
func tableRows(table, prefix string, cells ...string) int {
	n := 0
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		ok := true
		for _, c := range cells {
			ok = ok && (strings.Contains(line, "  "+c+"  ") || strings.HasSuffix(line, "  "+c))
		}
		if ok {
			n++
		}
	}
	return n
}

// hourlyPlansYAML is a plan file of backup plans that run every hour,
// counted from their creation, so none runs by itself during a test.
func hourlyPlansYAML(ids []string, source, repo string) string {
	var b strings.Builder
	b.WriteString("plans:\n")
	for _, id := range ids {
		fmt.Fprintf(&b, `  - id: %s
    kind: backup
    schedule: {every: 1h, anchor: last-run}
    retry:
      activity: {initial: 1s, max_interval: 5s, max_attempts: 3}
    backup:
      source: %s
      repository: %s
      password_env: STEWARD_E2E_PASSWORD
`, id, source, repo)
	}
	return b.String()
}

// waitListed waits until visibility lists n running plans: group
// operations select plans from it.
func waitListed(t *testing.T, c client.Client, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d plans to be listed", n), func() bool {
		plans, err := control.List(context.Background(), c)
		return err == nil && len(plans) == n
	})
}

func lease(t *testing.T, st api.Status, id string) api.Lease {
	t.Helper()
	for _, l := range st.Pause.Leases {
		if l.ID == id {
			if l.Until == nil {
				t.Fatalf("lease %s has no expiry", id)
			}
			return l
		}
	}
	t.Fatalf("no lease %s in %+v", id, st.Pause.Leases)
	return api.Lease{}
}

// writeRandomFiles writes n files of size random bytes under dir, in a few
// subdirectories.
func writeRandomFiles(t *testing.T, dir string, n, size int) {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{42})
	buf := make([]byte, size)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%16), fmt.Sprintf("f%04d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = rng.Read(buf)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeSparseFiles makes n sparse files of size bytes (all zeros, taking no
// disk space) under dir and returns their paths.
func writeSparseFiles(t *testing.T, dir string, n int, size int64) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("zeros%d", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func describe(t *testing.T, c client.Client, id string) *workflowservice.DescribeWorkflowExecutionResponse {
	t.Helper()
	d, err := c.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return d
}

// chain follows workflow id's runs from run first through each
// continue-as-new to the current one, and counts the signals their
// histories hold and the events of each.
func chain(t *testing.T, c client.Client, id, first string) (runs []string, signals int, events []int) {
	t.Helper()
	for run := first; run != ""; {
		runs = append(runs, run)
		events = append(events, 0)
		next := ""
		iter := c.GetWorkflowHistory(context.Background(), id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			e, err := iter.Next()
			if err != nil {
				t.Fatalf("history of %s run %s: %v", id, run, err)
			}
			events[len(events)-1]++
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				signals++
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
				next = e.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
			}
		}
		run = next
	}
	return runs, signals, events
}

// ledgerHas reports whether the ledger entry of runID has outcome and a
// detail containing detail.
func ledgerHas(l []api.LedgerEntry, runID, outcome, detail string) bool {
	for _, e := range l {
		if e.RunID == runID && e.Outcome == outcome && strings.Contains(e.Detail, detail) {
			return true
		}
	}
	return false
}
