// Package preheat implements steward's preheat activities (PreheatResolve,
// PreheatFetch, PreheatEvict) over the prefetch engine, internal/prefetch.
//
// Header secrets (${ENV} references) are resolved here, on the host that
// fetches, so they never reach workflow history. Fetches heartbeat their
// progress, so cancellation reaches them and a killed worker is noticed;
// engine errors become application errors whose types (from package
// activities) decide retryability.
package preheat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/precheck"
	"github.com/steward-ops/steward/internal/prefetch"
)

// Activities are the preheat activities and what they depend on. Use New,
// then change fields before registering.
type Activities struct {
	// Client reads the host registry for hosts: all.
	Client client.Client
	// Hostname names this host in reports.
	Hostname string
	// CacheDir is the cache of preheats that name no cache.dir.
	CacheDir string
	// LookupEnv resolves ${ENV} references in headers; New sets
	// os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// HeartbeatEvery is how often a fetch reports progress.
	HeartbeatEvery time.Duration
	// StallTimeout fails a fetch attempt (to be retried, resuming) when no
	// byte arrived for this long.
	StallTimeout time.Duration
	// Now is the clock of the cache's use times.
	Now func() time.Time
}

// New returns the activities with their real dependencies.
func New(c client.Client, hostname, cacheDir string) *Activities {
	return &Activities{
		Client:         c,
		Hostname:       hostname,
		CacheDir:       cacheDir,
		LookupEnv:      os.LookupEnv,
		HeartbeatEvery: time.Second,
		StallTimeout:   5 * time.Minute,
		Now:            time.Now,
	}
}

// Register registers the activities on r under their contract names.
func (a *Activities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.Resolve, activity.RegisterOptions{Name: activities.PreheatResolve})
	r.RegisterActivityWithOptions(a.Fetch, activity.RegisterOptions{Name: activities.PreheatFetch})
	r.RegisterActivityWithOptions(a.Evict, activity.RegisterOptions{Name: activities.PreheatEvict})
	r.RegisterActivityWithOptions(a.Check, activity.RegisterOptions{Name: activities.CheckPreheat})
}

// Check reports what would make a preheat fail on this host: a header's
// ${ENV} reference that is not set here, a cache directory it cannot use.
func (a *Activities) Check(_ context.Context, req activities.CheckPreheatRequest) (activities.CheckPreheatResult, error) {
	var res activities.CheckPreheatResult
	names := make([]string, 0, len(req.Headers))
	for name := range req.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, err := prefetch.ExpandEnv(req.Headers[name], a.LookupEnv); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s.headers.%s: %s on host %s", req.Path, name, strings.TrimPrefix(err.Error(), prefetch.ErrEnv.Error()+": "), a.Hostname))
		}
	}
	var guards []precheck.Guard
	for _, g := range req.Guards {
		guards = append(guards, precheck.Guard{Path: g.Path, Mounted: g.Mounted})
	}
	if g, why, waiting := precheck.Waiting(guards, a.cacheDir(req.Cache)); waiting {
		res.Notes = append(res.Notes, activities.GuardNote(req.Path+".cache.dir", a.cacheDir(req.Cache), g.Kind(), g.Path, why))
		return res, nil
	}
	if _, err := a.open(req.Cache); err != nil {
		field := req.Path + ".cache.dir"
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			err = errors.New(app.Message())
		}
		res.Problems = append(res.Problems, fmt.Sprintf("%s: %v", field, err))
	}
	return res, nil
}

// Resolve pins an image to the digest its reference names now and lists the
// blobs of the chosen platforms, and names the target hosts: for hosts: all,
// every registered host whose queue a worker polls.
func (a *Activities) Resolve(ctx context.Context, req activities.PreheatResolveRequest) (activities.PreheatResolveResult, error) {
	res := activities.PreheatResolveResult{Source: req.Source, Hosts: req.Hosts}
	if src := req.Source; src.Image != "" {
		f := prefetch.NewFetcher(nil, a.LookupEnv)
		img, err := f.ResolveImage(ctx, prefetch.ImageRequest{
			Ref: src.Image, Platforms: src.Platforms, AllowLoopback: src.AllowLoopback, AllowPrivate: src.AllowPrivate,
		})
		if err != nil {
			return res, appError(err)
		}
		res.Source.Image = img.Repository + "@" + img.Digest
		res.ImageDigest = img.Digest
		for _, m := range img.Manifests {
			res.Platforms = append(res.Platforms, m.Platform+" "+m.Digest)
		}
		res.Source.Blobs = nil
		for _, b := range img.Blobs {
			res.Source.Blobs = append(res.Source.Blobs, activities.OCIBlob{Repository: img.Repository, Digest: b.Digest, Size: b.Size, MediaType: b.MediaType})
		}
	}
	if req.AllHosts {
		hosts, err := Hosts(ctx, a.Client, activity.GetInfo(ctx).WorkflowNamespace)
		if err != nil {
			return res, err
		}
		res.Hosts = nil
		for _, h := range hosts {
			if *h.Online {
				res.Hosts = append(res.Hosts, h.Host)
			} else {
				res.Offline = append(res.Offline, h.Host)
			}
		}
	}
	return res, nil
}

// Hosts lists the registered worker hosts of namespace, each marked online
// when a worker polls its activity queue now.
func Hosts(ctx context.Context, c client.Client, namespace string) ([]activities.Host, error) {
	v, err := c.QueryWorkflow(ctx, activities.HostsWorkflowID, "", activities.QueryHosts)
	if err != nil {
		return nil, fmt.Errorf("read the host registry %s: %w", activities.HostsWorkflowID, err)
	}
	var hosts []activities.Host
	if err := v.Get(&hosts); err != nil {
		return nil, fmt.Errorf("read the host registry: %w", err)
	}
	for i, h := range hosts {
		resp, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace:     namespace,
			TaskQueue:     &taskqueuepb.TaskQueue{Name: activities.HostTaskQueue(h.Host), Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
		})
		if err != nil {
			return nil, fmt.Errorf("describe the queue of host %s: %w", h.Host, err)
		}
		online := len(resp.GetPollers()) > 0
		hosts[i].Online = &online
	}
	return hosts, nil
}

// Fetch fetches the source into this host's cache, Concurrency items at a
// time, heartbeating PreheatProgress, then evicts per the cache's TTL and
// maximum size. It fails, with its report as the error's details, when any
// item failed: with a retryable type if a retry may help.
func (a *Activities) Fetch(ctx context.Context, req activities.PreheatFetchRequest) (activities.PreheatFetchResult, error) {
	cache, err := a.open(req.Cache)
	if err != nil {
		return activities.PreheatFetchResult{}, err
	}
	res := activities.PreheatFetchResult{Host: a.Hostname, CacheDir: cache.Dir()}
	f := prefetch.NewFetcher(cache, a.LookupEnv)
	items := fetchItems(req.Source)
	res.Items = len(items)

	p := newProgress(a.Hostname, len(items))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := a.heartbeat(ctx, cancel, p)
	results, errs := f.FetchAll(ctx, items, req.Concurrency, prefetch.Watch{Progress: p.update, Done: p.finish})
	stop()
	if err := ctx.Err(); err != nil {
		if cause := context.Cause(ctx); cause != err {
			// Stalled: the next attempt resumes what arrived.
			return res, temporal.NewApplicationError(fmt.Sprintf("fetch on %s: %v", a.Hostname, cause), activities.ErrPreheatFailed, res)
		}
		return res, err // cancelled from outside: the run was cancelled
	}

	var failures []error
	for i, r := range results {
		if errs[i] != nil {
			failures = append(failures, errs[i])
			continue
		}
		res.Bytes += r.Size
		res.Downloaded += r.Downloaded
		if r.Cached {
			res.Cached++
		}
		if r.Resumed {
			res.Resumed++
		}
	}
	if evictErr := a.evict(cache, req.Cache, &res); evictErr != nil {
		failures = append(failures, evictErr)
	}
	res.Failed = len(failures)
	for _, e := range failures[:min(len(failures), 20)] {
		res.Errors = append(res.Errors, e.Error())
	}
	if len(failures) == 0 {
		activity.GetLogger(ctx).Info("Preheat done", "items", res.Items, "bytes", res.Bytes,
			"downloaded", res.Downloaded, "cached", res.Cached, "cache", res.CacheDir)
		return res, nil
	}
	return res, failureError(a.Hostname, len(items), failures, res)
}

// Evict evicts this host's cache per the request's TTL and maximum size.
func (a *Activities) Evict(_ context.Context, req activities.PreheatEvictRequest) (activities.PreheatEvictResult, error) {
	cache, err := a.open(req.Cache)
	if err != nil {
		return activities.PreheatEvictResult{}, err
	}
	evicted, err := cache.Evict(a.Now())
	if err != nil {
		return activities.PreheatEvictResult{}, temporal.NewApplicationError(fmt.Sprintf("evict %s on %s: %v", cache.Dir(), a.Hostname, err), activities.ErrPreheatFailed)
	}
	res := activities.PreheatEvictResult{Host: a.Hostname, Evicted: len(evicted)}
	for _, e := range evicted {
		res.Freed += e.Size
	}
	entries, err := cache.List()
	if err != nil {
		return res, temporal.NewApplicationError(fmt.Sprintf("list %s on %s: %v", cache.Dir(), a.Hostname, err), activities.ErrPreheatFailed)
	}
	res.Entries = len(entries)
	for _, e := range entries {
		res.Size += e.Size
	}
	if t, ok := cache.NextExpiry(); ok {
		res.NextExpiry = &t
	}
	return res, nil
}

// cacheDir is the cache directory a preheat uses on this host.
func (a *Activities) cacheDir(c activities.CacheSpec) string {
	if c.Dir != "" {
		return c.Dir
	}
	return a.CacheDir
}

func (a *Activities) open(c activities.CacheSpec) (*prefetch.Cache, error) {
	dir := a.cacheDir(c)
	if dir == "" {
		return nil, temporal.NewNonRetryableApplicationError("no cache directory: the preheat names no cache.dir and the worker has no --cache-dir", activities.ErrBadConfig, nil)
	}
	cache, err := prefetch.OpenCache(dir, prefetch.CacheOptions{TTL: c.TTL, MaxSize: c.MaxSize, Now: a.Now})
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("cache on %s: %v", a.Hostname, err), activities.ErrBadConfig, nil)
	}
	return cache, nil
}

// evict runs the cache's eviction after a fetch when the preheat limits it.
func (a *Activities) evict(cache *prefetch.Cache, spec activities.CacheSpec, res *activities.PreheatFetchResult) error {
	if spec.TTL > 0 || spec.MaxSize > 0 {
		if _, err := cache.Evict(a.Now()); err != nil {
			return fmt.Errorf("evict %s: %w", cache.Dir(), err)
		}
	}
	if t, ok := cache.NextExpiry(); ok {
		res.NextExpiry = &t
	}
	return nil
}

// fetchItems turns a resolved source into the engine's items.
func fetchItems(src activities.PreheatSource) []prefetch.Item {
	var items []prefetch.Item
	for _, file := range src.Files {
		items = append(items, prefetch.Item{File: &prefetch.Request{
			URL:                 file.URL,
			Headers:             src.Headers,
			ExpectDigest:        file.Digest,
			FilteredQueryParams: src.FilteredQueryParams,
			MaxSize:             src.MaxFileSize,
			AllowLoopback:       src.AllowLoopback,
			AllowPrivate:        src.AllowPrivate,
		}})
	}
	for _, b := range src.Blobs {
		items = append(items, prefetch.Item{Blob: &prefetch.BlobRequest{
			Repository:    b.Repository,
			Blob:          prefetch.Blob{Digest: b.Digest, Size: b.Size, MediaType: b.MediaType},
			MaxSize:       src.MaxFileSize,
			AllowLoopback: src.AllowLoopback,
			AllowPrivate:  src.AllowPrivate,
		}})
	}
	return items
}

// heartbeat reports progress every HeartbeatEvery until stop is called, and
// cancels the fetch (cause errStalled) when no byte arrived for
// StallTimeout.
func (a *Activities) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, p *progress) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(a.HeartbeatEvery)
		defer t.Stop()
		last, lastAt := int64(-1), a.Now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			snap := p.snapshot()
			activity.RecordHeartbeat(ctx, snap)
			if moved := snap.BytesDone + int64(snap.Done); moved != last {
				last, lastAt = moved, a.Now()
			} else if a.StallTimeout > 0 && a.Now().Sub(lastAt) > a.StallTimeout {
				cancel(fmt.Errorf("%w: no data for %v", errStalled, a.StallTimeout))
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

var errStalled = errors.New("stalled")

// progress adds up the items' progress for heartbeats.
type progress struct {
	host  string
	items int
	mu    sync.Mutex
	done  []int64 // bytes held per item
	total []int64 // size per item, -1 unknown
	n     atomic.Int64
	down  atomic.Int64
}

func newProgress(host string, items int) *progress {
	p := &progress{host: host, items: items, done: make([]int64, items), total: make([]int64, items)}
	for i := range p.total {
		p.total[i] = -1
	}
	return p
}

func (p *progress) update(i int, pr prefetch.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[i], p.total[i] = pr.Done, pr.Total
}

func (p *progress) finish(i int, r prefetch.Result, err error) {
	if err != nil {
		return
	}
	p.mu.Lock()
	p.done[i], p.total[i] = r.Size, r.Size
	p.mu.Unlock()
	p.n.Add(1)
	p.down.Add(r.Downloaded)
}

func (p *progress) snapshot() activities.PreheatProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := activities.PreheatProgress{Host: p.host, Items: p.items, Done: int(p.n.Load()), Downloaded: p.down.Load()}
	for i := range p.done {
		s.BytesDone += p.done[i]
		if p.total[i] < 0 || s.Bytes < 0 {
			s.Bytes = -1
		} else {
			s.Bytes += p.total[i]
		}
	}
	return s
}

// failureError is the error of a fetch with failed items: not retryable
// when no failure is one a retry could fix.
func failureError(host string, items int, failures []error, res activities.PreheatFetchResult) error {
	msg := fmt.Sprintf("%d of %d items failed on %s: %v", len(failures), items, host, failures[0])
	if len(failures) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(failures)-1)
	}
	typ := ""
	for _, e := range failures {
		t := errorType(e)
		if !slices.Contains([]string{activities.ErrRefused, activities.ErrDigestMismatch, activities.ErrTooLarge, activities.ErrBadConfig}, t) {
			return temporal.NewApplicationError(msg, activities.ErrPreheatFailed, res)
		}
		typ = t
	}
	return temporal.NewNonRetryableApplicationError(msg, typ, nil, res)
}

// appError turns one engine error into an application error of its type.
func appError(err error) error {
	t := errorType(err)
	if t == activities.ErrPreheatFailed {
		return temporal.NewApplicationError(err.Error(), t)
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), t, nil)
}

func errorType(err error) string {
	switch {
	case errors.Is(err, prefetch.ErrRefused):
		return activities.ErrRefused
	case errors.Is(err, prefetch.ErrDigestMismatch):
		return activities.ErrDigestMismatch
	case errors.Is(err, prefetch.ErrTooLarge):
		return activities.ErrTooLarge
	case errors.Is(err, prefetch.ErrEnv), errors.Is(err, prefetch.ErrAmbiguous):
		return activities.ErrBadConfig
	}
	return activities.ErrPreheatFailed
}
