package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
	"github.com/steward-ops/steward/workflows/api"
	"go.temporal.io/api/workflowservice/v1"
)

// restoreOut is what steward restore -o json prints.
type restoreOut struct {
	ID     string         `json:"id"`
	Report *api.RunReport `json:"report"`
	Error  *string        `json:"error"`
}

// backedUpPlan applies backup plan id over a source tree with modes and
// symbolic links, takes one snapshot with trigger --wait, and returns the
// source and repository.
func backedUpPlan(t *testing.T, s *stack, id string) (src, repo string) {
	t.Helper()
	src, repo = newBackupDirs(t, s)
	if err := os.WriteFile(filepath.Join(src, "docs", "secret.key"), []byte("private\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"docs/link-to-b": "b.md", "dangling": "does/not/exist"} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "docs", "deep"), 0o700); err != nil {
		t.Fatal(err)
	}
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML(id, "24h", src, repo, "STEWARD_E2E_PASSWORD")))
	s.mustSteward("trigger", id, "--wait")
	return src, repo
}

// treeSums describes every entry under root: a file's sha256 and mode, a
// directory's mode, a symbolic link's target. Excluded paths of the
// source (excluded says which) are left out.
func treeSums(t *testing.T, root string, excluded func(rel string) bool) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if excluded != nil && excluded(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			m[rel] = "link " + target
			return err
		case fi.IsDir():
			m[rel] = fmt.Sprintf("dir %v", fi.Mode().Perm())
		default:
			b, err := os.ReadFile(p)
			sum := sha256.Sum256(b)
			m[rel] = fmt.Sprintf("file %v %s %d", fi.Mode().Perm(), hex.EncodeToString(sum[:]), fi.ModTime().Unix())
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// excludedByPlan says which source paths backupPlanYAML's excludes leave out.
func excludedByPlan(rel string) bool {
	return strings.HasSuffix(rel, ".tmp") || rel == ".cache" || strings.HasSuffix(rel, "/.cache")
}

func sameSums(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s is %q, want %q", what, k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s should not be there (%s)", what, k, got[k])
		}
	}
}

// TestRestoreWholeSnapshotAndOnePath: restore --wait of the newest snapshot
// gives a tree identical to the source (sha256 of every file, modes, times,
// symbolic links); --path restores one file, or a directory's contents; a
// non-empty target is refused unless --overwrite; and the bad inputs a user
// is likely to give get clear errors that name them, with nothing written.
func TestRestoreWholeSnapshotAndOnePath(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, _ := backedUpPlan(t, s, "home")
	want := treeSums(t, src, excludedByPlan)
	out := filepath.Join(s.dir, "out")

	whole := filepath.Join(out, "whole")
	msg := s.mustSteward("restore", "home", "--target", whole, "--wait")
	if !strings.Contains(msg, "restored snapshot ") || !strings.Contains(msg, "to "+whole+" on host e2e") {
		t.Fatalf("restore output:\n%s", msg)
	}
	sameSums(t, "whole snapshot", treeSums(t, whole, nil), want)

	var rep restoreOut
	js := s.mustSteward("restore", "home", "--target", filepath.Join(out, "json"), "--snapshot", "latest", "--wait", "-o", "json")
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, js)
	}
	if rep.Report == nil || rep.Error != nil || rep.Report.Kind != api.RunKindRestore || rep.Report.Files != 5 ||
		rep.Report.Restore == nil || rep.Report.Restore.Result.Symlinks != 2 || !strings.HasPrefix(rep.ID, "steward/restore/home/") {
		t.Fatalf("restore -o json:\n%s", js)
	}
	snapID := rep.Report.Restore.Snapshot.SnapshotID

	one := filepath.Join(out, "one")
	s.mustSteward("restore", "home", "--target", one, "--snapshot", snapID[:8], "--path", "docs/b.md", "--wait")
	sameSums(t, "--path of one file", treeSums(t, one, nil), map[string]string{"b.md": want["docs/b.md"]})

	sub := filepath.Join(out, "sub")
	s.mustSteward("restore", "home", "--target", sub, "--path", filepath.Join(src, "docs"), "--wait")
	wantSub := map[string]string{}
	for k, v := range want {
		if rest, ok := strings.CutPrefix(k, "docs/"); ok {
			wantSub[rest] = v
		}
	}
	sameSums(t, "--path of a directory, given as the source's absolute path", treeSums(t, sub, nil), wantSub)

	// A non-empty target is refused, and left as it was; --overwrite
	// restores into it.
	if err := os.WriteFile(filepath.Join(whole, "a.txt"), []byte("changed since"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeSums(t, whole, nil)
	msg, err := s.steward("restore", "home", "--target", whole, "--wait")
	if err == nil || !strings.Contains(msg, "is not empty") || !strings.Contains(msg, "--overwrite") {
		t.Fatalf("restore into a non-empty target: %v\n%s", err, msg)
	}
	sameSums(t, "refused target", treeSums(t, whole, nil), before)
	s.mustSteward("restore", "home", "--target", whole, "--overwrite", "--wait")
	sameSums(t, "--overwrite", treeSums(t, whole, nil), want)

	bad := filepath.Join(out, "bad")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--snapshot", "0123456789abcdef"}, "--snapshot 0123456789abcdef: no snapshot of plan home has this ID"},
		{[]string{"--at", "2001-01-01T00:00:00Z"}, "--at 2001-01-01T00:00:00Z: plan home has no snapshot taken at or before it; its first was taken"},
		{[]string{"--path", "docs/nope.md"}, `no path "docs/nope.md"`},
		{[]string{"--path", "../etc"}, "--path ../etc: must stay inside the snapshot"},
		{[]string{"--at", "yesterday"}, `--at "yesterday": want RFC 3339`},
		{[]string{"--snapshot", "latest", "--at", "2026-01-01T00:00:00Z"}, "--snapshot and --at: give one of them"},
	} {
		msg, err := s.steward(append([]string{"restore", "home", "--target", bad, "--wait"}, tc.args...)...)
		if err == nil || !strings.Contains(msg, tc.want) {
			t.Errorf("restore %v: %v\n%s\nwant %q", tc.args, err, msg, tc.want)
		}
	}
	if msg, err := s.steward("restore", "home", "--target", "relative/dir"); err == nil || !strings.Contains(msg, "--target relative/dir: want an absolute path") {
		t.Errorf("relative target: %v\n%s", err, msg)
	}
	if msg, err := s.steward("restore", "nope", "--target", bad); err == nil || !strings.Contains(msg, `no plan "nope"`) {
		t.Errorf("unknown plan: %v\n%s", err, msg)
	}
	if _, err := os.Lstat(bad); !os.IsNotExist(err) {
		t.Errorf("a refused restore created its target %s: %v", bad, err)
	}
}

// TestRestoreNeverWritesOutsideTheTarget: a crafted snapshot whose entries
// are named "../escape" or with an absolute path, and a target holding a
// symbolic link to a directory outside it, are refused; nothing appears or
// changes outside the target.
func TestRestoreNeverWritesOutsideTheTarget(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	_, repo := backedUpPlan(t, s, "home")
	real := listSnapshots(t, repo)[0].ID
	outside := filepath.Join(s.dir, "outside")
	writeTree(t, outside, map[string]string{"keep.txt": "untouched\n"})
	wantOutside := treeSums(t, outside, nil)
	opts := snapshot.Options{Repository: repo, Password: e2ePassword, ConfigDir: t.TempDir(), Hostname: "e2e"}

	for _, name := range []string{"../escape.txt", filepath.Join(outside, "absolute.txt")} {
		id := snapshottest.Craft(t, opts, map[string]string{"plan": "home"}, "fine.txt", name)
		target := filepath.Join(outside, "restore", "target")
		msg, err := s.steward("restore", "home", "--target", target, "--snapshot", id, "--wait")
		if err == nil || !strings.Contains(msg, "outside the restore target") || !strings.Contains(msg, name) {
			t.Errorf("restore of a snapshot with entry %q: %v\n%s", name, err, msg)
		}
		if _, err := os.Lstat(filepath.Join(outside, "restore", "escape.txt")); !os.IsNotExist(err) {
			t.Errorf("entry %q was written outside the target: %v", name, err)
		}
		if err := os.RemoveAll(filepath.Join(outside, "restore")); err != nil {
			t.Fatal(err)
		}
		sameSums(t, "outside after "+name, treeSums(t, outside, nil), wantOutside)
	}

	// docs in the target is a symbolic link out of it: restoring docs/b.md
	// through it is refused, even with --overwrite.
	target := filepath.Join(s.dir, "linked")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(target, "docs")); err != nil {
		t.Fatal(err)
	}
	msg, err := s.steward("restore", "home", "--target", target, "--snapshot", real, "--overwrite", "--wait")
	if err == nil || !strings.Contains(msg, `"docs" is a symbolic link in the target; refusing to restore through it`) {
		t.Errorf("restore through a symlinked directory: %v\n%s", err, msg)
	}
	sameSums(t, "outside after the symlinked target", treeSums(t, outside, nil), wantOutside)
}

// TestRestoreResumesAfterKill9: the worker and its server are killed with
// kill -9 in the middle of a restore; after a restart the restore finishes
// by itself, keeps what was already written, and the tree is identical to
// the source.
func TestRestoreResumesAfterKill9(t *testing.T) {
	t.Parallel() // waits a minute for the heartbeat timeout
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, _ := newBackupDirs(t, s)
	const files, size = 6000, 128 << 10
	for i := range files {
		p := filepath.Join(src, "bulk", fmt.Sprintf("%02d", i%30), fmt.Sprintf("f%04d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, randomBytes(size, uint64(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := filepath.Join(s.dir, "repo")
	s.mustSteward("plan", "apply", "-f", s.writePlans(backupPlanYAML("big", "24h", src, repo, "STEWARD_E2E_PASSWORD")))
	// While the backup runs, plan show says how far it is (once kopia's
	// estimate is in, of the whole source).
	s.mustSteward("trigger", "big")
	c := s.client()
	waitFor(t, 2*time.Minute, "plan show to show the backup's progress", func() bool {
		shown := s.mustSteward("plan", "show", "big")
		i := strings.Index(shown, "Run in flight: ")
		if i < 0 {
			return false
		}
		line := shown[i:]
		if strings.Contains(line, " of ~") && !strings.Contains(line, fmt.Sprintf("of ~%d files", files+3)) {
			t.Errorf("plan show: %s; want the estimate of %d files", line, files+3)
		}
		return strings.Contains(line, " files, ") && strings.Contains(line, " read, ")
	})
	waitFor(t, 5*time.Minute, "the backup to succeed", func() bool {
		st := s.status(c, "big")
		return st.LastRun != nil && st.LastRun.Outcome == api.OutcomeSucceeded
	})

	target := filepath.Join(s.dir, "target")
	var rep restoreOut
	if err := json.Unmarshal([]byte(s.mustSteward("restore", "big", "--target", target, "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "part of the restore to be written", func() bool { return countFiles(target) >= files/20 })
	s.kill9()
	written := countFiles(target)
	if written >= files {
		t.Fatalf("the restore had finished (%d files) before the kill; the test needs a slower restore", written)
	}
	s.start()
	c = s.client()
	var got api.RunReport
	if err := c.GetWorkflow(t.Context(), rep.ID, "").Get(t.Context(), &got); err != nil {
		t.Fatalf("restore %s after the restart: %v", rep.ID, err)
	}
	if got.Restore == nil || !got.Reused || got.Restore.Result.Kept == 0 {
		t.Errorf("report after the restart %+v; want a resumed restore that kept what was written", got)
	}
	sameSums(t, "resumed restore", treeSums(t, target, nil), treeSums(t, src, excludedByPlan))
}

// countFiles counts the regular files under root (0 when it is missing).
func countFiles(root string) int {
	n := 0
	_ = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// TestVerifyFindsDamageAndSetsVerifyFailed: snapshots verify reads back a
// healthy repository; after its data packs are damaged, it fails, the
// plan shows verify-failed (status, details, search attribute, ledger),
// and a bad --percent is refused before anything is sent.
func TestVerifyFindsDamageAndSetsVerifyFailed(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	yaml := strings.Replace(backupPlanYAML("home", "24h", src, repo, "STEWARD_E2E_PASSWORD"), "      exclude:", "      verify: {every: 168h, percent: 100}\n      exclude:", 1)
	s.mustSteward("plan", "apply", "-f", s.writePlans(yaml))
	s.mustSteward("trigger", "home", "--wait")

	if out := s.mustSteward("snapshots", "verify", "home"); !strings.Contains(out, "verified 1 snapshots, 3 files") {
		t.Fatalf("verify of a healthy repository:\n%s", out)
	}
	if msg, err := s.steward("snapshots", "verify", "home", "--percent", "150"); err == nil || !strings.Contains(msg, "--percent 150: must be 0 to 100") {
		t.Fatalf("--percent 150: %v\n%s", err, msg)
	}

	packs, err := filepath.Glob(filepath.Join(repo, "p*", "*", "*.f"))
	if err != nil || len(packs) == 0 {
		t.Fatalf("no packs in %s: %v", repo, err)
	}
	// Bit rot: every 16th byte of each data pack flipped. (Kopia pads
	// packs with random bytes, so a small pack's contents may sit in any
	// part of it.)
	for _, p := range packs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(b); i += 16 {
			b[i] ^= 0xff
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out verifyJSON
	msg, err := s.steward("snapshots", "verify", "home", "--percent", "100", "-o", "json")
	// Its JSON comes first; the error follows on stderr.
	if jerr := json.NewDecoder(strings.NewReader(msg)).Decode(&out); err == nil || jerr != nil || out.Error == nil || !strings.Contains(*out.Error, "problems") {
		t.Fatalf("verify of a damaged repository: %v\n%s", err, msg)
	}
	c := s.client()
	st := s.status(c, "home")
	if st.Verify == nil || !st.Verify.Failed || st.Verify.Last == nil || st.Verify.Last.ID != out.ID || !strings.Contains(st.Details, "VERIFY FAILED") {
		t.Fatalf("status after the failed verification: %+v, details %q", st.Verify, st.Details)
	}
	if show := s.mustSteward("plan", "show", "home"); !strings.Contains(show, "Verify:") || !strings.Contains(show, "FAILED") {
		t.Errorf("plan show lacks the failed verification:\n%s", show)
	}
	ledger, err := tryLedger(c, "home")
	if err != nil {
		t.Fatal(err)
	}
	if last := ledger[len(ledger)-1]; last.Outcome != api.LedgerVerifyFailed || last.RunID != out.ID {
		t.Errorf("last ledger entry %+v, want verify-failed of %s", last, out.ID)
	}
	waitFor(t, 30*time.Second, "StewardVerifyFailed = true to list the plan", func() bool {
		resp, err := c.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{Query: "StewardVerifyFailed = true"})
		return err == nil && len(resp.GetExecutions()) == 1 && resp.GetExecutions()[0].GetExecution().GetWorkflowId() == "steward/plan/home"
	})
}

// verifyJSON is what snapshots verify -o json prints.
type verifyJSON struct {
	ID     string         `json:"id"`
	Report *api.RunReport `json:"report"`
	Error  *string        `json:"error"`
}
