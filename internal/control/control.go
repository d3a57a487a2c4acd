// Package control holds the client side of steward: applying plan files,
// reading plan status and sending pause, unpause and trigger signals through
// a Temporal client. The steward CLI and the worker's --plans both use it.
package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows"
)

// Connection settings. Empty fields take the temporal CLI's settings:
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, and
// the profile in temporal.toml.
type Connection struct {
	Address   string
	Namespace string
}

// Options returns SDK client options for c.
func (c Connection) Options() (client.Options, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return client.Options{}, fmt.Errorf("load Temporal client settings: %w", err)
	}
	if c.Address != "" {
		opts.HostPort = c.Address
	}
	if c.Namespace != "" {
		opts.Namespace = c.Namespace
	}
	if opts.HostPort == "" {
		opts.HostPort = client.DefaultHostPort
	}
	if opts.Namespace == "" {
		opts.Namespace = client.DefaultNamespace
	}
	return opts, nil
}

// Dial connects to Temporal, with a clear error when nothing answers.
func Dial(ctx context.Context, opts client.Options) (client.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w", opts.HostPort, opts.Namespace, err)
	}
	return c, nil
}

// MissingSearchAttributes lists steward's search attributes that namespace
// ns lacks.
func MissingSearchAttributes(ctx context.Context, c client.Client, ns string) ([]string, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %s: %w", ns, err)
	}
	var missing []string
	for name := range workflows.SearchAttributes {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// Setup registers steward's search attributes on namespace ns (what
// `steward setup` does on an external server). It returns the ones added.
func Setup(ctx context.Context, c client.Client, ns string) ([]string, error) {
	missing, err := MissingSearchAttributes(ctx, c, ns)
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	add := map[string]enums.IndexedValueType{}
	for _, name := range missing {
		add[name] = workflows.SearchAttributes[name]
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ns, SearchAttributes: add,
	})
	if err != nil {
		return nil, fmt.Errorf("add search attributes %s to namespace %s: %w", strings.Join(missing, ", "), ns, err)
	}
	return missing, nil
}

// ApplyResult says what Apply did to each plan.
type ApplyResult struct {
	Created []string
	Updated []string
	Removed []string
}

// CheckTimeout bounds how long Apply waits for workers to check plans.
const CheckTimeout = time.Minute

// Apply makes the running plans equal to f: it checks every plan on its
// host first and changes nothing if any check fails; then it starts new
// plans, updates running ones through the validated `apply` Update, and with
// prune cancels running plans that f does not list.
func Apply(ctx context.Context, c client.Client, f *plan.File, prune bool) (ApplyResult, error) {
	var res ApplyResult
	if err := f.Validate(); err != nil {
		return res, err
	}
	var problems []string
	for i, p := range f.Plans {
		ps, err := checkPlan(ctx, c, fmt.Sprintf("plans[%d]", i), p)
		if err != nil {
			return res, err
		}
		problems = append(problems, ps...)
	}
	if len(problems) > 0 {
		return res, fmt.Errorf("%s\nnothing was applied", strings.Join(problems, "\n"))
	}
	var stale []string
	if prune {
		running, err := List(ctx, c)
		if err != nil {
			return res, err
		}
		keep := map[string]bool{}
		for _, p := range f.Plans {
			keep[p.ID] = true
		}
		for _, r := range running {
			if !keep[r.Plan] {
				stale = append(stale, r.Plan)
			}
		}
	}
	for _, p := range f.Plans {
		created, err := applyOne(ctx, c, p)
		if err != nil {
			return res, fmt.Errorf("apply plan %s: %w", p.ID, err)
		}
		if created {
			res.Created = append(res.Created, p.ID)
		} else {
			res.Updated = append(res.Updated, p.ID)
		}
	}
	for _, id := range stale {
		if err := Remove(ctx, c, id); err != nil {
			return res, err
		}
		res.Removed = append(res.Removed, id)
	}
	return res, nil
}

// checkPlan runs CheckPlanWorkflow for p and returns its problems.
func checkPlan(ctx context.Context, c client.Client, path string, p plan.Plan) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       fmt.Sprintf("steward/check/%s/%d", p.ID, time.Now().UnixNano()),
		TaskQueue:                activities.TaskQueue,
		WorkflowExecutionTimeout: CheckTimeout,
	}, workflows.CheckPlanWorkflowName, workflows.CheckPlanRequest{Path: path, Spec: p})
	if err != nil {
		return nil, fmt.Errorf("check %s (%s): %w", path, p.ID, err)
	}
	var res workflows.CheckPlanResult
	if err := run.Get(ctx, &res); err != nil {
		host := p.Host
		if host == "" {
			host = "any host"
		}
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return nil, fmt.Errorf("check %s (%s): no steward worker for %s answered within %v; is the worker running?", path, p.ID, host, CheckTimeout)
		}
		return nil, fmt.Errorf("check %s (%s) on %s: %w", path, p.ID, host, err)
	}
	return res.Problems, nil
}

func isTimeout(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te)
}

// applyOne starts p's workflow, or updates it when it is running. It
// reports whether it started the workflow.
func applyOne(ctx context.Context, c client.Client, p plan.Plan) (bool, error) {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       plan.WorkflowID(p.ID),
		TaskQueue:                activities.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            summary(p),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.AttrPlan.ValueSet(p.ID),
			workflows.AttrKind.ValueSet(string(p.Kind)),
			workflows.AttrState.ValueSet(workflows.StateIdle),
		),
	}, workflows.PlanWorkflowName, workflows.PlanInput{Spec: p})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case err == nil:
		return true, nil
	case !errors.As(err, &started):
		return false, err
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   plan.WorkflowID(p.ID),
		UpdateName:   workflows.UpdateApply,
		Args:         []any{p},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return false, err
	}
	var st workflows.Status
	return false, h.Get(ctx, &st)
}

func summary(p plan.Plan) string {
	when := "every " + p.Schedule.Every.String()
	if p.Schedule.Cron != "" {
		when = "cron " + p.Schedule.Cron
	}
	s := fmt.Sprintf("%s plan %s, %s", p.Kind, p.ID, when)
	if p.Backup != nil {
		s += ": " + p.Backup.Source + " -> " + p.Backup.Repository
	}
	return s
}

// Remove stops plan id: its workflow is cancelled, which cancels a run in
// flight too.
func Remove(ctx context.Context, c client.Client, id string) error {
	if err := c.CancelWorkflow(ctx, plan.WorkflowID(id), ""); err != nil {
		return fmt.Errorf("remove plan %s: %w", id, notFound(id, err))
	}
	return nil
}

func notFound(id string, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return &notRunningError{id: id, err: err}
	}
	return err
}

// notRunningError says plan id is not running; it wraps the server's
// NotFound, so callers can still tell it with errors.As.
type notRunningError struct {
	id  string
	err error
}

func (e *notRunningError) Error() string { return fmt.Sprintf("no plan %q is running", e.id) }
func (e *notRunningError) Unwrap() error { return e.err }

// Status returns plan id's status query result.
func Status(ctx context.Context, c client.Client, id string) (workflows.Status, error) {
	var st workflows.Status
	v, err := c.QueryWorkflow(ctx, plan.WorkflowID(id), "", workflows.QueryStatus)
	if err != nil {
		return st, fmt.Errorf("query plan %s: %w", id, notFound(id, err))
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of plan %s: %w", id, err)
	}
	return st, nil
}

// Summary is a plan as listed from Temporal's visibility store.
type Summary struct {
	Plan        string     `json:"plan"`
	Kind        string     `json:"kind"`
	State       string     `json:"state"`
	NextRun     *time.Time `json:"next_run"`
	LastSuccess *time.Time `json:"last_success"`
	PausedUntil *time.Time `json:"paused_until"`
	// PausedBy, PauseReason and Leases describe a paused plan's pause,
	// from its status (see AddPauseDetails); null otherwise.
	PausedBy    *string           `json:"paused_by"`
	PauseReason *string           `json:"pause_reason"`
	Leases      []workflows.Lease `json:"leases"`
}

// List returns the running plans, sorted by ID.
func List(ctx context.Context, c client.Client) ([]Summary, error) {
	var out []Summary
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.PlanWorkflowName),
			NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list plans: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			sa, err := decodeAttrs(e.GetSearchAttributes())
			if err != nil {
				return nil, err
			}
			s := Summary{
				Plan:  strings.TrimPrefix(e.GetExecution().GetWorkflowId(), plan.WorkflowID("")),
				Kind:  keyword(sa, workflows.AttrKind),
				State: keyword(sa, workflows.AttrState),
			}
			s.NextRun = timeOf(sa, workflows.AttrNextRun)
			s.LastSuccess = timeOf(sa, workflows.AttrLastSuccess)
			s.PausedUntil = timeOf(sa, workflows.AttrPausedUntil)
			out = append(out, s)
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Plan < out[j].Plan })
	return out, nil
}

// Actor is who a signal says sent it: $STEWARD_ACTOR, else $USER.
func Actor() string {
	if a := os.Getenv("STEWARD_ACTOR"); a != "" {
		return a
	}
	return os.Getenv("USER")
}
