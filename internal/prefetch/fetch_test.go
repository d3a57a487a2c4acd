package prefetch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// origin is a test file server on loopback that counts requests and body
// bytes and remembers the headers it got.
type origin struct {
	*httptest.Server
	mu      sync.Mutex
	content []byte
	etag    string
	reqs    []http.Header
	sent    atomic.Int64
	// serve, when set, replaces the default handler (http.ServeContent).
	serve func(w http.ResponseWriter, r *http.Request, n int)
}

var modTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func newOrigin(t *testing.T, content []byte) *origin {
	t.Helper()
	o := &origin{content: content, etag: `"v1"`}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.reqs = append(o.reqs, r.Header.Clone())
		n, content, etag, serve := len(o.reqs), o.content, o.etag, o.serve
		o.mu.Unlock()
		cw := &countingWriter{ResponseWriter: w, n: &o.sent}
		if serve != nil {
			serve(cw, r, n)
			return
		}
		w.Header().Set("ETag", etag)
		http.ServeContent(cw, r, "f", modTime, bytes.NewReader(content))
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) requests() []http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reqs
}

func (o *origin) set(f func(o *origin)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(o)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

func (w *countingWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

func testFetcher(t *testing.T, env map[string]string) (*Fetcher, *Cache) {
	t.Helper()
	c, _ := testCache(t, CacheOptions{})
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return NewFetcher(c, lookup), c
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func fetchOK(t *testing.T, f *Fetcher, req Request) Result {
	t.Helper()
	res, err := f.Fetch(context.Background(), req, nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return res
}

func checkBlob(t *testing.T, res Result, want []byte) {
	t.Helper()
	got, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || res.Digest != digestOf(want) || res.Size != int64(len(want)) {
		t.Errorf("cached %d bytes %s, want %d bytes %s", len(got), res.Digest, len(want), digestOf(want))
	}
}

func TestFetchSecondTimeDownloadsNothing(t *testing.T) {
	content := payload(300_000)
	o := newOrigin(t, content)
	f, _ := testFetcher(t, nil)
	req := Request{URL: o.URL + "/model.bin", AllowLoopback: true}

	var last Progress
	res, err := f.Fetch(context.Background(), req, func(p Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	checkBlob(t, res, content)
	if res.Downloaded != int64(len(content)) || res.Cached {
		t.Errorf("first fetch: %+v", res)
	}
	if last.Done != int64(len(content)) || last.Total != int64(len(content)) {
		t.Errorf("last progress = %+v", last)
	}

	sent := o.sent.Load()
	res = fetchOK(t, f, req)
	checkBlob(t, res, content)
	if !res.Cached || res.Downloaded != 0 || o.sent.Load() != sent {
		t.Errorf("second fetch: %+v, server sent %d more bytes; want a cache hit", res, o.sent.Load()-sent)
	}
	reqs := o.requests()
	if len(reqs) != 2 || reqs[1].Get("If-None-Match") != `"v1"` || reqs[1].Get("If-Modified-Since") == "" {
		t.Errorf("requests = %v, want a revalidation second", reqs)
	}

	// With the digest known, a hit needs no request at all.
	req.ExpectDigest = digestOf(content)
	res = fetchOK(t, f, req)
	if !res.Cached || len(o.requests()) != 2 {
		t.Errorf("fetch with digest: %+v after %d requests, want a hit without a request", res, len(o.requests()))
	}
}

func TestFetchRevalidationGetsChangedContent(t *testing.T) {
	o := newOrigin(t, []byte("version 1"))
	f, c := testFetcher(t, nil)
	req := Request{URL: o.URL + "/f", AllowLoopback: true}
	fetchOK(t, f, req)
	o.set(func(o *origin) { o.content, o.etag = []byte("version 2!"), `"v2"` })
	res := fetchOK(t, f, req)
	checkBlob(t, res, []byte("version 2!"))
	if res.Cached {
		t.Error("changed content reported as cached")
	}
	if l, _ := c.List(); len(l) != 1 || l[0].ETag != `"v2"` {
		t.Errorf("index = %+v, want one entry with the new etag", l)
	}
}

func TestFetchKeyIgnoresSignatureParams(t *testing.T) {
	o := newOrigin(t, []byte("signed"))
	f, _ := testFetcher(t, nil)
	a := fetchOK(t, f, Request{URL: o.URL + "/f?b=2&X-Amz-Signature=aaa&a=1", AllowLoopback: true})
	b := fetchOK(t, f, Request{URL: o.URL + "/f?a=1&b=2&X-Amz-Signature=bbb&X-Amz-Date=1", AllowLoopback: true})
	if a.Key != b.Key || !b.Cached || strings.Contains(a.Key, "Signature") {
		t.Errorf("keys %q, %q (second cached %v), want one key without the signature", a.Key, b.Key, b.Cached)
	}
}

func TestFetchResumesAfterInterruption(t *testing.T) {
	content := payload(1 << 20)
	o := newOrigin(t, content)
	o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("ETag", `"v1"`)
		if n == 1 {
			// Cut the connection half-way.
			w.Header().Set("Content-Length", fmt.Sprint(len(content)))
			w.Write(content[:len(content)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "f", modTime, bytes.NewReader(content))
	}
	f, c := testFetcher(t, nil)
	req := Request{URL: o.URL + "/big", ExpectDigest: digestOf(content), AllowLoopback: true}
	_, err := f.Fetch(context.Background(), req, nil)
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("interrupted fetch = %v, want ErrTruncated", err)
	}
	assertEmpty(t, c)

	res := fetchOK(t, f, req)
	checkBlob(t, res, content)
	reqs := o.requests()
	if got := reqs[1].Get("Range"); got != fmt.Sprintf("bytes=%d-", len(content)/2) {
		t.Errorf("second request Range = %q", got)
	}
	if reqs[1].Get("If-Range") != `"v1"` {
		t.Errorf("second request If-Range = %q", reqs[1].Get("If-Range"))
	}
	if !res.Resumed || res.Downloaded != int64(len(content)-len(content)/2) {
		t.Errorf("result %+v, want resumed with the second half downloaded", res)
	}
	if tmp := files(t, c.Dir(), "tmp"); len(tmp) != 0 {
		t.Errorf("tmp/ = %v after completion, want empty", tmp)
	}
}

func TestFetchRestartsWhenRangeIgnored(t *testing.T) {
	content := payload(100_000)
	o := newOrigin(t, content)
	o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		if n == 1 {
			w.Write(content[:len(content)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		w.Write(content) // 200, whatever the Range
	}
	f, _ := testFetcher(t, nil)
	req := Request{URL: o.URL + "/f", AllowLoopback: true}
	if _, err := f.Fetch(context.Background(), req, nil); !errors.Is(err, ErrTruncated) {
		t.Fatalf("first fetch = %v, want ErrTruncated", err)
	}
	res := fetchOK(t, f, req)
	checkBlob(t, res, content)
	if o.requests()[1].Get("Range") == "" || res.Resumed || res.Downloaded != int64(len(content)) {
		t.Errorf("result %+v; want a Range request answered in full", res)
	}
}

func TestFetchRejectsTamperedContent(t *testing.T) {
	content := payload(50_000)
	o := newOrigin(t, content)
	o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
		bad := bytes.Clone(content)
		bad[1000] ^= 0xff
		w.Write(bad)
	}
	f, c := testFetcher(t, nil)
	_, err := f.Fetch(context.Background(), Request{URL: o.URL + "/f", ExpectDigest: digestOf(content), AllowLoopback: true}, nil)
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), digestOf(content)) {
		t.Fatalf("Fetch = %v, want a digest mismatch naming the expected digest", err)
	}
	assertEmpty(t, c)
	if tmp := files(t, c.Dir(), "tmp"); len(tmp) != 0 {
		t.Errorf("tmp/ = %v, want the rejected download gone", tmp)
	}
}

// rawServer answers every connection with resp and closes it: it can lie in
// ways net/http's server refuses to.
func rawServer(t *testing.T, resp string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				bufio.NewReader(conn).ReadString('\n') // the request line is enough
				conn.Write([]byte(resp))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestFetchRejectsBodyShorterThanContentLength(t *testing.T) {
	u := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"+strings.Repeat("x", 500))
	f, c := testFetcher(t, nil)
	_, err := f.Fetch(context.Background(), Request{URL: u + "/f", AllowLoopback: true}, nil)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "500 of 1000") {
		t.Fatalf("Fetch = %v, want truncated 500 of 1000", err)
	}
	assertEmpty(t, c)
}

func TestFetchRejectsBodyLongerThanContentLength(t *testing.T) {
	body := strings.Repeat("y", 200)
	u := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"+body)
	f, c := testFetcher(t, nil)
	_, err := f.Fetch(context.Background(), Request{URL: u + "/f", ExpectDigest: digestOf([]byte(body)), AllowLoopback: true}, nil)
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Fetch = %v, want a digest mismatch", err)
	}
	assertEmpty(t, c)
}

// Without an expected digest a body longer than its Content-Length cannot
// be told from a short one followed by junk: HTTP/1.1 (RFC 9112, 6.3) makes
// the declared length the message, and net/http reads exactly that many
// bytes and drops the connection. What is cached is the declared bytes,
// never more.
func TestFetchBodyLongerThanContentLengthKeepsDeclaredBytes(t *testing.T) {
	body := strings.Repeat("y", 100) + strings.Repeat("z", 100)
	u := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"+body)
	f, _ := testFetcher(t, nil)
	res := fetchOK(t, f, Request{URL: u + "/f", AllowLoopback: true})
	checkBlob(t, res, []byte(body[:100]))
}

func TestFetchReportsCutChunkedBody(t *testing.T) {
	u := rawServer(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10\r\n0123456789abcdef\r\n")
	f, c := testFetcher(t, nil)
	_, err := f.Fetch(context.Background(), Request{URL: u + "/f", AllowLoopback: true}, nil)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "got 16 bytes") || strings.Contains(err.Error(), "-1") {
		t.Fatalf("Fetch = %v, want truncated after 16 bytes of an undeclared length", err)
	}
	assertEmpty(t, c)
}

func TestFetchRejectsMoreThanMaxSize(t *testing.T) {
	content := payload(10_000)
	o := newOrigin(t, content)
	f, c := testFetcher(t, nil)
	_, err := f.Fetch(context.Background(), Request{URL: o.URL + "/f", MaxSize: 4096, AllowLoopback: true}, nil)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "4096") {
		t.Fatalf("declared size: Fetch = %v, want ErrTooLarge naming the limit", err)
	}
	// Without a Content-Length the limit holds while reading.
	o.set(func(o *origin) {
		o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
			for i := 0; i < len(content); i += 1000 {
				w.Write(content[i : i+1000])
				w.(http.Flusher).Flush()
			}
		}
	})
	_, err = f.Fetch(context.Background(), Request{URL: o.URL + "/chunked", MaxSize: 4096, AllowLoopback: true}, nil)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("chunked: Fetch = %v, want ErrTooLarge", err)
	}
	assertEmpty(t, c)
	if tmp := files(t, c.Dir(), "tmp"); len(tmp) != 0 {
		t.Errorf("tmp/ = %v, want empty", tmp)
	}
}

func TestFetchRefusesForbiddenURLs(t *testing.T) {
	f, c := testFetcher(t, nil)
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{URL: "http://169.254.169.254/latest/meta-data/", AllowLoopback: true, AllowPrivate: true}, "cloud metadata"},
		{Request{URL: "http://[fd00:ec2::254]/", AllowPrivate: true}, "cloud metadata"},
		{Request{URL: "http://100.100.100.200/", AllowPrivate: true}, "cloud metadata"},
		{Request{URL: "http://169.254.10.1/", AllowPrivate: true}, "link-local"},
		{Request{URL: "http://[fe80::1]/"}, "link-local"},
		{Request{URL: "http://127.0.0.1:1/"}, "loopback"},
		{Request{URL: "http://10.1.2.3/"}, "private"},
		{Request{URL: "file:///etc/passwd", AllowLoopback: true}, `scheme "file"`},
		{Request{URL: "ftp://example.com/f"}, `scheme "ftp"`},
	} {
		_, err := f.Fetch(context.Background(), tc.req, nil)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want refused: %s", tc.req.URL, err, tc.want)
		}
	}
	assertEmpty(t, c)
}

// publicOrigin is an origin that the fetcher treats as a public server,
// although it listens on loopback like everything in tests.
func publicOrigin(t *testing.T, f *Fetcher, content []byte) *origin {
	o := newOrigin(t, content)
	f.public = netip.MustParseAddrPort(o.Listener.Addr().String())
	return o
}

func TestFetchRefusesRedirectToLoopback(t *testing.T) {
	target := newOrigin(t, []byte("internal secret"))
	f, c := testFetcher(t, nil)
	o := publicOrigin(t, f, []byte("public"))
	port := target.Listener.Addr().(*net.TCPAddr).Port
	base := strings.Replace(o.URL, "127.0.0.1", "localhost", 1)

	// The public server itself is reachable.
	o.set(func(o *origin) {
		o.serve = func(w http.ResponseWriter, r *http.Request, n int) { w.Write([]byte("public")) }
	})
	fetchOK(t, f, Request{URL: base + "/plain"})
	o.set(func(o *origin) {
		o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
			to := fmt.Sprintf("http://127.0.0.1:%d/", port)
			if r.URL.Path == "/by-name" {
				to = fmt.Sprintf("http://localhost:%d/", port) // caught at dial time
			}
			http.Redirect(w, r, to, http.StatusFound)
		}
	})
	for _, path := range []string{"/by-address", "/by-name"} {
		_, err := f.Fetch(context.Background(), Request{URL: base + path}, nil)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v, want the redirect to loopback refused", path, err)
		}
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("loopback target got %d requests", n)
	}
	if l, _ := c.List(); len(l) != 1 {
		t.Errorf("cache = %+v, want only the public file", l)
	}
}

func TestFetchRefusesRedirectToMetadataEvenWhenAllAllowed(t *testing.T) {
	f, c := testFetcher(t, nil)
	o := newOrigin(t, nil)
	o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/", http.StatusFound)
	}
	_, err := f.Fetch(context.Background(), Request{URL: o.URL + "/", AllowLoopback: true, AllowPrivate: true}, nil)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "redirect") || !strings.Contains(err.Error(), "169.254.169.254 is a cloud metadata address") {
		t.Errorf("Fetch = %v, want the redirect to the metadata address refused", err)
	}
	assertEmpty(t, c)
}

// A host name is checked once resolved, when dialled: the guard's dial hook
// refuses metadata and link-local addresses whatever the plan allows.
func TestDialRefusesMetadataAndLinkLocal(t *testing.T) {
	p := Policy{AllowLoopback: true, AllowPrivate: true}
	for _, tc := range []struct{ addr, want string }{
		{"169.254.169.254:80", "cloud metadata"},
		{"[::ffff:169.254.169.254]:80", "cloud metadata"},
		{"[fd00:ec2::254]:80", "cloud metadata"},
		{"169.254.1.1:443", "link-local"},
		{"[64:ff9b::a9fe:a9fe]:80", "169.254.169.254 is a cloud metadata address (through NAT64 address 64:ff9b::a9fe:a9fe)"},
	} {
		if err := p.control("tcp", tc.addr, nil); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("dial %s: %v, want refused: %s", tc.addr, err, tc.want)
		}
	}
	if err := p.control("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("dial loopback with loopback allowed: %v", err)
	}
	if err := (Policy{}).control("tcp", "[64:ff9b::7f00:1]:80", nil); !errors.Is(err, ErrRefused) {
		t.Errorf("dial loopback through NAT64 with loopback not allowed: %v", err)
	}
	if err := (Policy{}).control("tcp", "[64:ff9b::808:808]:53", nil); err != nil {
		t.Errorf("dial a public address through NAT64: %v", err)
	}
}

func TestFetchRefusesRedirectToFile(t *testing.T) {
	f, _ := testFetcher(t, nil)
	o := newOrigin(t, nil)
	o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	}
	_, err := f.Fetch(context.Background(), Request{URL: o.URL + "/", AllowLoopback: true}, nil)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("Fetch = %v, want the redirect refused", err)
	}
}

func TestFetchStopsAfterTenRedirects(t *testing.T) {
	f, _ := testFetcher(t, nil)
	o := newOrigin(t, []byte("end"))
	o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
		var i int
		fmt.Sscanf(r.URL.Path, "/%d", &i)
		if i == 0 {
			w.Write([]byte("end"))
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/%d", i-1), http.StatusFound)
	}
	fetchOK(t, f, Request{URL: o.URL + "/10", AllowLoopback: true})
	_, err := f.Fetch(context.Background(), Request{URL: o.URL + "/11", AllowLoopback: true}, nil)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("11 redirects: %v, want refused", err)
	}
}

func TestFetchResolvesEnvInHeaders(t *testing.T) {
	o := newOrigin(t, []byte("private model"))
	o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("private model"))
	}
	f, _ := testFetcher(t, map[string]string{"MODEL_TOKEN": "s3cret"})
	res := fetchOK(t, f, Request{URL: o.URL + "/m", Headers: map[string]string{"Authorization": "Bearer ${MODEL_TOKEN}"}, AllowLoopback: true})
	checkBlob(t, res, []byte("private model"))

	_, err := f.Fetch(context.Background(), Request{URL: o.URL + "/m", Headers: map[string]string{"Authorization": "Bearer ${OTHER_TOKEN}"}, AllowLoopback: true}, nil)
	if !errors.Is(err, ErrEnv) || !strings.Contains(err.Error(), "OTHER_TOKEN") || !strings.Contains(err.Error(), "Authorization") {
		t.Errorf("unset variable: %v, want an error naming OTHER_TOKEN and the header", err)
	}
	if n := len(o.requests()); n != 1 {
		t.Errorf("server got %d requests, want none for the unresolved header", n)
	}
}
