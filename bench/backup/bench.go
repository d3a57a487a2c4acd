package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/steward-ops/steward/bench/internal/proc"
)

// bench holds what every round needs.
type bench struct {
	o     options
	dir   string
	ds    *dataset
	st    *stewardTool // also in tools
	tools []tool
	cases map[string]*caseRs
	// settle is the worker's RSS after the last round's initial backup.
	settle *settle
	change *changeInfo
}

// settle is the worker's RSS around the initial backup of the last round:
// before it, its peak, and Waited after it.
type settle struct {
	Waited time.Duration `json:"waited_ns"`
	Before int64         `json:"rss_before_bytes"`
	Peak   int64         `json:"rss_peak_bytes"`
	After  int64         `json:"rss_after_bytes"`
	Growth int64         `json:"growth_bytes"` // After - Before
}

// caseOrder is the order the cases run in each round.
var caseOrder = []string{caseInitial, caseNoChange, caseChange, caseRestore}

var caseDescriptions = map[string]string{
	caseInitial:  "a full backup of the data set into a fresh, empty repository",
	caseNoChange: "a second backup into the same repository right after the first, nothing changed",
	caseChange:   "a third backup after 5% of the files were partly rewritten and a few added (the same change for every tool)",
	caseRestore:  "a restore of the latest snapshot (after the 5% change) into an empty directory, verified against the source (file list, sizes, sha256)",
}

// toolOrder is the order of the tools in the first round and the summary.
var toolOrder = []string{toolSteward, toolKopia, toolRestic}

// warmUp runs one steward backup and restore of a tiny source that are not
// counted: the first runs on a new worker pay for what later ones find
// ready.
func (b *bench) warmUp(ctx context.Context) error {
	fmt.Println("warm-up: a steward backup and restore of a tiny source ...")
	src := filepath.Join(b.dir, "warm-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		return err
	}
	if _, err := b.st.apply(ctx, "bench-warm", src); err != nil {
		return err
	}
	if _, err := b.st.backup(ctx); err != nil {
		return err
	}
	target := filepath.Join(b.dir, "restore", "warm")
	if _, _, err := b.st.restore(ctx, target); err != nil {
		return err
	}
	if err := os.RemoveAll(target); err != nil {
		return err
	}
	return b.st.teardown(ctx)
}

// rounds runs every case -runs times.
func (b *bench) rounds(ctx context.Context) error {
	for _, c := range caseOrder {
		b.cases[c] = &caseRs{Description: caseDescriptions[c], Samples: map[string][]sample{}}
	}
	for r := range b.o.runs {
		order := rotate(b.tools, r)
		names := make([]string, len(order))
		for i, t := range order {
			names[i] = t.name()
		}
		fmt.Printf("round %d of %d (%s)\n", r+1, b.o.runs, strings.Join(names, ", "))
		if err := b.round(ctx, r, order); err != nil {
			return fmt.Errorf("round %d: %w", r+1, err)
		}
	}
	for _, c := range b.cases {
		c.finish()
	}
	return nil
}

func (b *bench) round(ctx context.Context, r int, order []tool) error {
	inits := map[string]time.Duration{}
	for _, t := range order {
		d, err := t.setup(ctx, r)
		if err != nil {
			return fmt.Errorf("%s: set up a fresh repository: %w", t.name(), err)
		}
		inits[t.name()] = d
	}
	for _, t := range order {
		s, err := b.backup(ctx, t)
		if err != nil {
			return err
		}
		s.Init = inits[t.name()]
		b.add(caseInitial, t.name(), r, s)
		if t.name() == toolSteward && r == b.o.runs-1 {
			if err := b.settleRSS(ctx, s); err != nil {
				return err
			}
		}
	}
	for _, t := range order {
		s, err := b.backup(ctx, t)
		if err != nil {
			return err
		}
		b.add(caseNoChange, t.name(), r, s)
	}

	ci, err := b.ds.change()
	if err != nil {
		return fmt.Errorf("change the data set: %w", err)
	}
	b.change = &ci
	for _, t := range order {
		s, err := b.backup(ctx, t)
		if err != nil {
			return err
		}
		b.add(caseChange, t.name(), r, s)
	}

	want, err := manifest(b.ds.root)
	if err != nil {
		return fmt.Errorf("read the data set: %w", err)
	}
	// Every tool restores into a directory of its own, all of them removed
	// only after the last restore of the round: on ext4, creating files soon
	// after thousands were deleted costs several times the CPU (the inode
	// allocator skips recently deleted inodes), which would charge one tool
	// for the removal of the one before it.
	restores := filepath.Join(b.dir, "restore")
	for _, t := range order {
		target := filepath.Join(restores, t.name())
		syscall.Sync()
		load := proc.LoadAvg()
		s, root, err := t.restore(ctx, target)
		if err != nil {
			return fmt.Errorf("%s restore: %w", t.name(), err)
		}
		s.LoadAvg = load
		got, err := manifest(root)
		if err != nil {
			return fmt.Errorf("%s restore: read what it restored: %w", t.name(), err)
		}
		if err := compareTrees(want, got); err != nil {
			return fmt.Errorf("%s restored %s, which differs from the source %s: %w", t.name(), root, b.ds.root, err)
		}
		b.add(caseRestore, t.name(), r, s)
	}
	if err := os.RemoveAll(restores); err != nil {
		return err
	}
	fmt.Printf("    every restore is identical to the source (%d files and directories)\n", len(want))

	if err := b.ds.revert(); err != nil {
		return fmt.Errorf("revert the data set: %w", err)
	}
	for _, t := range order {
		if err := t.teardown(ctx); err != nil {
			return fmt.Errorf("%s: remove the round's repository: %w", t.name(), err)
		}
	}
	return nil
}

// backup syncs the file system, then runs a backup with t and measures its
// repository and cache.
func (b *bench) backup(ctx context.Context, t tool) (sample, error) {
	syscall.Sync()
	load := proc.LoadAvg()
	s, err := t.backup(ctx)
	if err != nil {
		return s, fmt.Errorf("%s backup: %w", t.name(), err)
	}
	s.LoadAvg = load
	if s.Repo, err = duBytes(t.repoDir()); err != nil {
		return s, err
	}
	if s.Cache, err = duBytes(t.cacheDir()); err != nil {
		return s, err
	}
	return s, nil
}

// settleRSS waits (unless -no-settle) after steward's initial backup s and
// reads the worker's RSS.
func (b *bench) settleRSS(ctx context.Context, s sample) error {
	st := &settle{Before: s.RSSBefore, Peak: s.RSS}
	if !b.o.noSettle {
		fmt.Printf("    waiting %v for the worker's RSS to settle ...\n", settleWait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settleWait):
		}
		st.Waited = settleWait
	}
	rss, _, err := memory(b.st.w.pid())
	if err != nil {
		return fmt.Errorf("steward-worker: %w", err)
	}
	st.After, st.Growth = rss, rss-st.Before
	fmt.Printf("    worker RSS: %s before the backup, %s peak, %s %v after\n", mib(st.Before), mib(st.Peak), mib(st.After), st.Waited)
	b.settle = st
	return nil
}

func (b *bench) add(c, tool string, round int, s sample) {
	s.Round = round + 1
	b.cases[c].Samples[tool] = append(b.cases[c].Samples[tool], s)
	line := fmt.Sprintf("    %-12s %-8s wall %8s  cpu %8s  peak RSS %10s", c, tool, secs(int64(s.Wall)), secs(int64(s.CPU)), mib(s.RSS))
	if s.Repo > 0 {
		line += "  repo " + mib(s.Repo)
	}
	if s.Run > 0 {
		line += "  (run " + secs(int64(s.Run)) + ")"
	}
	if s.ServerRSS > 0 {
		line += fmt.Sprintf("  server: cpu %s, peak RSS %s", secs(int64(s.ServerCPU)), mib(s.ServerRSS))
	}
	fmt.Println(line)
}

// rotate returns xs starting at the i-th, so that across rounds no tool
// always goes first (or right after another).
func rotate[T any](xs []T, i int) []T {
	i %= len(xs)
	return append(slices.Clone(xs[i:]), xs[:i]...)
}
