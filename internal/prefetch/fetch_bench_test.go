package prefetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFetchLarge fetches one 256 MiB file served from disk on loopback,
// digest verified and fsynced, into a fresh cache each time: the engine's
// share of a preheat (bench/preheat compares the product path with curl).
func BenchmarkFetchLarge(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	src := filepath.Join(dir, "big.bin")
	data := payload(size)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		b.Fatal(err)
	}
	digest := digestOf(data)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, src) }))
	defer srv.Close()
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		c, err := OpenCache(filepath.Join(dir, "cache", time.Now().Format("150405.000000000")), CacheOptions{Now: time.Now})
		if err != nil {
			b.Fatal(err)
		}
		f := NewFetcher(c, nil)
		if _, err := f.Fetch(context.Background(), Request{URL: srv.URL + "/big.bin", ExpectDigest: digest, AllowLoopback: true}, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = os.RemoveAll(c.Dir())
		b.StartTimer()
	}
}
