package workflows

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/workflows/api"
)

// Counters the plan workflow adds to, through the SDK's metrics handler,
// which a worker exports at /metrics. The handler counts nothing while a
// workflow replays: a counter counts what happened while this worker ran
// the plan's workflow tasks, from zero when the worker starts, as
// Prometheus counters do.
const (
	metricRuns            = "steward_runs_total"
	metricBackupBytes     = "steward_backup_bytes_total"
	metricBackupFiles     = "steward_backup_files_total"
	metricBackupNewBytes  = "steward_backup_new_bytes_total"
	metricPreheatBytes    = "steward_preheat_bytes_total"
	metricSignalsRejected = "steward_signals_rejected_total"
)

// metrics is the SDK's metrics handler of the plan's workflow, labelled
// with the plan (plan, kind and host, as the per-plan gauges are).
func (p *planner) metrics() client.MetricsHandler {
	return workflow.GetMetricsHandler(p.ctx).WithTags(map[string]string{
		"plan": p.spec.ID,
		"kind": string(p.spec.Kind),
		"host": p.spec.Host,
	})
}

// countRun counts a finished run with its outcome, and what a successful
// one moved.
func (p *planner) countRun(outcome string, rep *api.RunReport) {
	m := p.metrics()
	m.WithTags(map[string]string{"outcome": outcome}).Counter(metricRuns).Inc(1)
	if rep == nil {
		return
	}
	if b := rep.Backup; b != nil {
		m.Counter(metricBackupBytes).Inc(rep.Bytes)
		m.Counter(metricBackupFiles).Inc(rep.Files)
		m.Counter(metricBackupNewBytes).Inc(b.Uploaded)
	}
	if ph := rep.Preheat; ph != nil {
		for _, h := range ph.Hosts {
			m.WithTags(map[string]string{"host": h.Host}).Counter(metricPreheatBytes).Inc(h.Downloaded)
		}
	}
}
