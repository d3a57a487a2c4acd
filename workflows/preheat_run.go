package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// Timeouts of the preheat activities.
const (
	resolveStartToClose = 10 * time.Minute
	fetchStartToClose   = 24 * time.Hour
	// fetchHeartbeat is how long a silent fetch may go before the server
	// retries it; the activity heartbeats every few seconds while it works,
	// so a killed worker is noticed this quickly and its download resumed.
	fetchHeartbeat = 30 * time.Second
	// hostStartTimeout is how long a named host may take to pick up its
	// fetch: a host with no worker is reported, not waited for forever.
	hostStartTimeout  = 5 * time.Minute
	evictStartToClose = 10 * time.Minute
	// maxHostErrors bounds the errors reported per host.
	maxHostErrors = 20
)

// CacheEvictRequest starts a CacheEvictWorkflow for a preheat plan.
type CacheEvictRequest struct {
	PlanID  string       `json:"plan_id"`
	Host    string       `json:"host,omitempty"`
	Preheat plan.Preheat `json:"preheat"`
}

// CacheEvictResult is what the eviction did on each host.
type CacheEvictResult struct {
	Hosts      []activities.PreheatEvictResult `json:"hosts"`
	NextExpiry *time.Time                      `json:"next_expiry,omitempty"`
}

// PreheatRunWorkflow warms the caches of a preheat's target hosts: resolve
// once (an image tag is pinned to one digest for every host), then fetch on
// each host's own queue, all hosts at once, each with the preheat's
// concurrency, and report per host. It fails, with the report as the
// error's details, when any host failed.
func PreheatRunWorkflow(ctx workflow.Context, req api.PreheatRunRequest) (api.RunReport, error) {
	start := workflow.Now(ctx)
	res, err := preheatRun(ctx, req)
	rep := api.RunReport{Kind: api.RunKindPreheat, Start: start, End: workflow.Now(ctx), Files: int64(res.Items), Bytes: res.Bytes, Preheat: &res}
	var failed *temporal.ApplicationError
	if errors.As(err, &failed) && failed.Type() == activities.ErrPreheatFailed {
		// The report goes with the error: the hosts that succeeded have
		// entries that will expire.
		return rep, temporal.NewNonRetryableApplicationError(failed.Message(), activities.ErrPreheatFailed, nil, rep)
	}
	return rep, err
}

// preheatRun does the work of PreheatRunWorkflow and returns its
// per-host report.
func preheatRun(ctx workflow.Context, req api.PreheatRunRequest) (api.PreheatRunResult, error) {
	req.Preheat.SetDefaults()
	if err := req.Preheat.Validate(); err != nil {
		return api.PreheatRunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrBadConfig, nil)
	}
	resolved, err := resolvePreheat(ctx, req.Host, req.Preheat, req.Retry)
	if err != nil {
		return api.PreheatRunResult{}, err
	}
	res := api.PreheatRunResult{Offline: resolved.Offline, ImageDigest: resolved.ImageDigest, Platforms: resolved.Platforms}
	runID := workflow.GetInfo(ctx).WorkflowExecution.ID
	futures := make([]workflow.Future, len(resolved.Hosts))
	for i, h := range resolved.Hosts {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:              activities.HostTaskQueue(h),
			ScheduleToStartTimeout: hostStartTimeout,
			StartToCloseTimeout:    fetchStartToClose,
			HeartbeatTimeout:       fetchHeartbeat,
			RetryPolicy:            preheatRetryPolicy(req.Retry),
			Summary:                clip(fmt.Sprintf("preheat %s on %s", describeSource(resolved.Source), hostName(h)), 200),
			WaitForCancellation:    true,
		})
		futures[i] = workflow.ExecuteActivity(actx, activities.PreheatFetch, activities.PreheatFetchRequest{
			PlanID:      req.PlanID,
			RunID:       runID,
			Source:      resolved.Source,
			Concurrency: req.Preheat.Concurrency,
			Cache:       cacheSpec(req.Preheat.Cache),
		})
	}
	var failed []string
	for i, f := range futures {
		var hr activities.PreheatFetchResult
		err := f.Get(ctx, &hr)
		if err != nil {
			hr = hostFailure(resolved.Hosts[i], err)
			failed = append(failed, hostName(resolved.Hosts[i])+": "+runError(err))
		}
		res.Hosts = append(res.Hosts, hr)
		res.Items = max(res.Items, hr.Items)
		res.Bytes = max(res.Bytes, hr.Bytes)
		res.Downloaded += hr.Downloaded
		res.NextExpiry = earliest(res.NextExpiry, hr.NextExpiry)
	}
	if ctx.Err() != nil {
		return res, temporal.NewCanceledError()
	}
	if len(failed) > 0 {
		msg := fmt.Sprintf("%d of %d hosts failed: %s", len(failed), len(resolved.Hosts), strings.Join(failed, "; "))
		return res, temporal.NewNonRetryableApplicationError(clip(msg, 2*maxTextLen), activities.ErrPreheatFailed, nil)
	}
	return res, nil
}

// CacheEvictWorkflow evicts a preheat plan's caches on its hosts when an
// entry's TTL ends, even when no run is due: the plan starts it from its
// timer.
func CacheEvictWorkflow(ctx workflow.Context, req CacheEvictRequest) (CacheEvictResult, error) {
	resolved, err := resolveHosts(ctx, req.Host, req.Preheat, plan.DefaultActivityRetry)
	if err != nil {
		return CacheEvictResult{}, err
	}
	var res CacheEvictResult
	var failed []string
	for _, h := range resolved.Hosts {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:              activities.HostTaskQueue(h),
			ScheduleToStartTimeout: hostStartTimeout,
			StartToCloseTimeout:    evictStartToClose,
			RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 3},
			Summary:                "evict the cache on " + hostName(h),
		})
		var er activities.PreheatEvictResult
		if err := workflow.ExecuteActivity(actx, activities.PreheatEvict, activities.PreheatEvictRequest{Cache: cacheSpec(req.Preheat.Cache)}).Get(ctx, &er); err != nil {
			failed = append(failed, hostName(h)+": "+runError(err))
			continue
		}
		res.Hosts = append(res.Hosts, er)
		res.NextExpiry = earliest(res.NextExpiry, er.NextExpiry)
	}
	if len(failed) > 0 {
		return res, temporal.NewApplicationError(clip(strings.Join(failed, "; "), 2*maxTextLen), activities.ErrPreheatFailed, res)
	}
	return res, nil
}

// resolvePreheat runs PreheatResolve on any worker: it pins an image and
// names the hosts. With neither hosts nor a plan host, the one "host" is ""
// (whichever worker takes it).
func resolvePreheat(ctx workflow.Context, host string, p plan.Preheat, retry plan.ActivityRetry) (activities.PreheatResolveResult, error) {
	req := activities.PreheatResolveRequest{Source: preheatSource(p), AllHosts: p.Hosts.All, Hosts: p.Hosts.Names}
	if !p.Hosts.All && len(p.Hosts.Names) == 0 {
		req.Hosts = []string{host}
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           activities.TaskQueue,
		StartToCloseTimeout: resolveStartToClose,
		RetryPolicy:         preheatRetryPolicy(retry),
		Summary:             clip("resolve "+describeSource(req.Source), 200),
	})
	var res activities.PreheatResolveResult
	if err := workflow.ExecuteActivity(actx, activities.PreheatResolve, req).Get(ctx, &res); err != nil {
		return res, err
	}
	if len(res.Hosts) == 0 {
		msg := "no host to preheat on: no registered worker host is online"
		if len(res.Offline) > 0 {
			msg += " (offline: " + strings.Join(res.Offline, ", ") + ")"
		}
		return res, temporal.NewNonRetryableApplicationError(msg, activities.ErrBadConfig, nil)
	}
	return res, nil
}

// resolveHosts names a preheat's hosts without resolving its content.
func resolveHosts(ctx workflow.Context, host string, p plan.Preheat, retry plan.ActivityRetry) (activities.PreheatResolveResult, error) {
	p.URLs, p.Image = nil, ""
	return resolvePreheat(ctx, host, p, retry)
}

// preheatSource is the activity contract's view of a plan's preheat.
func preheatSource(p plan.Preheat) activities.PreheatSource {
	src := activities.PreheatSource{
		Headers:             activities.HeaderRefs(p.Headers),
		FilteredQueryParams: p.FilteredQueryParams,
		MaxFileSize:         int64(p.MaxFileSize),
		AllowLoopback:       p.AllowLoopback,
		AllowPrivate:        p.AllowPrivate,
	}
	if p.Type == plan.PreheatImage {
		src.Image, src.Platforms = p.Image, p.Platforms
		return src
	}
	for _, u := range p.URLs {
		src.Files = append(src.Files, activities.PreheatFile{URL: u.URL, Digest: u.Digest})
	}
	return src
}

func cacheSpec(c plan.Cache) activities.CacheSpec {
	return activities.CacheSpec{Dir: c.Dir, TTL: c.TTL.D(), MaxSize: int64(c.MaxSize)}
}

// preheatRetryPolicy is the plan's activity retry policy, with the preheat
// errors that retrying the same fetch cannot fix.
func preheatRetryPolicy(r plan.ActivityRetry) *temporal.RetryPolicy {
	p := retryPolicy(r)
	p.NonRetryableErrorTypes = slices.Concat(p.NonRetryableErrorTypes,
		[]string{activities.ErrRefused, activities.ErrDigestMismatch, activities.ErrTooLarge})
	return p
}

// hostFailure is the report of a host whose fetch failed: the activity's
// own report when it sent one, else just the error.
func hostFailure(host string, err error) activities.PreheatFetchResult {
	var hr activities.PreheatFetchResult
	if runDetails(err, &hr) {
		if hr.Host == "" {
			hr.Host = host
		}
		return hr
	}
	hr.Host = host
	hr.Failed = 1
	hr.Errors = []string{clip(runError(err), maxTextLen)}
	var te *temporal.TimeoutError
	if errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		hr.Errors = []string{fmt.Sprintf("offline: no worker of host %s took the work within %v", hostName(host), hostStartTimeout)}
	}
	return hr
}

func describeSource(s activities.PreheatSource) string {
	switch {
	case s.Image != "":
		return s.Image
	case len(s.Files) == 1:
		return s.Files[0].URL
	case len(s.Files) > 1:
		return fmt.Sprintf("%d files", len(s.Files))
	}
	return "nothing"
}

func hostName(h string) string {
	if h == "" {
		return "any worker"
	}
	return h
}

func earliest(a, b *time.Time) *time.Time {
	switch {
	case a == nil:
		return b
	case b == nil || a.Before(*b):
		return a
	}
	return b
}

// runDetails decodes the details of the application error in err's chain
// (an activity's or a child workflow's report) into v.
func runDetails(err error, v any) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.HasDetails() && app.Details(v) == nil
}
