package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/steward-ops/steward/bench/internal/proc"
)

// bench holds what every case needs.
type bench struct {
	o     options
	dir   string
	w     *worker
	srv   *server
	data  data
	aria2 string // "" when not installed
	seq   int    // numbers fresh cache directories
}

// sample is one timed command (or sequence of commands).
type sample struct {
	Wall  time.Duration `json:"wall_ns"`
	MBps  float64       `json:"mb_per_s"`
	Bytes int64         `json:"bytes"`
	// steward only, from its report
	Items      int      `json:"items,omitempty"`
	Downloaded *int64   `json:"downloaded,omitempty"`
	Cached     *int     `json:"cached,omitempty"`
	Failed     *int     `json:"failed,omitempty"`
	Joined     bool     `json:"joined,omitempty"`
	RunID      string   `json:"run_id,omitempty"`
	History    *history `json:"history,omitempty"`
}

// caseRs is one case's samples and what they add up to.
type caseRs struct {
	Name        string              `json:"-"`
	Description string              `json:"description"`
	Files       int                 `json:"files"`
	Bytes       int64               `json:"bytes"` // content per run
	Samples     map[string][]sample `json:"samples"`
	Medians     map[string]median   `json:"medians"`
	// Ratios are steward's throughput over each peer's, by peer.
	Ratios map[string]float64 `json:"ratios"`
	Target *target            `json:"target,omitempty"`
	Notes  []string           `json:"notes,omitempty"`
	// LoadAvg is the load average before the case's first command and
	// after its last: a busy machine makes the figures noisy.
	LoadAvg [2]string `json:"loadavg_start_end"`
	Repeat  *caseRs   `json:"-"`
	label   string    // printed before the tool
}

type median struct {
	Wall time.Duration `json:"wall_ns"`
	MBps float64       `json:"mb_per_s"`
	// steward only
	Workflow      time.Duration `json:"workflow_ns,omitempty"`
	FetchActivity time.Duration `json:"fetch_activity_ns,omitempty"`
	FetchQueued   time.Duration `json:"fetch_queued_ns,omitempty"`
	Resolve       time.Duration `json:"resolve_activity_ns,omitempty"`
	Events        int           `json:"history_events,omitempty"`
}

type target struct {
	Peer  string  `json:"peer"`
	Min   float64 `json:"min_ratio"`
	Ratio float64 `json:"ratio"`
	Met   bool    `json:"met"`
}

func newCase(name, desc string, files int, bytes int64) *caseRs {
	return &caseRs{Name: name, Description: desc, Files: files, Bytes: bytes, Samples: map[string][]sample{}, LoadAvg: [2]string{proc.LoadAvg()}}
}

func (c *caseRs) add(tool string, s sample) {
	if s.Bytes == 0 {
		s.Bytes = c.Bytes
	}
	s.MBps = float64(s.Bytes) / 1e6 / s.Wall.Seconds()
	c.Samples[tool] = append(c.Samples[tool], s)
	line := fmt.Sprintf("    %-30s %9v %8.1f MB/s", c.label+tool, s.Wall.Round(time.Millisecond), s.MBps)
	if s.History != nil {
		line += fmt.Sprintf("   (fetch activity %v, workflow %v, %d events", s.History.Fetch.Round(time.Millisecond),
			s.History.Workflow.Round(time.Millisecond), s.History.Events)
		if s.Downloaded != nil {
			line += fmt.Sprintf(", downloaded %d, cached %d", *s.Downloaded, *s.Cached)
		}
		line += ")"
	}
	fmt.Println(line)
}

// finish computes the medians and ratios, and checks the target (min > 0)
// against peer.
func (c *caseRs) finish(peer string, min float64) {
	c.LoadAvg[1] = proc.LoadAvg()
	c.Medians = map[string]median{}
	for tool, ss := range c.Samples {
		m := median{Wall: med(ss, func(s sample) time.Duration { return s.Wall })}
		m.MBps = float64(c.Bytes) / 1e6 / m.Wall.Seconds()
		if tool == toolSteward {
			m.Workflow = med(ss, func(s sample) time.Duration { return s.History.Workflow })
			m.FetchActivity = med(ss, func(s sample) time.Duration { return s.History.Fetch })
			m.FetchQueued = med(ss, func(s sample) time.Duration { return s.History.FetchQueued })
			m.Resolve = med(ss, func(s sample) time.Duration { return s.History.Resolve })
			m.Events = int(med(ss, func(s sample) time.Duration { return time.Duration(s.History.Events) }))
		}
		c.Medians[tool] = m
	}
	c.Ratios = map[string]float64{}
	st, ok := c.Medians[toolSteward]
	if !ok {
		return
	}
	for tool, m := range c.Medians {
		if tool != toolSteward {
			c.Ratios[tool] = round2(float64(m.Wall) / float64(st.Wall))
		}
	}
	if min > 0 {
		r := c.Ratios[peer]
		c.Target = &target{Peer: peer, Min: min, Ratio: r, Met: r >= min}
	}
}

func med(ss []sample, f func(sample) time.Duration) time.Duration {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = f(s)
	}
	slices.Sort(ds)
	if len(ds) == 0 {
		return 0
	}
	if len(ds)%2 == 0 {
		return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	return ds[len(ds)/2]
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// rotate returns tools starting at the i-th, so that across runs no tool
// always goes first (or right after another).
func rotate(tools []string, i int) []string {
	i %= len(tools)
	return append(slices.Clone(tools[i:]), tools[:i]...)
}

// syncAll flushes the file system, so no timed command pays for the
// writeback of an earlier one.
func syncAll() { syscall.Sync() }

// warmPages writes and deletes a scratch file somewhat larger than n bytes,
// then syncs. On this kind of VM, page-cache pages the guest freed a while
// ago are slow to touch again (a 1 GiB write then takes 2-3x as long), and
// which tool gets which pages depends on the order of the runs; warming
// before each timed run gives every tool the same start.
func (b *bench) warmPages(n int64) error {
	name := filepath.Join(b.dir, "warm.tmp")
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for written := int64(0); written < n+n/4; written += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Remove(name); err != nil {
		return err
	}
	syncAll()
	return nil
}

// freshCache returns a new, not yet existing cache directory.
func (b *bench) freshCache(name string) string {
	b.seq++
	return filepath.Join(b.dir, "caches", fmt.Sprintf("%s-%d", name, b.seq))
}

// outDir returns an empty directory for a peer's outputs.
func (b *bench) outDir(name string) (string, error) {
	d := filepath.Join(b.dir, "out", name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	return d, os.MkdirAll(d, 0o755)
}

// warmUp runs one preheat that is not counted: the first one on a new
// server pays for caches the later ones find warm.
func (b *bench) warmUp(ctx context.Context) error {
	fmt.Println("warm-up preheat ...")
	dir := b.freshCache("warm")
	defer os.RemoveAll(dir)
	_, err := b.w.preheat(ctx, b.o.concurrency, dir, "", []string{b.srv.url(b.data.TinyWarm)})
	return err
}

// overhead is the fixed cost of a steward preheat: one 1 KiB file.
func (b *bench) overhead(ctx context.Context) (*caseRs, error) {
	c := newCase("overhead_1KiB", "one 1 KiB file, cold: the fixed cost of the product path (CLI, workflow, activities); curl for reference, no target",
		1, 1<<10)
	fmt.Printf("overhead: one 1 KiB file, %d runs\n", b.o.runs)
	url := b.srv.url(b.data.Tiny)
	for i := range b.o.runs {
		fmt.Printf("  run %d\n", i+1)
		for _, tool := range rotate([]string{toolSteward, toolCurl}, i) {
			syncAll()
			switch tool {
			case toolSteward:
				dir := b.freshCache("tiny")
				s, err := b.w.preheat(ctx, b.o.concurrency, dir, "", []string{url})
				if err != nil {
					return nil, err
				}
				c.add(tool, s)
				_ = os.RemoveAll(dir)
			case toolCurl:
				out, err := b.outDir("tiny")
				if err != nil {
					return nil, err
				}
				d, err := curl(ctx, url, filepath.Join(out, "tiny.bin"), false)
				if err != nil {
					return nil, err
				}
				c.add(tool, sample{Wall: d})
			}
		}
	}
	c.finish("", 0)
	c.Notes = coldNotes(c)
	return c, nil
}

// single is one big file, cold, then repeated on the warm cache.
func (b *bench) single(ctx context.Context) (*caseRs, error) {
	c := newCase("single_"+sizeName(b.data.BigSize), fmt.Sprintf("one %s file; steward with --digest (verified) and fsync, cold cache each run; curl -sS -o FILE URL, plain and followed by an fsync of FILE", gib(b.data.BigSize)),
		1, b.data.BigSize)
	rep := newCase("repeat_"+c.Name, "the single file again, on the warm cache (a hit: the expected digest is already cached, no request); peer: curl -sS -z FILE -o FILE URL answered 304",
		1, b.data.BigSize)
	c.Repeat, rep.label = rep, "repeat: "
	tools := []string{toolSteward, toolCurl, toolCurlFsync}
	if b.aria2 != "" {
		tools = append(tools, toolAria2)
	}
	fmt.Printf("single: one %s file, %d runs\n", gib(b.data.BigSize), b.o.runs)
	url := b.srv.url(b.data.Big)
	for i := range b.o.runs {
		fmt.Printf("  run %d\n", i+1)
		for _, tool := range rotate(tools, i) {
			if err := b.warmPages(b.data.BigSize); err != nil {
				return nil, err
			}
			switch tool {
			case toolSteward:
				dir := b.freshCache("single")
				s, err := b.w.preheat(ctx, b.o.concurrency, dir, b.data.BigDigest, []string{url})
				if err != nil {
					return nil, err
				}
				c.add(tool, s)
				syncAll()
				s, err = b.w.preheat(ctx, b.o.concurrency, dir, b.data.BigDigest, []string{url})
				if err != nil {
					return nil, err
				}
				rep.add(tool, s)
				if err := os.RemoveAll(dir); err != nil {
					return nil, err
				}
			case toolCurl, toolCurlFsync:
				out, err := b.outDir("single")
				if err != nil {
					return nil, err
				}
				file := filepath.Join(out, "big.bin")
				d, err := curl(ctx, url, file, tool == toolCurlFsync)
				if err != nil {
					return nil, err
				}
				if err := checkSizes([]string{file}, b.data.BigSize); err != nil {
					return nil, err
				}
				c.add(tool, sample{Wall: d})
				if tool == toolCurl {
					syncAll()
					d, err := curlConditional(ctx, []string{url}, []string{file})
					if err != nil {
						return nil, err
					}
					rep.add(toolCurlCondition, sample{Wall: d})
				}
				if err := os.RemoveAll(out); err != nil {
					return nil, err
				}
			case toolAria2:
				out, err := b.outDir("single")
				if err != nil {
					return nil, err
				}
				file := filepath.Join(out, "big.bin")
				d, err := aria2c(ctx, filepath.Join(b.dir, "aria2-single.txt"), []string{url}, []string{file}, 1)
				if err != nil {
					return nil, err
				}
				if err := checkSizes([]string{file}, b.data.BigSize); err != nil {
					return nil, err
				}
				c.add(tool, sample{Wall: d})
				if err := os.RemoveAll(out); err != nil {
					return nil, err
				}
			}
		}
	}
	c.finish(toolCurl, 0.9)
	c.Notes = coldNotes(c)
	rep.finish("", 0)
	rep.Notes = repeatNotes(rep)
	return c, nil
}

// many is many small files, cold, then repeated on the warm cache.
func (b *bench) many(ctx context.Context) (*caseRs, error) {
	n := len(b.data.Many)
	total := int64(n) * b.data.ManySize
	c := newCase(fmt.Sprintf("many_%dx%s", n, sizeName(b.data.ManySize)),
		fmt.Sprintf("%d files of %s; steward --concurrency %d, cold cache each run; peer: one curl -sS -o FILE URL process per file, in sequence (also: with an fsync of each file, one curl process for all over one connection, curl --parallel --parallel-max %d)",
			n, mib(b.data.ManySize), b.o.concurrency, b.o.concurrency),
		n, total)
	rep := newCase("repeat_"+c.Name, "the many files again, on the warm cache (a hit: steward revalidates each file with If-Modified-Since, 304); peer: curl -sS -z FILE -o FILE URL per file in sequence, 304",
		n, total)
	c.Repeat, rep.label = rep, "repeat: "
	tools := []string{toolSteward, toolCurlSeq, toolCurlSeqFsync, toolCurlOneProc, toolCurlParallel}
	if b.aria2 != "" {
		tools = append(tools, toolAria2)
	}
	urls := b.srv.urls(b.data.Many)
	fmt.Printf("many: %d files of %s, %d runs\n", n, mib(b.data.ManySize), b.o.runs)
	for i := range b.o.runs {
		fmt.Printf("  run %d\n", i+1)
		for _, tool := range rotate(tools, i) {
			if err := b.warmPages(total); err != nil {
				return nil, err
			}
			if tool == toolSteward {
				dir := b.freshCache("many")
				s, err := b.w.preheat(ctx, b.o.concurrency, dir, "", urls)
				if err != nil {
					return nil, err
				}
				c.add(tool, s)
				syncAll()
				s, err = b.w.preheat(ctx, b.o.concurrency, dir, "", urls)
				if err != nil {
					return nil, err
				}
				rep.add(tool, s)
				if err := os.RemoveAll(dir); err != nil {
					return nil, err
				}
				continue
			}
			out, err := b.outDir("many")
			if err != nil {
				return nil, err
			}
			outs := make([]string, n)
			for j, p := range b.data.Many {
				outs[j] = filepath.Join(out, filepath.Base(p))
			}
			var d time.Duration
			switch tool {
			case toolCurlSeq, toolCurlSeqFsync:
				d, err = curlSequential(ctx, urls, outs, tool == toolCurlSeqFsync)
			case toolCurlOneProc:
				d, err = curlConfig(ctx, filepath.Join(b.dir, "curl-many.cfg"), urls, outs, 0)
			case toolCurlParallel:
				d, err = curlConfig(ctx, filepath.Join(b.dir, "curl-many.cfg"), urls, outs, b.o.concurrency)
			case toolAria2:
				d, err = aria2c(ctx, filepath.Join(b.dir, "aria2-many.txt"), urls, outs, b.o.concurrency)
			}
			if err != nil {
				return nil, err
			}
			if err := checkSizes(outs, b.data.ManySize); err != nil {
				return nil, fmt.Errorf("%s: %w", tool, err)
			}
			c.add(tool, sample{Wall: d})
			if tool == toolCurlSeq {
				syncAll()
				d, err := curlConditional(ctx, urls, outs)
				if err != nil {
					return nil, err
				}
				rep.add(toolCurlSeqCond, sample{Wall: d})
			}
			if err := os.RemoveAll(out); err != nil {
				return nil, err
			}
		}
	}
	c.finish(toolCurlSeq, 2)
	c.Notes = coldNotes(c)
	rep.finish("", 0)
	rep.Notes = repeatNotes(rep)
	return c, nil
}

// coldNotes checks that steward's cold runs downloaded everything (in the
// last attempt of the fetch activity, whose report it is).
func coldNotes(c *caseRs) []string {
	var notes []string
	for i, s := range c.Samples[toolSteward] {
		if s.Downloaded == nil || *s.Downloaded != c.Bytes || (s.Cached != nil && *s.Cached != 0) {
			notes = append(notes, fmt.Sprintf("run %d: steward reports %v of %d bytes downloaded, %v items cached", i+1, deref(s.Downloaded), c.Bytes, deref(s.Cached)))
		}
		if s.History != nil && s.History.FetchAttempts != 1 {
			notes = append(notes, fmt.Sprintf("run %d: the fetch activity took %d attempts", i+1, s.History.FetchAttempts))
		}
	}
	return notes
}

// repeatNotes checks that steward's repeats were cache hits.
func repeatNotes(c *caseRs) []string {
	var notes []string
	for i, s := range c.Samples[toolSteward] {
		if s.Downloaded == nil || *s.Downloaded != 0 || s.Cached == nil || *s.Cached != s.Items {
			notes = append(notes, fmt.Sprintf("NOT A CACHE HIT: run %d downloaded %v bytes, %v of %d items cached", i+1, deref(s.Downloaded), deref(s.Cached), s.Items))
		}
		if s.Joined {
			notes = append(notes, fmt.Sprintf("run %d joined a running preheat instead of starting a fresh run", i+1))
		}
	}
	if len(notes) == 0 {
		notes = append(notes, "every steward repeat downloaded 0 bytes and found every item cached")
	}
	return notes
}

// sizeName is n as in a case name: 1GiB, 1MiB, 1536KiB.
func sizeName(n int64) string {
	for _, u := range []struct {
		name string
		f    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.f == 0 {
			return fmt.Sprintf("%d%s", n/u.f, u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// summarize says what the medians mean, one line per case.
func summarize(cases map[string]*caseRs) []string {
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		c := cases[n]
		st, ok := c.Medians[toolSteward]
		if !ok {
			continue
		}
		line := fmt.Sprintf("%s: steward %v (%.0f MB/s; fetch activity %v)", n, st.Wall.Round(time.Millisecond), st.MBps, st.FetchActivity.Round(time.Millisecond))
		peers := make([]string, 0, len(c.Medians))
		for tool := range c.Medians {
			if tool != toolSteward {
				peers = append(peers, tool)
			}
		}
		slices.Sort(peers)
		for _, p := range peers {
			m := c.Medians[p]
			line += fmt.Sprintf("; %s %v (%.0f MB/s) -> %.2fx", p, m.Wall.Round(time.Millisecond), m.MBps, c.Ratios[p])
		}
		if t := c.Target; t != nil {
			verdict := "MET"
			if !t.Met {
				verdict = "NOT MET"
			}
			line += fmt.Sprintf(" | target >= %.1fx %s: %.2fx, %s", t.Min, t.Peer, t.Ratio, verdict)
		}
		for _, note := range c.Notes {
			line += " | " + note
		}
		out = append(out, line)
	}
	return out
}
