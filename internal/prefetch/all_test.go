package prefetch

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

func TestFetchAllBoundsConcurrency(t *testing.T) {
	const files, limit = 12, 3
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n == limit {
			// Hold until the limit is reached once, so that the test sees
			// whether more would start.
			once.Do(func() { close(release) })
		}
		<-release
		fmt.Fprintf(w, "file %s", r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	f, c := testFetcher(t, nil)
	var items []Item
	for i := range files {
		items = append(items, Item{File: &Request{URL: fmt.Sprintf("%s/%d", srv.URL, i), AllowLoopback: true}})
	}
	results, errs := f.FetchAll(context.Background(), items, limit, Watch{})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		checkBlob(t, results[i], fmt.Appendf(nil, "file /%d", i))
	}
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrency %d, want %d", p, limit)
	}
	if l, _ := c.List(); len(l) != files {
		t.Errorf("cached %d files, want %d", len(l), files)
	}
}
