package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/steward-ops/steward/bench/internal/proc"
)

// timed runs name args and returns how long it took from exec to exit.
func timed(ctx context.Context, name string, args ...string) (time.Duration, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr proc.LimitedBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	d := time.Since(start)
	if err != nil {
		return d, out, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return d, out, nil
}

// curl is `curl -sS -o out url`; with fsync, followed by an fsync of out
// (inside the timing).
func curl(ctx context.Context, url, out string, fsync bool) (time.Duration, error) {
	start := time.Now()
	if _, _, err := timed(ctx, "curl", "-sS", "-o", out, url); err != nil {
		return 0, err
	}
	if fsync {
		if err := syncFile(out); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// curlSequential runs one curl process per URL, one after the other.
func curlSequential(ctx context.Context, urls, outs []string, fsync bool) (time.Duration, error) {
	start := time.Now()
	for i, u := range urls {
		if _, _, err := timed(ctx, "curl", "-sS", "-o", outs[i], u); err != nil {
			return 0, err
		}
		if fsync {
			if err := syncFile(outs[i]); err != nil {
				return 0, err
			}
		}
	}
	return time.Since(start), nil
}

// curlConditional is `curl -sS -z out -o out url` for each URL in sequence:
// a GET with If-Modified-Since from out's time. It fails unless every
// answer is 304 Not Modified.
func curlConditional(ctx context.Context, urls, outs []string) (time.Duration, error) {
	start := time.Now()
	var codes []string
	for i, u := range urls {
		_, out, err := timed(ctx, "curl", "-sS", "-z", outs[i], "-o", outs[i], "-w", "%{http_code}", u)
		if err != nil {
			return 0, err
		}
		codes = append(codes, string(out))
	}
	d := time.Since(start)
	for i, c := range codes {
		if c != "304" {
			return 0, fmt.Errorf("curl -z %s: HTTP %s, want 304", urls[i], c)
		}
	}
	return d, nil
}

// curlConfig runs one curl process for every URL, from a config file
// written outside the timing: one after the other over one connection, or
// parallel transfers at a time (curl --parallel).
func curlConfig(ctx context.Context, cfg string, urls, outs []string, parallel int) (time.Duration, error) {
	var b strings.Builder
	for i, u := range urls {
		fmt.Fprintf(&b, "url = %q\noutput = %q\n", u, outs[i])
	}
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return 0, err
	}
	syncAll()
	args := []string{"-sS", "-K", cfg}
	if parallel > 0 {
		args = append(args, "--parallel", "--parallel-max", fmt.Sprint(parallel))
	}
	d, _, err := timed(ctx, "curl", args...)
	return d, err
}

// aria2c fetches urls into outs (all in one directory), jobs at a time, one
// connection per file.
func aria2c(ctx context.Context, list string, urls, outs []string, jobs int) (time.Duration, error) {
	var b strings.Builder
	for i, u := range urls {
		fmt.Fprintf(&b, "%s\n  out=%s\n", u, filepath.Base(outs[i]))
	}
	if err := os.WriteFile(list, []byte(b.String()), 0o644); err != nil {
		return 0, err
	}
	syncAll()
	d, _, err := timed(ctx, "aria2c", "-q", "--allow-overwrite=true", "--auto-file-renaming=false",
		"--file-allocation=none", "--max-connection-per-server=1", "--split=1",
		fmt.Sprintf("--max-concurrent-downloads=%d", jobs), "-d", filepath.Dir(outs[0]), "-i", list)
	return d, err
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkSizes checks every file has size bytes.
func checkSizes(paths []string, size int64) error {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Size() != size {
			return fmt.Errorf("%s: %d bytes, want %d", p, st.Size(), size)
		}
	}
	return nil
}
