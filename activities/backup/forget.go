package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/retention"
	"github.com/steward-ops/steward/internal/snapshot"
)

// Forget applies req.Policy to the snapshots of plan req.PlanID (tagged
// with it, so plans can share a repository) and deletes those it does not
// keep, unless req.DryRun. The policy always keeps the plan's newest
// snapshot, so a plan never loses its last backup to retention. The data
// of forgotten snapshots stays in the repository until maintenance.
func (a *Activities) Forget(ctx context.Context, req activities.ForgetRequest) (_ activities.ForgetResult, err error) {
	var res activities.ForgetResult
	if req.PlanID == "" {
		return res, badConfig("forget: the request names no plan")
	}
	loc := time.UTC
	if req.Timezone != "" {
		l, err := time.LoadLocation(req.Timezone)
		if err != nil {
			return res, badConfig("forget: time zone %q: %v", req.Timezone, err)
		}
		loc = l
	}
	r, done, err := a.open(ctx, req.Ref, false, false)
	if err != nil {
		return res, err
	}
	defer func() { done(err) }()
	infos, err := r.ListTagged(ctx, TagPlan, req.PlanID)
	if err != nil {
		return res, applicationError(err)
	}
	byID := map[string]snapshot.Info{}
	snaps := make([]retention.Snapshot, 0, len(infos))
	for _, in := range infos {
		byID[in.ID] = in
		snaps = append(snaps, retention.Snapshot{ID: in.ID, Time: in.Start})
	}
	var drop []string
	for _, d := range retention.Apply(snaps, req.Policy, loc) {
		in := byID[d.Snapshot.ID]
		if d.Keep {
			res.Kept++
		} else {
			drop = append(drop, in.ID)
		}
		if d.Keep && req.Brief {
			continue
		}
		res.Snapshots = append(res.Snapshots, activities.SnapshotDecision{
			ID: in.ID, Start: in.Start, End: in.End, Run: in.Tags[TagRun],
			Files: in.Files, Bytes: in.Bytes, Keep: d.Keep, Reasons: d.Reasons,
		})
	}
	if req.DryRun || len(drop) == 0 {
		return res, nil
	}
	if err := r.Forget(ctx, drop...); err != nil {
		return res, applicationError(fmt.Errorf("forget %d snapshots of plan %s: %w", len(drop), req.PlanID, err))
	}
	res.Forgotten = len(drop)
	return res, nil
}
