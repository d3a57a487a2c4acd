package prefetch

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Request is one file to preheat.
type Request struct {
	URL string
	// Headers are sent with every request; values may hold ${ENV} references.
	Headers map[string]string
	// ExpectDigest ("sha256:<hex>", optional) is the content's digest; content
	// that does not match is rejected and never cached.
	ExpectDigest string
	// FilteredQueryParams are left out of the cache key (nil: the defaults).
	FilteredQueryParams []string
	// MaxSize rejects larger content (0: unlimited).
	MaxSize       int64
	AllowLoopback bool
	AllowPrivate  bool
}

// Result says where a fetched file is and how it got there.
type Result struct {
	Key        string
	Digest     string
	Size       int64
	Path       string // the blob file in the cache
	Downloaded int64  // body bytes transferred by this call
	Cached     bool   // served from the cache (possibly after a 304)
	Resumed    bool   // continued a partial download with Range
}

// Progress reports a download's state; Total is -1 when unknown.
type Progress struct {
	Key        string
	Done       int64 // bytes of the file held, including resumed ones
	Total      int64
	Downloaded int64 // bytes transferred by this call
}

// Fetcher downloads files into a Cache. It is safe for concurrent use, and
// other processes may download into the same cache directory at the same
// time: downloads of one key are serialised across all of them (see Cache).
type Fetcher struct {
	cache     *Cache
	lookupEnv func(string) (string, bool)

	mu      sync.Mutex
	clients map[Policy]*http.Client
	keys    map[string]*keyLock // in-process half of the key locks

	public netip.AddrPort // see Policy.public; tests only
}

// keyLock lets one goroutine at a time download a key; refs counts holders
// and waiters, so that the map entry goes when nobody needs it.
type keyLock struct {
	ch   chan struct{} // holds a token while locked
	refs int
}

// NewFetcher returns a Fetcher storing into cache. lookupEnv resolves ${ENV}
// references in header values (the activity passes os.LookupEnv); nil makes
// every reference an error.
func NewFetcher(cache *Cache, lookupEnv func(string) (string, bool)) *Fetcher {
	return &Fetcher{cache: cache, lookupEnv: lookupEnv, clients: map[Policy]*http.Client{}, keys: map[string]*keyLock{}}
}

// partialMeta is stored next to a partial download: the validators that let
// a later call resume it with If-Range.
type partialMeta struct {
	Key          string `json:"key"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// Fetch makes req's content available in the cache and returns where it is.
//
// A cached entry costs no download: it is returned as is when its digest is
// the expected one, else revalidated with If-None-Match / If-Modified-Since.
// An interrupted download stays in the cache's tmp/ directory and the next
// call for the same key resumes it with Range (restarting if the server
// ignores Range or the content changed). Content that fails verification is
// deleted, never cached. progress, if not nil, is called as bytes arrive.
//
// While another goroutine or process downloads the same key, Fetch waits
// for it (or for ctx to end) and then normally finds its entry.
func (f *Fetcher) Fetch(ctx context.Context, req Request, progress func(Progress)) (Result, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return Result{}, fmt.Errorf("fetch %q: %w", req.URL, err)
	}
	policy := Policy{AllowLoopback: req.AllowLoopback, AllowPrivate: req.AllowPrivate, public: f.public}
	if err := policy.CheckURL(u); err != nil {
		return Result{}, fmt.Errorf("fetch: %w", err)
	}
	if err := checkDigest(req.ExpectDigest); err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	headers, err := expandHeaders(req.Headers, f.lookupEnv)
	if err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	key, err := Key(req.URL, req.FilteredQueryParams)
	if err != nil {
		return Result{}, err
	}
	unlock, err := f.lock(ctx, key)
	if err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", key, err)
	}
	defer unlock()

	d := &download{f: f, req: req, key: key, headers: headers, client: f.client(policy), progress: progress}
	res, err := d.run(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", key, err)
	}
	return res, nil
}

func (f *Fetcher) client(p Policy) *http.Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[p]
	if !ok {
		c = p.Client()
		f.clients[p] = c
	}
	return c
}

// lock takes key's download lock: first among this Fetcher's goroutines,
// then among processes (the cache's lock file for the key). It gives up when
// ctx ends.
func (f *Fetcher) lock(ctx context.Context, key string) (unlock func(), err error) {
	f.mu.Lock()
	kl := f.keys[key]
	if kl == nil {
		kl = &keyLock{ch: make(chan struct{}, 1)}
		f.keys[key] = kl
	}
	kl.refs++
	f.mu.Unlock()
	release := func() {
		f.mu.Lock()
		if kl.refs--; kl.refs == 0 {
			delete(f.keys, key)
		}
		f.mu.Unlock()
	}
	select {
	case kl.ch <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("waiting for another download of the same key: %w", ctx.Err())
	}
	fl, err := f.cache.lockKey(ctx, key)
	if err != nil {
		<-kl.ch
		release()
		return nil, err
	}
	return func() {
		fl.unlock()
		<-kl.ch
		release()
	}, nil
}

// download is one Fetch call's state.
type download struct {
	f        *Fetcher
	req      Request
	key      string
	headers  map[string]string
	client   *http.Client
	progress func(Progress)
	// size, if known (> 0), closes resume ranges: some registries (such
	// as go-containerregistry's) refuse an open "bytes=N-".
	size int64
}

// maxAttempts bounds how often a download starts over because its cache
// entry went while it used it (see errGone).
const maxAttempts = 3

// run makes the content available, from the cache or the server. The
// caller holds the key's lock.
func (d *download) run(ctx context.Context) (Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := d.attempt(ctx)
		if !errors.Is(err, errGone) || attempt == maxAttempts {
			return res, err
		}
	}
}

func (d *download) attempt(ctx context.Context) (Result, error) {
	c := d.f.cache
	e, err := c.Lookup(d.key)
	hit := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Result{}, err
	}
	if hit && d.req.ExpectDigest != "" && e.Digest == d.req.ExpectDigest {
		return d.cached(e, false)
	}
	if d.req.ExpectDigest != "" {
		if e, ok, err := c.adopt(d.key, d.req.ExpectDigest); err != nil {
			return Result{}, err
		} else if ok {
			return d.cached(e, false)
		}
	}
	if hit && d.req.ExpectDigest == "" && (e.ETag != "" || e.LastModified != "") {
		resp, err := d.get(ctx, func(h http.Header) {
			if e.ETag != "" {
				h.Set("If-None-Match", e.ETag)
			}
			if e.LastModified != "" {
				h.Set("If-Modified-Since", e.LastModified)
			}
		})
		if err != nil {
			return Result{}, err
		}
		if resp.StatusCode == http.StatusNotModified {
			resp.Body.Close()
			return d.cached(e, true)
		}
		// Changed: download it, from scratch.
		if err := d.removePartial(); err != nil {
			resp.Body.Close()
			return Result{}, err
		}
		return d.receive(resp, 0, sha256.New())
	}

	offset, h, pm, err := d.loadPartial()
	if err != nil {
		return Result{}, err
	}
	resp, err := d.get(ctx, func(hd http.Header) {
		if offset > 0 {
			if d.size > offset {
				hd.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, d.size-1))
			} else {
				hd.Set("Range", fmt.Sprintf("bytes=%d-", offset))
			}
			if strongETag(pm.ETag) {
				hd.Set("If-Range", pm.ETag)
			} else if pm.LastModified != "" {
				hd.Set("If-Range", pm.LastModified)
			}
		}
	})
	if err != nil {
		return Result{}, err
	}
	if offset > 0 && resp.StatusCode == http.StatusPartialContent {
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); ok && start == offset {
			return d.receive(resp, offset, h)
		}
	}
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable || resp.StatusCode == http.StatusPartialContent {
		// Not the range asked for: start again without one.
		resp.Body.Close()
		if err := d.removePartial(); err != nil {
			return Result{}, err
		}
		resp, err = d.get(ctx, func(http.Header) {})
		if err != nil {
			return Result{}, err
		}
	}
	// A 200 to a Range request means the server ignored it (or If-Range
	// found the content changed): receive writes from byte 0.
	return d.receive(resp, 0, sha256.New())
}

// cached returns the entry as the result, marking it used; errGone if it
// went meanwhile.
func (d *download) cached(e Entry, revalidated bool) (Result, error) {
	e, err := d.f.cache.markUsed(e.Key, e.Digest, revalidated)
	if err != nil {
		return Result{}, err
	}
	if d.progress != nil {
		d.progress(Progress{Key: d.key, Done: e.Size, Total: e.Size})
	}
	return Result{Key: d.key, Digest: e.Digest, Size: e.Size, Path: d.f.cache.blobPath(e.Digest), Cached: true}, nil
}

// get sends a GET with the request's headers plus set's; it fails on statuses
// other than 200, 206, 304 and 416.
func (d *download) get(ctx context.Context, set func(http.Header)) (*http.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, d.req.URL, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range d.headers {
		hr.Header.Set(k, v)
	}
	// Transparent gzip would make Content-Length and Range refer to other
	// bytes than the ones stored.
	hr.Header.Set("Accept-Encoding", "identity")
	set(hr.Header)
	resp, err := d.client.Do(hr)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent, http.StatusNotModified, http.StatusRequestedRangeNotSatisfiable:
		return resp, nil
	}
	resp.Body.Close()
	return nil, fmt.Errorf("GET: %s", resp.Status)
}

// receive writes resp's body to the partial file from offset on (h has hashed
// the bytes before offset) and, once complete and verified, commits it.
func (d *download) receive(resp *http.Response, offset int64, h hash.Hash) (Result, error) {
	defer resp.Body.Close()
	want := http.StatusOK
	if offset > 0 {
		want = http.StatusPartialContent
	}
	if resp.StatusCode != want {
		return Result{}, fmt.Errorf("GET: unexpected %s", resp.Status)
	}
	total := int64(-1)
	if resp.ContentLength >= 0 {
		total = offset + resp.ContentLength
	}
	if d.req.MaxSize > 0 && total > d.req.MaxSize {
		_ = d.removePartial()
		return Result{}, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrTooLarge, total, d.req.MaxSize)
	}
	meta := Meta{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	part := d.partialPath()
	if offset == 0 {
		// Record the validators first, so that a later call can resume
		// even if this process dies mid-body.
		if err := d.savePartialMeta(meta); err != nil {
			return Result{}, err
		}
	}
	flag := os.O_WRONLY | os.O_CREATE
	if offset == 0 {
		flag |= os.O_TRUNC
	} else {
		flag |= os.O_APPEND
	}
	file, err := os.OpenFile(part, flag, filePerm)
	if err != nil {
		return Result{}, err
	}
	defer file.Close()

	done, downloaded := offset, int64(0)
	hx := newHasher(h)
	defer hx.sum()
	wb := writeback{f: file, off: offset, queued: offset}
	for {
		buf := hx.buffer()
		n, rerr := fill(resp.Body, buf)
		if n == 0 {
			hx.recycle(buf)
		} else {
			if d.req.MaxSize > 0 && done+int64(n) > d.req.MaxSize {
				file.Close()
				_ = d.removePartial()
				return Result{}, fmt.Errorf("%w: more than the limit of %d bytes", ErrTooLarge, d.req.MaxSize)
			}
			if _, err := file.Write(buf[:n]); err != nil {
				return Result{}, err
			}
			hx.add(buf[:n])
			wb.wrote(n)
			done += int64(n)
			downloaded += int64(n)
			if d.progress != nil {
				d.progress(Progress{Key: d.key, Done: done, Total: total, Downloaded: downloaded})
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// Keep the partial file: the next call resumes it.
			if errors.Is(rerr, io.ErrUnexpectedEOF) {
				return Result{}, fmt.Errorf("%w: %s: %v", ErrTruncated, received(done, total), rerr)
			}
			return Result{}, fmt.Errorf("read body after %d bytes: %w", done, rerr)
		}
	}
	if total >= 0 && done != total {
		return Result{}, fmt.Errorf("%w: %s", ErrTruncated, received(done, total))
	}
	if err := file.Sync(); err != nil {
		return Result{}, err
	}
	if err := file.Close(); err != nil {
		return Result{}, err
	}
	e, err := d.f.cache.commit(d.key, part, hx.sum(), done, d.req.ExpectDigest, meta)
	if err != nil {
		// Corrupt content is not worth resuming.
		_ = d.removePartial()
		return Result{}, err
	}
	_ = os.Remove(d.partialMetaPath())
	_ = os.Remove(part) // still there if the blob was already cached
	return Result{Key: d.key, Digest: e.Digest, Size: e.Size, Path: d.f.cache.blobPath(e.Digest), Downloaded: downloaded, Resumed: offset > 0}, nil
}

// received says how much of a body of total bytes (-1: unknown) arrived.
func received(done, total int64) string {
	if total < 0 {
		return fmt.Sprintf("got %d bytes, then the connection ended before the end of the body (length not declared)", done)
	}
	return fmt.Sprintf("got %d of %d bytes", done, total)
}

// loadPartial returns how many bytes of key a previous call left, their hash
// state and the validators they came with. Without a validator or an expected
// digest a partial file cannot be trusted to continue, and is dropped.
func (d *download) loadPartial() (int64, hash.Hash, partialMeta, error) {
	h := sha256.New()
	b, err := os.ReadFile(d.partialMetaPath())
	if errors.Is(err, fs.ErrNotExist) {
		return 0, h, partialMeta{}, nil
	}
	if err != nil {
		return 0, nil, partialMeta{}, err
	}
	var pm partialMeta
	if json.Unmarshal(b, &pm) != nil || pm.Key != d.key || (!strongETag(pm.ETag) && pm.LastModified == "" && d.req.ExpectDigest == "") {
		return 0, h, partialMeta{}, d.removePartial()
	}
	file, err := os.Open(d.partialPath())
	if errors.Is(err, fs.ErrNotExist) {
		return 0, h, pm, nil
	}
	if err != nil {
		return 0, nil, partialMeta{}, err
	}
	defer file.Close()
	n, err := io.Copy(h, file)
	if err != nil {
		return 0, nil, partialMeta{}, err
	}
	return n, h, pm, nil
}

func (d *download) savePartialMeta(m Meta) error {
	b, err := json.Marshal(partialMeta{Key: d.key, ETag: m.ETag, LastModified: m.LastModified})
	if err != nil {
		return err
	}
	return os.WriteFile(d.partialMetaPath(), b, filePerm)
}

func (d *download) removePartial() error {
	for _, p := range []string{d.partialPath(), d.partialMetaPath()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (d *download) partialPath() string {
	return filepath.Join(d.f.cache.tmpDir(), "partial-"+keyHash(d.key))
}

func (d *download) partialMetaPath() string { return d.partialPath() + ".json" }

// partialKeyHash returns the key hash in the name of a partial file or its
// metadata.
func partialKeyHash(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "partial-")
	if !ok {
		return "", false
	}
	return strings.TrimSuffix(rest, ".json"), true
}

// strongETag reports whether an ETag may validate a Range (RFC 9110 13.1.5).
func strongETag(etag string) bool { return etag != "" && !strings.HasPrefix(etag, "W/") }

// rangeStart parses the first byte position of "bytes N-M/T".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
