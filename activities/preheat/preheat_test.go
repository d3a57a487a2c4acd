package preheat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/prefetch"
)

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

type env struct {
	t    *testing.T
	acts *Activities
	env  *testsuite.TestActivityEnvironment
	srv  *httptest.Server

	mu         sync.Mutex
	heartbeats []activities.PreheatProgress
}

var (
	contentA = bytes.Repeat([]byte("a"), 300<<10)
	contentB = []byte("b\n")
)

func newEnv(t *testing.T) *env {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "a", time.Time{}, bytes.NewReader(contentA))
	})
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(contentB) })
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv}
	e.acts = New(nil, "test-host", filepath.Join(t.TempDir(), "cache"))
	e.acts.HeartbeatEvery = time.Millisecond
	var s testsuite.WorkflowTestSuite
	e.env = s.NewTestActivityEnvironment()
	e.acts.Register(e.env)
	e.env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var p activities.PreheatProgress
		if details.Get(&p) == nil {
			e.mu.Lock()
			e.heartbeats = append(e.heartbeats, p)
			e.mu.Unlock()
		}
	})
	return e
}

func (e *env) fetch(files ...activities.PreheatFile) (activities.PreheatFetchResult, error) {
	v, err := e.env.ExecuteActivity(activities.PreheatFetch, activities.PreheatFetchRequest{
		RunID:       "run-1",
		Source:      activities.PreheatSource{Files: files, AllowLoopback: true},
		Concurrency: 2,
	})
	var res activities.PreheatFetchResult
	if err == nil {
		if gerr := v.Get(&res); gerr != nil {
			e.t.Fatal(gerr)
		}
	} else {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.HasDetails() {
			_ = app.Details(&res)
		}
	}
	return res, err
}

func TestFetchReportsAndHeartbeats(t *testing.T) {
	e := newEnv(t)
	res, err := e.fetch(activities.PreheatFile{URL: e.srv.URL + "/a", Digest: digest(contentA)}, activities.PreheatFile{URL: e.srv.URL + "/b"})
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(contentA) + len(contentB))
	if res.Host != "test-host" || res.Items != 2 || res.Bytes != size || res.Downloaded != size || res.Failed != 0 || res.CacheDir != e.acts.CacheDir {
		t.Fatalf("report %+v", res)
	}
	e.mu.Lock()
	hb := e.heartbeats
	e.mu.Unlock()
	if len(hb) == 0 || hb[0].Items != 2 || hb[0].Host != "test-host" {
		t.Fatalf("heartbeats %+v; want progress of 2 items on test-host", hb)
	}
	again, err := e.fetch(activities.PreheatFile{URL: e.srv.URL + "/a", Digest: digest(contentA)})
	if err != nil || again.Downloaded != 0 || again.Cached != 1 {
		t.Fatalf("second fetch %+v (%v); want a cache hit", again, err)
	}
}

func TestFetchErrorTypes(t *testing.T) {
	e := newEnv(t)
	_, err := e.fetch(activities.PreheatFile{URL: e.srv.URL + "/b", Digest: digest([]byte("other"))})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrDigestMismatch || !app.NonRetryable() {
		t.Fatalf("digest mismatch: %v; want a non-retryable %s", err, activities.ErrDigestMismatch)
	}
	res, err := e.fetch(activities.PreheatFile{URL: e.srv.URL + "/broken"}, activities.PreheatFile{URL: e.srv.URL + "/b"})
	if !errors.As(err, &app) || app.Type() != activities.ErrPreheatFailed || app.NonRetryable() {
		t.Fatalf("server error: %v; want a retryable %s", err, activities.ErrPreheatFailed)
	}
	if res.Failed != 1 || res.Items != 2 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "503") {
		t.Fatalf("report in the error: %+v", res)
	}
	_, err = e.fetch(activities.PreheatFile{URL: "http://169.254.169.254/latest/"})
	if !errors.As(err, &app) || app.Type() != activities.ErrRefused || !app.NonRetryable() {
		t.Fatalf("metadata address: %v; want a non-retryable %s", err, activities.ErrRefused)
	}
	_, err = e.fetch(activities.PreheatFile{URL: e.srv.URL + "/b?x=${NOT_SET_ANYWHERE}"})
	if err != nil {
		t.Fatalf("a URL is not expanded: %v", err)
	}
}

func TestFetchUnsetHeaderVariableIsBadConfig(t *testing.T) {
	e := newEnv(t)
	e.acts.LookupEnv = func(string) (string, bool) { return "", false }
	_, err := e.env.ExecuteActivity(activities.PreheatFetch, activities.PreheatFetchRequest{
		Source: activities.PreheatSource{Files: []activities.PreheatFile{{URL: e.srv.URL + "/b"}}, Headers: activities.HeaderRefs{"Authorization": "Bearer ${MODEL_TOKEN}"}, AllowLoopback: true},
	})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrBadConfig || !strings.Contains(err.Error(), "MODEL_TOKEN is not set") {
		t.Fatalf("unset variable: %v; want %s naming it", err, activities.ErrBadConfig)
	}
}

func TestEvictByTTL(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.acts.Now = func() time.Time { return now }
	if _, err := e.fetch(activities.PreheatFile{URL: e.srv.URL + "/b"}); err != nil {
		t.Fatal(err)
	}
	evict := func() activities.PreheatEvictResult {
		t.Helper()
		v, err := e.env.ExecuteActivity(activities.PreheatEvict, activities.PreheatEvictRequest{Cache: activities.CacheSpec{TTL: time.Hour}})
		if err != nil {
			t.Fatal(err)
		}
		var r activities.PreheatEvictResult
		if err := v.Get(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := evict(); r.Evicted != 0 || r.Entries != 1 || r.NextExpiry == nil || !r.NextExpiry.Equal(now.Add(time.Hour)) {
		t.Fatalf("before the TTL: %+v", r)
	}
	now = now.Add(time.Hour)
	if r := evict(); r.Evicted != 1 || r.Entries != 0 || r.Freed != int64(len(contentB)) || r.NextExpiry != nil {
		t.Fatalf("at the TTL: %+v", r)
	}
}

func TestNoCacheDirIsBadConfig(t *testing.T) {
	e := newEnv(t)
	e.acts.CacheDir = ""
	_, err := e.fetch(activities.PreheatFile{URL: e.srv.URL + "/b"})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrBadConfig || !strings.Contains(err.Error(), "--cache-dir") {
		t.Fatalf("no cache dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(t.TempDir(), "cache")); !os.IsNotExist(err) {
		t.Fatalf("a cache was created: %v", err)
	}
}

func TestProgressAddsUp(t *testing.T) {
	p := newProgress("h", 3)
	p.update(0, prefetch.Progress{Done: 5, Total: 10})
	p.update(1, prefetch.Progress{Done: 1, Total: 4})
	if s := p.snapshot(); s.Bytes != -1 || s.BytesDone != 6 || s.Done != 0 || s.Items != 3 {
		t.Fatalf("with a size unknown: %+v", s)
	}
	p.update(2, prefetch.Progress{Done: 0, Total: 6})
	p.finish(0, prefetch.Result{Size: 10, Downloaded: 10}, nil)
	p.finish(1, prefetch.Result{}, errors.New("failed"))
	if s := p.snapshot(); s.Bytes != 20 || s.BytesDone != 11 || s.Done != 1 || s.Downloaded != 10 {
		t.Fatalf("snapshot %+v", s)
	}
}

func TestFetchStalledIsRetryable(t *testing.T) {
	e := newEnv(t)
	e.acts.StallTimeout = 50 * time.Millisecond
	e.acts.HeartbeatEvery = 5 * time.Millisecond
	res, err := e.fetch(activities.PreheatFile{URL: e.srv.URL + "/stall"})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrPreheatFailed || app.NonRetryable() || !strings.Contains(err.Error(), "stalled: no data for 50ms") {
		t.Fatalf("stalled download: %v; want a retryable error saying it stalled", err)
	}
	if res.Items != 1 {
		t.Fatalf("report %+v", res)
	}
	if entries, _ := filepath.Glob(filepath.Join(e.acts.CacheDir, "index", "*")); len(entries) != 0 {
		t.Fatalf("a stalled download left index entries: %v", entries)
	}
}

func TestCheckNamesWhatWouldFail(t *testing.T) {
	e := newEnv(t)
	e.acts.LookupEnv = func(k string) (string, bool) { return "x", k == "SET" }
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := e.env.ExecuteActivity(activities.CheckPreheat, activities.CheckPreheatRequest{
		Path:    "plans[2].preheat",
		Headers: activities.HeaderRefs{"Authorization": "Bearer ${UNSET}", "X-Ok": "${SET}"},
		Cache:   activities.CacheSpec{Dir: notDir},
	})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.CheckPreheatResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"plans[2].preheat.headers.Authorization: environment variable UNSET is not set on host test-host",
		"plans[2].preheat.cache.dir: cache on test-host: open cache " + notDir,
	}
	if len(res.Problems) != 2 || res.Problems[0] != want[0] || !strings.HasPrefix(res.Problems[1], want[1]) {
		t.Fatalf("problems %q; want %q", res.Problems, want)
	}
	v, err = e.env.ExecuteActivity(activities.CheckPreheat, activities.CheckPreheatRequest{Path: "p", Headers: activities.HeaderRefs{"X-Ok": "${SET}"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Get(&res); err != nil || len(res.Problems) != 0 {
		t.Fatalf("a usable preheat: %q (%v)", res.Problems, err)
	}
}

// TestCheckLeavesAGuardedCacheAlone: a cache on a drive that a path_exists
// precondition waits for is noted, not refused, and not created.
func TestCheckLeavesAGuardedCacheAlone(t *testing.T) {
	e := newEnv(t)
	drive := filepath.Join(t.TempDir(), "usb")
	cache := filepath.Join(drive, "cache")
	v, err := e.env.ExecuteActivity(activities.CheckPreheat, activities.CheckPreheatRequest{
		Path: "plans[0].preheat", Cache: activities.CacheSpec{Dir: cache},
		Guards: []activities.Guard{{Path: drive}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.CheckPreheatResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 || len(res.Notes) != 1 || !strings.HasPrefix(res.Notes[0], "plans[0].preheat.cache.dir: "+cache+" is not checked now: it lies under precondition path_exists "+drive) {
		t.Fatalf("problems %q notes %q", res.Problems, res.Notes)
	}
	if _, err := os.Stat(drive); !os.IsNotExist(err) {
		t.Fatalf("the check created the drive's directory: %v", err)
	}
}
