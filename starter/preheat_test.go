package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/prefetch"
)

// steward runs the CLI in-process and returns its output and error.
func steward(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := newApp(&out, &out)
	err := app.Run(interspersed(app, append([]string{"steward"}, args...)))
	return out.String(), err
}

func newCache(t *testing.T, entries map[string]string, used map[string]time.Time) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	for key, body := range entries {
		now := used[key]
		c, err := prefetch.OpenCache(dir, prefetch.CacheOptions{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(key, strings.NewReader(body), "", prefetch.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCacheCommands(t *testing.T) {
	old := time.Now().Add(-48 * time.Hour)
	dir := newCache(t, map[string]string{
		"https://files.example.com/a": "aaaa",
		"https://files.example.com/b": "bb",
	}, map[string]time.Time{"https://files.example.com/a": old, "https://files.example.com/b": time.Now()})

	out, err := steward(t, "cache", "ls", "--dir", dir)
	if err != nil || !strings.Contains(out, "2 entries, 6 B") || strings.Index(out, "/b") > strings.Index(out, "/a") {
		t.Fatalf("cache ls (%v):\n%s\nwant both entries, most recently used first", err, out)
	}
	out, err = steward(t, "cache", "path", "https://files.example.com/a?X-Amz-Signature=secret", "--dir", dir)
	if err != nil {
		t.Fatalf("cache path of a signed URL: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(strings.TrimSpace(out)); err != nil || string(b) != "aaaa" {
		t.Fatalf("cache path %q holds %q (%v)", out, b, err)
	}
	// cache path marked a as used: evicting by TTL now removes nothing.
	if out, err := steward(t, "cache", "evict", "--ttl", "24h", "--dir", dir); err != nil || !strings.Contains(out, "0 entries evicted") {
		t.Fatalf("evict --ttl after use (%v):\n%s", err, out)
	}
	out, err = steward(t, "cache", "evict", "--max-size", "4B", "--dir", dir, "-o", "json")
	var evicted []prefetch.Entry
	if err != nil || json.Unmarshal([]byte(out), &evicted) != nil || len(evicted) != 1 || evicted[0].Key != "https://files.example.com/b" {
		t.Fatalf("evict --max-size 4B (%v):\n%s\nwant the least recently used entry (b) evicted", err, out)
	}
	if out, err := steward(t, "cache", "evict", "--all", "--dir", dir); err != nil || !strings.Contains(out, "1 entries evicted, 4 B freed") {
		t.Fatalf("evict --all (%v):\n%s", err, out)
	}
	if out, err := steward(t, "cache", "ls", "--dir", dir); err != nil || !strings.Contains(out, "is empty") {
		t.Fatalf("cache ls after evicting all (%v):\n%s", err, out)
	}
}

func TestCacheCommandErrors(t *testing.T) {
	dir := newCache(t, map[string]string{"https://files.example.com/a": "aaaa"}, nil)
	missing := filepath.Join(t.TempDir(), "typo")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"cache", "ls", "--dir", missing}, "no preheat cache in " + missing},
		{[]string{"cache", "path", "https://files.example.com/zzz", "--dir", dir}, "https://files.example.com/zzz is not in the cache"},
		{[]string{"cache", "path", "--dir", dir}, "cache path takes one KEY"},
		{[]string{"cache", "evict", "--dir", dir}, "say what to evict"},
		{[]string{"cache", "evict", "--ttl", "-1h", "--dir", dir}, `--ttl "-1h": want a positive duration`},
		{[]string{"cache", "evict", "--max-size", "0B", "--dir", dir}, "--max-size 0 would remove everything: say --all"},
		{[]string{"cache", "evict", "--key", "https://files.example.com/zzz", "--dir", dir}, "is not in the cache"},
	}
	for _, tc := range cases {
		out, err := steward(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("steward %s: %v\n%s\nwant an error saying %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("cache ls created the mistyped directory: %v", err)
	}
	if out, err := steward(t, "cache", "ls", "--dir", dir); err != nil || !strings.Contains(out, "1 entries") {
		t.Errorf("after the bad commands the entry is gone (%v):\n%s", err, out)
	}
}

func TestPreheatFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"preheat"}, "give the URLs to preheat, or --image REF"},
		{[]string{"preheat", "--image", "r.example.com/a:1", "https://x.example.com/a"}, "give URLs or --image, not both"},
		{[]string{"preheat", "--digest", "sha256:00", "https://x.example.com/a", "https://x.example.com/b"}, "--digest needs exactly one URL"},
		{[]string{"preheat", "--header", "NoColon", "https://x.example.com/a"}, `--header "NoColon": want 'NAME: VALUE'`},
		{[]string{"preheat", "--max-file-size", "huge", "https://x.example.com/a"}, `"huge" is not a size`},
		{[]string{"preheat", "--attempts", "0", "https://x.example.com/a"}, "--attempts 0: must be at least 1"},
		{[]string{"preheat", "--urls-from", "/nonexistent/urls.txt"}, "--urls-from: open /nonexistent/urls.txt"},
	}
	for _, tc := range cases {
		out, err := steward(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("steward %s: %v\n%s\nwant an error saying %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
}

func TestSumPreheat(t *testing.T) {
	got := sumPreheat([]activities.PreheatProgress{
		{Host: "a", Items: 2, Done: 1, Bytes: 100, BytesDone: 50},
		{Host: "b", Items: 2, Done: 2, Bytes: 100, BytesDone: 100},
	})
	if got != (sample{done: 150, total: 200, info: "3/4 items, 2 hosts"}) {
		t.Errorf("sumPreheat = %+v", got)
	}
	if got := sumPreheat([]activities.PreheatProgress{{Items: 4, Done: 1, Bytes: -1, BytesDone: 7}}); got.total != 0 || got.done != 7 {
		t.Errorf("with unknown sizes: %+v", got)
	}
}

// TestShowBar draws both kinds of bar into a buffer: a known size with
// percentage, an unknown one with a spinner, each with its counts.
func TestShowBar(t *testing.T) {
	for _, tc := range []struct {
		s    sample
		want []string
	}{
		{sample{done: 512 << 10, total: 1 << 20, info: "1/2 items, 1 hosts"}, []string{"preheat", "50 %", "512.0 KiB / 1.0 MiB", "1/2 items, 1 hosts"}},
		{sample{done: 3 << 20, info: "7 files"}, []string{"backup", "3.0 MiB", "7 files"}},
	} {
		var buf bytes.Buffer
		var mu sync.Mutex
		polled := make(chan struct{}, 1)
		name := tc.want[0]
		stop := showBar(t.Context(), &syncWriter{w: &buf, mu: &mu}, name, func() (sample, bool) {
			select {
			case polled <- struct{}{}:
			default:
			}
			return tc.s, true
		}, mpb.WithAutoRefresh(), mpb.WithWidth(200))
		<-polled
		stop() // waits for the reading in hand to reach the bar, then draws it once more

		mu.Lock()
		out := buf.String()
		mu.Unlock()
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("bar output lacks %q:\n%q", w, out)
			}
		}
	}
}

// syncWriter lets the test read what mpb's goroutine writes.
type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestCacheEvictTTLTakesDays checks that --ttl reads days.
func TestCacheEvictTTLTakesDays(t *testing.T) {
	dir := newCache(t, map[string]string{
		"https://files.example.com/old": "old",
		"https://files.example.com/new": "new",
	}, map[string]time.Time{"https://files.example.com/old": time.Now().Add(-3 * 24 * time.Hour), "https://files.example.com/new": time.Now()})
	if out, err := steward(t, "cache", "evict", "--ttl", "2d", "--dir", dir); err != nil || !strings.Contains(out, "1 entries evicted") {
		t.Fatalf("evict --ttl 2d (%v):\n%s\nwant the entry unused for 3 days evicted", err, out)
	}
	if out, err := steward(t, "cache", "evict", "--ttl", "-1d", "--dir", dir); err == nil || !strings.Contains(err.Error(), `--ttl "-1d": want a positive duration`) {
		t.Fatalf("evict --ttl -1d (%v):\n%s\nwant it refused", err, out)
	}
}
