package prefetch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests here open one cache directory twice. flock(2) locks belong to an
// open file description, so two Cache values exclude each other exactly as
// two processes do.

// reopen opens c's directory again, as another process would.
func reopen(t *testing.T, c *Cache) *Cache {
	t.Helper()
	o, err := OpenCache(c.Dir(), c.opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// signal returns a channel closed on the first call of the returned func.
func signal() (chan struct{}, func()) {
	ch := make(chan struct{})
	var once sync.Once
	return ch, func() { once.Do(func() { close(ch) }) }
}

type fetched struct {
	res Result
	err error
}

func TestTwoCachesOnOneDirectoryDownloadOnce(t *testing.T) {
	content := payload(400_000)
	o := newOrigin(t, content)
	started, release := make(chan struct{}), make(chan struct{})
	o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			close(started)
			<-release // a slow server
		}
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "f", modTime, bytes.NewReader(content))
	}
	fa, ca := testFetcher(t, nil)
	cb := reopen(t, ca)
	waiting, wait := signal()
	cb.onLockWait = func(string) { wait() }
	fb := NewFetcher(cb, nil)
	req := Request{URL: o.URL + "/model.bin", AllowLoopback: true}

	ra, rb := make(chan fetched, 1), make(chan fetched, 1)
	go func() { res, err := fa.Fetch(context.Background(), req, nil); ra <- fetched{res, err} }()
	<-started // A holds the key's lock and is downloading
	go func() { res, err := fb.Fetch(context.Background(), req, nil); rb <- fetched{res, err} }()
	var b fetched
	gotB := false
	select {
	case <-waiting: // B waits for A, as it should
	case b = <-rb: // B did not wait: the assertions below fail
		gotB = true
		t.Error("the second cache's Fetch did not wait for the first one's download")
	}
	close(release)
	a := <-ra
	if !gotB {
		b = <-rb
	}
	if a.err != nil || b.err != nil {
		t.Fatalf("Fetch: %v; %v", a.err, b.err)
	}
	checkBlob(t, a.res, content)
	checkBlob(t, b.res, content)
	if !b.res.Cached || b.res.Downloaded != 0 {
		t.Errorf("second result %+v, want the first one's entry", b.res)
	}
	if sent := o.sent.Load(); sent != int64(len(content)) {
		t.Errorf("server sent %d body bytes, want the body once (%d)", sent, len(content))
	}
	if bl := files(t, ca.Dir(), "blobs/sha256"); len(bl) != 1 {
		t.Errorf("blobs = %v, want one", bl)
	}
	if tmp := files(t, ca.Dir(), "tmp"); len(tmp) != 0 {
		t.Errorf("tmp/ = %v, want empty", tmp)
	}
	if len(fa.keys) != 0 || len(fb.keys) != 0 {
		t.Errorf("in-process key locks left: %d, %d", len(fa.keys), len(fb.keys))
	}
}

func TestEvictInAnotherCacheSparesBlobBeingCommitted(t *testing.T) {
	ca, clk := testCache(t, CacheOptions{TTL: time.Hour})
	cb := reopen(t, ca)
	waiting, wait := signal()
	cb.onLockWait = func(what string) {
		if what == cacheLockName {
			wait()
		}
	}
	evicted := make(chan error, 1)
	ca.beforeIndexWrite = func() {
		ca.beforeIndexWrite = nil
		// The blob is in place, its index entry not yet: to an eviction
		// the blob looks orphaned.
		go func() {
			_, err := cb.Evict(clk.Now())
			evicted <- err
		}()
		select {
		case <-waiting:
		case err := <-evicted:
			evicted <- err
			t.Error("Evict in the other cache did not wait for the commit")
		}
	}
	content := []byte("committed while another process evicts")
	if _, err := ca.Put("k", bytes.NewReader(content), digestOf(content), Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := <-evicted; err != nil {
		t.Fatal(err)
	}
	p, err := cb.Path("k")
	if err != nil {
		t.Fatalf("entry after the concurrent eviction: %v", err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, content) {
		t.Errorf("blob = %q, %v", got, err)
	}
}

func TestFetchStartsOverWhenEntryEvictedMeanwhile(t *testing.T) {
	content := []byte("model v1")
	o := newOrigin(t, content)
	ca, clk := testCache(t, CacheOptions{TTL: time.Hour})
	cb := reopen(t, ca)
	f := NewFetcher(ca, nil)
	req := Request{URL: o.URL + "/m", AllowLoopback: true}
	fetchOK(t, f, req)

	clk.Advance(2 * time.Hour)
	o.set(func(o *origin) {
		o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 2 {
				// The entry has expired; another process evicts it
				// while the revalidation is under way.
				if removed, err := cb.Evict(clk.Now()); err != nil || len(removed) != 1 {
					t.Errorf("Evict = %v, %v; want the entry removed", removed, err)
				}
			}
			w.Header().Set("ETag", `"v1"`)
			http.ServeContent(w, r, "f", modTime, bytes.NewReader(content))
		}
	})
	res := fetchOK(t, f, req) // 304, but the entry is gone: download again
	checkBlob(t, res, content)
	if res.Cached || res.Downloaded != int64(len(content)) {
		t.Errorf("result %+v, want a fresh download", res)
	}
	if e, err := ca.Lookup(res.Key); err != nil || e.Digest != digestOf(content) || !e.LastUsed.Equal(clk.Now()) {
		t.Errorf("entry = %+v, %v", e, err)
	}
	if n := len(o.requests()); n != 3 {
		t.Errorf("%d requests, want 3 (first download, revalidation, download again)", n)
	}
}

func TestFetchWaitingForOtherDownloadHonoursContext(t *testing.T) {
	f, c := testFetcher(t, nil)
	other := reopen(t, c)
	u := "http://127.0.0.1:1/f"
	key, err := Key(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := other.lockKey(context.Background(), key) // another process downloads key
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	ctx, cancel := context.WithCancel(context.Background())
	c.onLockWait = func(string) { cancel() }
	_, err = f.Fetch(ctx, Request{URL: u, AllowLoopback: true}, nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "another process's download") {
		t.Errorf("Fetch = %v, want cancelled while waiting for the other download", err)
	}
	if len(f.keys) != 0 {
		t.Errorf("in-process key locks left: %v", f.keys)
	}
}

func TestEvictSparesRunningDownloadAndRemovesIdleLocks(t *testing.T) {
	c, clk := testCache(t, CacheOptions{TTL: time.Hour})
	running, idle := "https://example.com/running", "https://example.com/idle"
	l, err := c.lockKey(context.Background(), running)
	if err != nil {
		t.Fatal(err)
	}
	old := clk.Now().Add(-2 * time.Hour) // both partial files look abandoned
	for _, k := range []string{running, idle} {
		for _, suffix := range []string{"", ".json"} {
			p := filepath.Join(c.tmpDir(), "partial-"+keyHash(k)+suffix)
			if err := os.WriteFile(p, []byte("part"), filePerm); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if il, err := c.lockKey(context.Background(), idle); err != nil {
		t.Fatal(err)
	} else {
		il.unlock() // its lock file stays, unheld
	}

	if _, err := c.Evict(clk.Now()); err != nil {
		t.Fatal(err)
	}
	h := keyHash(running)
	if got, want := files(t, c.Dir(), "tmp"), []string{"partial-" + h, "partial-" + h + ".json"}; !slices.Equal(got, want) {
		t.Errorf("tmp/ = %v, want only the running download's files %v", got, want)
	}
	if got, want := files(t, c.Dir(), "locks"), []string{cacheLockName, keyLockPrefix + h}; !slices.Equal(got, want) {
		t.Errorf("locks/ = %v, want %v", got, want)
	}

	l.unlock()
	if _, err := c.Evict(clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := files(t, c.Dir(), "tmp"); len(got) != 0 {
		t.Errorf("tmp/ = %v after the download ended, want empty", got)
	}
	if got := files(t, c.Dir(), "locks"); !slices.Equal(got, []string{cacheLockName}) {
		t.Errorf("locks/ = %v, want only %s", got, cacheLockName)
	}
	// A removed lock file is made again when needed.
	l, err = c.lockKey(context.Background(), running)
	if err != nil {
		t.Fatal(err)
	}
	l.unlock()
}

func TestLockFileRemovedAndMadeAgain(t *testing.T) {
	c, _ := testCache(t, CacheOptions{})
	path := c.lockPath("key-x")
	held, ok, err := lockFile(path, false)
	if err != nil || !ok {
		t.Fatalf("lockFile = %v, %v", ok, err)
	}
	// Another holder's file is unlinked (as Evict does) and a new one made:
	// the new file is the lock now, free to take.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l, ok, err := lockFile(path, false)
	if err != nil || !ok {
		t.Fatalf("lockFile after the old file went = %v, %v", ok, err)
	}
	if _, ok, _ := lockFile(path, false); ok {
		t.Error("the new lock file was taken twice")
	}
	l.unlock()
	held.unlock()
}
