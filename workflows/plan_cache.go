package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// evictRetryAfter is how long a preheat plan waits to evict again after an
// eviction failed (a host was offline, say).
const evictRetryAfter = time.Hour

// noteCacheExpiry takes a preheat run's cache expiry for the eviction
// timer; other runs' reports have none.
func (p *planner) noteCacheExpiry(rep api.RunReport) {
	if pr := rep.Preheat; pr != nil && pr.NextExpiry != nil {
		p.st.CacheExpiry = earliest(p.st.CacheExpiry, pr.NextExpiry)
	}
}

// evictionDue returns when the plan must next evict its caches, or zero.
func (p *planner) evictionDue() time.Time {
	if p.spec.Preheat == nil || p.st.CacheExpiry == nil || p.evictFuture != nil || p.st.Running != nil {
		return time.Time{}
	}
	return *p.st.CacheExpiry
}

// handleCacheExpiry starts a CacheEvictWorkflow when a cache entry expires
// on a host and no run is in flight (a run evicts when it ends). It runs
// while the plan is paused too: a pause stops downloads, not retention.
func (p *planner) handleCacheExpiry(ctx workflow.Context, now time.Time) {
	due := p.evictionDue()
	if due.IsZero() || due.After(now) || p.spec.Preheat == nil {
		return
	}
	p.st.CacheExpiry = nil
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            plan.WorkflowID(p.spec.ID) + "/evict/" + now.UTC().Format(time.RFC3339Nano),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_TERMINATE,
		StaticSummary:         "evict expired cache entries of " + p.spec.ID,
	})
	p.evictFuture = workflow.ExecuteChildWorkflow(cctx, api.CacheEvictWorkflowName, CacheEvictRequest{
		PlanID: p.spec.ID, Host: p.spec.Host, Preheat: *p.spec.Preheat,
	})
}

// finishEvict arms the eviction timer for the next expiry the hosts
// reported, or retries later when the eviction failed.
func (p *planner) finishEvict(ctx workflow.Context, f workflow.Future) {
	p.evictFuture = nil
	var res CacheEvictResult
	if err := f.Get(ctx, &res); err != nil {
		p.logger.Warn("cache eviction failed", "error", err)
		if !runDetails(err, &res) {
			res = CacheEvictResult{}
		}
		retry := workflow.Now(ctx).Add(evictRetryAfter)
		res.NextExpiry = earliest(res.NextExpiry, &retry)
	}
	if res.NextExpiry != nil {
		p.st.CacheExpiry = earliest(p.st.CacheExpiry, res.NextExpiry)
	}
}
