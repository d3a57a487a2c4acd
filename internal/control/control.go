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

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
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
	for name := range api.SearchAttributes {
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
		add[name] = api.SearchAttributes[name]
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ns, SearchAttributes: add,
	})
	if err != nil {
		return nil, fmt.Errorf("add search attributes %s to namespace %s: %w", strings.Join(missing, ", "), ns, err)
	}
	return missing, nil
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
	// ended says how and when the plan's last workflow ended, if known.
	ended string
}

func (e *notRunningError) Error() string {
	if e.ended != "" {
		return fmt.Sprintf("no plan %q (%s)", e.id, e.ended)
	}
	return fmt.Sprintf("no plan %q is running", e.id)
}
func (e *notRunningError) Unwrap() error { return e.err }

// IsNotRunning reports whether err says a plan is not running.
func IsNotRunning(err error) bool {
	var nr *notRunningError
	return errors.As(err, &nr)
}

// ended describes plan id's closed workflow: "removed at 2026-...".
func ended(ctx context.Context, c client.Client, id string) string {
	d, err := c.DescribeWorkflowExecution(ctx, plan.WorkflowID(id), "")
	if err != nil {
		return "not running"
	}
	info := d.GetWorkflowExecutionInfo()
	at := info.GetCloseTime().AsTime().UTC().Format(time.RFC3339)
	switch info.GetStatus() {
	case enums.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "removed at " + at
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running"
	default:
		return fmt.Sprintf("ended %s at %s", strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")), at)
	}
}

// Status returns plan id's status query result.
func Status(ctx context.Context, c client.Client, id string) (api.Status, error) {
	var st api.Status
	return st, query(ctx, c, id, api.QueryStatus, &st)
}

// Summary is a plan as listed from Temporal's visibility store.
type Summary struct {
	Plan string `json:"plan"`
	Kind string `json:"kind"`
	// Host is the host the plan's work runs on; "" for any host, and for
	// plans whose workflow has not published it yet.
	Host        string     `json:"host,omitempty"`
	State       string     `json:"state"`
	NextRun     *time.Time `json:"next_run"`
	LastSuccess *time.Time `json:"last_success"`
	PausedUntil *time.Time `json:"paused_until"`
	// PausedBy, PauseReason and Leases describe a paused plan's pause,
	// from its status (see AddPauseDetails); null otherwise.
	PausedBy    *string     `json:"paused_by"`
	PauseReason *string     `json:"pause_reason"`
	Leases      []api.Lease `json:"leases"`
	// LastResult is how the last finished run ended and when; null before
	// the first one. A failed precondition is a failed run.
	LastResult *LastResult `json:"last_result"`
	// Overdue is set while the last success is older than the deadline.
	Overdue bool `json:"overdue"`
}

// LastResult is how a plan's last finished run ended.
type LastResult struct {
	Outcome  string    `json:"outcome"`
	Finished time.Time `json:"finished"`
	// Seconds is how long the run took; null for plans whose workflow
	// has not published it yet (started by a steward before it did).
	Seconds *float64 `json:"seconds,omitempty"`
}

// List returns the running plans, sorted by ID.
func List(ctx context.Context, c client.Client) ([]Summary, error) {
	var out []Summary
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", api.PlanWorkflowName),
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
				Kind:  keyword(sa, api.AttrKind),
				Host:  keyword(sa, api.AttrHost),
				State: keyword(sa, api.AttrState),
			}
			s.NextRun = timeOf(sa, api.AttrNextRun)
			s.LastSuccess = timeOf(sa, api.AttrLastSuccess)
			s.PausedUntil = timeOf(sa, api.AttrPausedUntil)
			s.Overdue, _ = sa[api.AttrOverdue.GetName()].(bool)
			if o := keyword(sa, api.AttrLastResult); o != "" {
				s.LastResult = &LastResult{Outcome: o, Finished: unixTime(sa, api.AttrLastRunEnd)}
				if ms, ok := intOf(sa, api.AttrLastRunMillis); ok {
					secs := float64(ms) / 1000
					s.LastResult.Seconds = &secs
				}
			}
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
