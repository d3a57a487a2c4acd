package control

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// Restore says which snapshot of a backup plan to restore, what of it and
// where. Snapshot and At are exclusive; neither means the newest snapshot.
type Restore struct {
	Snapshot string
	At       *time.Time
	// Path is a path inside the snapshot (slash-separated; the source's
	// absolute path may lead it); empty restores everything.
	Path string
	// Target is an absolute directory on the host that runs the restore.
	Target string
	// Host overrides the plan's host.
	Host      string
	Overwrite bool
}

// Check refuses options that cannot work, naming the flag, before anything
// is sent.
func (o Restore) Check() error {
	switch {
	case o.Target == "":
		return errors.New("--target: give the directory to restore into")
	case !filepath.IsAbs(o.Target):
		return fmt.Errorf("--target %s: want an absolute path (it names a directory on the plan's host)", o.Target)
	case o.Snapshot != "" && o.At != nil:
		return errors.New("--snapshot and --at: give one of them")
	case strings.ContainsRune(o.Path, 0):
		return fmt.Errorf("--path %q: contains a NUL byte", o.Path)
	}
	for _, el := range strings.Split(o.Path, "/") {
		if el == ".." {
			return fmt.Errorf("--path %s: must stay inside the snapshot (no ..)", o.Path)
		}
	}
	return nil
}

// RestoreTimeout bounds how long starting a restore may wait for the
// server.
const RestoreTimeout = 30 * time.Second

// StartRestore starts a RestoreWorkflow for backup plan id on the plan's
// host (or o.Host) and returns it. The workflow runs on: follow it with
// WaitRestore and RestoreProgress, or in the Web UI.
func StartRestore(ctx context.Context, c client.Client, id string, o Restore) (client.WorkflowRun, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	spec, err := Spec(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if spec.Kind != plan.KindBackup || spec.Backup == nil {
		return nil, fmt.Errorf("plan %s is a %s plan: only backup plans can be restored", id, spec.Kind)
	}
	host := spec.Host
	if o.Host != "" {
		host = o.Host
	}
	b := spec.Backup
	req := api.RestoreRequest{Plan: id, Host: host, Select: activities.PrepareRestoreRequest{
		PlanID: id, Ref: b.Ref,
		Snapshot: o.Snapshot, At: o.At, Target: filepath.Clean(o.Target), Overwrite: o.Overwrite,
	}}
	if o.Path != "" {
		req.Select.Path = path.Clean(o.Path)
	}
	for _, n := range spec.Notify {
		if n.Wants(plan.EventRestoreFinished) {
			req.Notify = append(req.Notify, activities.NotifyTarget{URL: n.URL, Kind: n.Kind, Template: n.Template})
		}
	}
	sctx, cancel := context.WithTimeout(ctx, RestoreTimeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
		ID:            fmt.Sprintf("steward/restore/%s/%s", id, time.Now().UTC().Format("20060102T150405.000000000Z")),
		TaskQueue:     activities.TaskQueue,
		StaticSummary: fmt.Sprintf("restore plan %s to %s on host %s", id, req.Select.Target, HostLabel(host)),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			api.AttrPlan.ValueSet(id), api.AttrKind.ValueSet(api.RunKindRestore)),
	}, api.RestoreWorkflowName, req)
	if err != nil {
		return nil, fmt.Errorf("restore plan %s: %w", id, err)
	}
	return run, nil
}

// WaitRestore waits until restore run ends and returns its report.
func WaitRestore(ctx context.Context, run client.WorkflowRun) (api.RunReport, error) {
	var rep api.RunReport
	if err := run.Get(ctx, &rep); err != nil {
		return rep, fmt.Errorf("restore %s: %w", run.GetID(), ownWords(err))
	}
	return rep, nil
}

// RestoreProgress reads the live progress of restore workflow id; false
// when its restore has not started writing or is over.
func RestoreProgress(ctx context.Context, c client.Client, id string) (activities.RestoreProgress, bool, error) {
	ps, err := heartbeats[activities.RestoreProgress](ctx, c, id, "", activities.Restore)
	if err != nil || len(ps) == 0 {
		return activities.RestoreProgress{}, false, err
	}
	return ps[0], true, nil
}

// ownWords is an activity's own error message, without the chain of
// wrappers Temporal puts around it or its error type.
func ownWords(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return errors.New(app.Message())
	}
	return err
}

// HostLabel names host for people: empty means any worker.
func HostLabel(host string) string {
	if host == "" {
		return "(any)"
	}
	return host
}
