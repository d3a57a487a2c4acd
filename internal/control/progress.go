package control

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/steward-ops/steward/activities"
)

// PreheatProgress reads the live progress of a preheat run: the latest
// heartbeat of each host's fetch in flight (hosts done are not listed).
func PreheatProgress(ctx context.Context, c client.Client, id, runID string) ([]activities.PreheatProgress, error) {
	return heartbeats[activities.PreheatProgress](ctx, c, id, runID, activities.PreheatFetch)
}

// BackupProgress reads the live progress of backup run runID (a run
// workflow's ID) from the latest heartbeat of its snapshot; false when it
// has none yet or the run is over.
func BackupProgress(ctx context.Context, c client.Client, runID string) (activities.BackupProgress, bool, error) {
	ps, err := heartbeats[activities.BackupProgress](ctx, c, runID, "", activities.Backup)
	if err != nil || len(ps) == 0 {
		return activities.BackupProgress{}, false, err
	}
	return ps[0], true, nil
}

// heartbeats decodes the latest heartbeat details of workflow id's pending
// activities of type activity. Reading them through a describe adds no
// events to any history.
func heartbeats[T any](ctx context.Context, c client.Client, id, runID, activity string) ([]T, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return nil, err
	}
	var out []T
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetActivityType().GetName() != activity || pa.GetHeartbeatDetails() == nil {
			continue
		}
		var p T
		if err := converter.GetDefaultDataConverter().FromPayloads(pa.GetHeartbeatDetails(), &p); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}
