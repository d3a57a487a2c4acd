package prefetch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testCache(t *testing.T, opts CacheOptions) (*Cache, *clock) {
	t.Helper()
	clk := newClock()
	opts.Now = clk.Now
	c, err := OpenCache(filepath.Join(t.TempDir(), "cache"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// files lists the names under dir/sub.
func files(t *testing.T, dir, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// assertEmpty checks that the cache holds no entry and no blob, and that no
// file is visible outside tmp/ (where a partial download may wait to be
// resumed) and locks/.
func assertEmpty(t *testing.T, c *Cache) {
	t.Helper()
	if l, err := c.List(); err != nil || len(l) != 0 {
		t.Errorf("List = %v, %v; want nothing cached", l, err)
	}
	if b := files(t, c.Dir(), "blobs/sha256"); len(b) != 0 {
		t.Errorf("blobs = %v; want none", b)
	}
	err := filepath.WalkDir(c.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.Dir(), path)
		if d.IsDir() && (rel == "tmp" || rel == "locks") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			t.Errorf("%s is visible in the cache, want nothing outside tmp/ and locks/", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPutStoresVerifiedPrivateBlob(t *testing.T) {
	c, _ := testCache(t, CacheOptions{})
	content := []byte("hello, cache")
	e, err := c.Put("k1", bytes.NewReader(content), digestOf(content), Meta{ETag: `"v1"`})
	if err != nil {
		t.Fatal(err)
	}
	if e.Digest != digestOf(content) || e.Size != int64(len(content)) || e.ETag != `"v1"` {
		t.Errorf("entry = %+v", e)
	}
	p, err := c.Path("k1")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.Dir(), "blobs", "sha256", strings.TrimPrefix(digestOf(content), "sha256:")); p != want {
		t.Errorf("Path = %s, want %s", p, want)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, content) {
		t.Errorf("blob = %q", got)
	}
	for _, d := range []string{"", "blobs", "blobs/sha256", "index", "tmp"} {
		fi, err := os.Stat(filepath.Join(c.Dir(), d))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s/%s mode = %v, want 0700", c.Dir(), d, fi.Mode().Perm())
		}
	}
	for _, sub := range []string{"blobs/sha256", "index"} {
		for _, n := range files(t, c.Dir(), sub) {
			fi, _ := os.Stat(filepath.Join(c.Dir(), sub, n))
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s/%s mode = %v, want 0600", sub, n, fi.Mode().Perm())
			}
		}
	}
	if tmp := files(t, c.Dir(), "tmp"); len(tmp) != 0 {
		t.Errorf("tmp/ = %v after a store, want empty", tmp)
	}
}

// failingReader returns some bytes, then an error, as a dropped connection does.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestPutNeverShowsPartialContent(t *testing.T) {
	c, _ := testCache(t, CacheOptions{})
	if _, err := c.Put("k", &failingReader{n: 4096}, "", Meta{}); err == nil {
		t.Fatal("Put of a failing reader succeeded")
	}
	assertEmpty(t, c)
	if tmp := files(t, c.Dir(), "tmp"); len(tmp) != 0 {
		t.Errorf("tmp/ = %v, want the temporary file removed", tmp)
	}
	if _, err := c.Path("k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Path = %v, want ErrNotFound", err)
	}
}

func TestPutRejectsDigestMismatch(t *testing.T) {
	c, _ := testCache(t, CacheOptions{})
	_, err := c.Put("k", strings.NewReader("tampered"), digestOf([]byte("original")), Meta{})
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Put = %v, want ErrDigestMismatch", err)
	}
	assertEmpty(t, c)
}

func TestPutSameContentSharesOneBlob(t *testing.T) {
	c, _ := testCache(t, CacheOptions{})
	content := []byte("shared")
	for _, k := range []string{"a", "b", "a"} {
		if _, err := c.Put(k, bytes.NewReader(content), "", Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	if b := files(t, c.Dir(), "blobs/sha256"); len(b) != 1 {
		t.Fatalf("blobs = %v, want one", b)
	}
	if l, _ := c.List(); len(l) != 2 || l[0].Key != "a" || l[1].Key != "b" {
		t.Fatalf("List = %+v, want a and b", l)
	}
	if err := c.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if p, err := c.Path("b"); err != nil {
		t.Fatalf("b after removing a: %v", err)
	} else if got, _ := os.ReadFile(p); !bytes.Equal(got, content) {
		t.Errorf("b = %q", got)
	}
	if err := c.Remove("b"); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, c)
	if err := c.Remove("b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
}

func TestEvictByTTL(t *testing.T) {
	c, clk := testCache(t, CacheOptions{TTL: time.Hour})
	put(t, c, "old", "old content")
	clk.Advance(50 * time.Minute)
	put(t, c, "new", "new content")
	clk.Advance(20 * time.Minute) // old unused for 70m, new for 20m
	removed, err := c.Evict(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].Key != "old" {
		t.Fatalf("removed = %+v, want old", removed)
	}
	if _, err := c.Path("old"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old: %v, want ErrNotFound", err)
	}
	if _, err := c.Path("new"); err != nil {
		t.Errorf("new: %v", err)
	}
	if b := files(t, c.Dir(), "blobs/sha256"); len(b) != 1 {
		t.Errorf("blobs = %v, want only new's", b)
	}
}

func TestEvictLeastRecentlyUsedOverMaxSize(t *testing.T) {
	c, clk := testCache(t, CacheOptions{MaxSize: 250})
	for _, k := range []string{"a", "b", "c"} {
		put(t, c, k, strings.Repeat(k, 100))
		clk.Advance(time.Minute)
	}
	// Using a makes b the least recently used.
	if _, err := c.Path("a"); err != nil {
		t.Fatal(err)
	}
	removed, err := c.Evict(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].Key != "b" {
		t.Fatalf("removed = %+v, want b only", removed)
	}
	l, _ := c.List()
	if len(l) != 2 || l[0].Key != "a" || l[1].Key != "c" {
		t.Errorf("left = %+v, want a and c", l)
	}
	// Under the limit: nothing more goes.
	if removed, err := c.Evict(clk.Now()); err != nil || len(removed) != 0 {
		t.Errorf("second Evict = %v, %v; want nothing", removed, err)
	}
}

func put(t *testing.T, c *Cache, key, content string) {
	t.Helper()
	if _, err := c.Put(key, strings.NewReader(content), "", Meta{}); err != nil {
		t.Fatal(err)
	}
}

func TestNextExpiry(t *testing.T) {
	c, clk := testCache(t, CacheOptions{TTL: time.Hour})
	if next, ok := c.NextExpiry(); ok {
		t.Errorf("empty cache: NextExpiry = %v, want none", next)
	}
	t0 := clk.Now()
	put(t, c, "a", "content a")
	clk.Advance(10 * time.Minute)
	put(t, c, "b", "content b")
	if next, ok := c.NextExpiry(); !ok || !next.Equal(t0.Add(time.Hour)) {
		t.Errorf("NextExpiry = %v, %v; want a's, %v", next, ok, t0.Add(time.Hour))
	}
	// Using a pushes its expiry past b's.
	clk.Advance(5 * time.Minute)
	if _, err := c.Path("a"); err != nil {
		t.Fatal(err)
	}
	next, ok := c.NextExpiry()
	if want := t0.Add(10*time.Minute + time.Hour); !ok || !next.Equal(want) {
		t.Fatalf("NextExpiry after using a = %v, %v; want b's, %v", next, ok, want)
	}
	// An eviction timer set to it removes b: just before, nothing.
	if removed, err := c.Evict(next.Add(-time.Nanosecond)); err != nil || len(removed) != 0 {
		t.Errorf("Evict just before the expiry = %+v, %v; want nothing", removed, err)
	}
	if removed, err := c.Evict(next); err != nil || len(removed) != 1 || removed[0].Key != "b" {
		t.Errorf("Evict at the expiry = %+v, %v; want b", removed, err)
	}
	if next, ok := c.NextExpiry(); !ok || !next.Equal(t0.Add(15*time.Minute+time.Hour)) {
		t.Errorf("NextExpiry = %v, %v; want a's", next, ok)
	}

	noTTL, _ := testCache(t, CacheOptions{})
	put(t, noTTL, "a", "content a")
	if next, ok := noTTL.NextExpiry(); ok {
		t.Errorf("without a TTL: NextExpiry = %v, want none", next)
	}
}
