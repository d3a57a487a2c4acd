package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// What Apply does (or, in a dry run, would do) to a plan.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
	ActionRemoved   = "removed"
)

// PlanChange is what Apply did to one plan.
type PlanChange struct {
	Plan   string `json:"plan"`
	Action string `json:"action"`
	// Changes are the fields an update changed.
	Changes []plan.Change `json:"changes,omitempty"`
	// Notes say what the plan's host could not check now (a repository on
	// a drive that a precondition waits for).
	Notes []string `json:"notes,omitempty"`
}

// ApplyResult says what Apply did to each plan: the file's plans in order,
// then the removed ones.
type ApplyResult struct {
	DryRun bool         `json:"dry_run"`
	Plans  []PlanChange `json:"plans"`
}

// Count returns how many plans got action.
func (r ApplyResult) Count(action string) int {
	n := 0
	for _, p := range r.Plans {
		if p.Action == action {
			n++
		}
	}
	return n
}

// ApplyOptions change what Apply does.
type ApplyOptions struct {
	// Prune removes running plans that the file does not list.
	Prune bool
	// DryRun reports what Apply would do and changes nothing.
	DryRun bool
}

// CheckTimeout bounds how long Apply waits for workers to check plans.
const CheckTimeout = time.Minute

// Apply makes the running plans equal to f. It first validates every plan,
// checks it on its host and compares it with the running one; if anything
// is wrong it changes nothing. Then it starts new plans, sends changed ones
// the validated `apply` Update, leaves unchanged ones alone and, with
// Prune, cancels running plans that f does not list.
func Apply(ctx context.Context, c client.Client, f *plan.File, o ApplyOptions) (ApplyResult, error) {
	res := ApplyResult{DryRun: o.DryRun, Plans: []PlanChange{}}
	if err := f.Validate(); err != nil {
		return res, err
	}
	var problems []string
	var changes []PlanChange
	for i, p := range f.Plans {
		path := fmt.Sprintf("plans[%d]", i)
		check, err := checkPlan(ctx, c, path, p)
		if err != nil {
			return res, err
		}
		problems = append(problems, check.Problems...)
		pc := PlanChange{Plan: p.ID, Action: ActionCreated, Notes: check.Notes}
		running, err := Spec(ctx, c, p.ID)
		var nr *notRunningError
		switch {
		case errors.As(err, &nr):
		case err != nil:
			return res, err
		default:
			if err := plan.CheckReplace(path, running, p); err != nil {
				problems = append(problems, err.Error())
			}
			pc.Action, pc.Changes = ActionUpdated, plan.Diff(running, p)
			if len(pc.Changes) == 0 {
				pc.Action = ActionUnchanged
			}
		}
		changes = append(changes, pc)
	}
	if len(problems) > 0 {
		return res, fmt.Errorf("%s\nnothing was applied", strings.Join(problems, "\n"))
	}
	var stale []string
	if o.Prune {
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
	for i, pc := range changes {
		if !o.DryRun {
			if err := applyOne(ctx, c, f.Plans[i], pc.Action); err != nil {
				return res, fmt.Errorf("apply plans[%d] (%s): %w", i, pc.Plan, err)
			}
		}
		res.Plans = append(res.Plans, pc)
	}
	for _, id := range stale {
		if !o.DryRun {
			if err := Remove(ctx, c, id); err != nil {
				return res, err
			}
		}
		res.Plans = append(res.Plans, PlanChange{Plan: id, Action: ActionRemoved})
	}
	return res, nil
}

// checkPlan runs CheckPlanWorkflow for p.
func checkPlan(ctx context.Context, c client.Client, path string, p plan.Plan) (api.CheckPlanResult, error) {
	var res api.CheckPlanResult
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       fmt.Sprintf("steward/check/%s/%d", p.ID, time.Now().UnixNano()),
		TaskQueue:                activities.TaskQueue,
		WorkflowExecutionTimeout: CheckTimeout,
	}, api.CheckPlanWorkflowName, api.CheckPlanRequest{Path: path, Spec: p})
	if err != nil {
		return res, fmt.Errorf("check %s (%s): %w", path, p.ID, err)
	}
	if err := run.Get(ctx, &res); err != nil {
		host := p.Host
		if host == "" {
			host = "any host"
		}
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return res, fmt.Errorf("check %s (%s): no steward worker for %s answered within %v; is the worker running?", path, p.ID, host, CheckTimeout)
		}
		return res, fmt.Errorf("check %s (%s) on %s: %w", path, p.ID, host, err)
	}
	return res, nil
}

func isTimeout(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te)
}

// applyOne starts p's workflow (action created) or sends it the apply
// Update (action updated).
func applyOne(ctx context.Context, c client.Client, p plan.Plan, action string) error {
	if action == ActionCreated {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                       plan.WorkflowID(p.ID),
			TaskQueue:                activities.TaskQueue,
			WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			// Without this the SDK returns the running workflow as if it had
			// started it, and the plan would silently keep its old spec.
			WorkflowExecutionErrorWhenAlreadyStarted: true,
			StaticSummary:                            summary(p),
			TypedSearchAttributes: temporal.NewSearchAttributes(
				api.AttrPlan.ValueSet(p.ID),
				api.AttrKind.ValueSet(string(p.Kind)),
				api.AttrState.ValueSet(api.StateIdle),
			),
		}, api.PlanWorkflowName, api.PlanStart{Spec: p})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if !errors.As(err, &started) {
			return err
		}
		// Another client created it since we looked: update it instead.
	}
	return Update(ctx, c, p)
}

// Update sends plan p's workflow the validated apply Update and waits for
// its result. A spec the workflow rejects changes nothing; the error says
// which field.
func Update(ctx context.Context, c client.Client, p plan.Plan) error {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   plan.WorkflowID(p.ID),
		UpdateName:   api.UpdateApply,
		Args:         []any{p},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return notFound(p.ID, err)
	}
	var st api.Status
	return h.Get(ctx, &st)
}

// summary is the workflow's static summary in the Web UI. A workflow's
// static summary cannot change after it starts, so it holds nothing that
// an apply could change; the schedule and state are in the details line.
func summary(p plan.Plan) string {
	return fmt.Sprintf("%s plan %s (settings: steward plan show %s --spec)", p.Kind, p.ID, p.ID)
}

// Spec returns the plan running as plan id's workflow, defaults applied.
func Spec(ctx context.Context, c client.Client, id string) (plan.Plan, error) {
	var p plan.Plan
	return p, query(ctx, c, id, api.QuerySpec, &p)
}

// String is the line a person reads: "updated demo: schedule.every: 1m0s ->
// 7m0s", with one more line per note.
func (pc PlanChange) String() string {
	var b strings.Builder
	b.WriteString(pc.Action + " " + pc.Plan)
	for i, ch := range pc.Changes {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + ch.String())
	}
	for _, n := range pc.Notes {
		b.WriteString("\n  note: " + n)
	}
	return b.String()
}

// Summary counts the actions: "1 created, 2 updated, 0 unchanged".
func (r ApplyResult) Summary() string {
	s := fmt.Sprintf("%d created, %d updated, %d unchanged", r.Count(ActionCreated), r.Count(ActionUpdated), r.Count(ActionUnchanged))
	if n := r.Count(ActionRemoved); n > 0 {
		s += fmt.Sprintf(", %d removed", n)
	}
	return s
}
