package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	batchpb "go.temporal.io/api/batch/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// Group operations: one pause or unpause signal to every plan a selection
// names, sent by a server-side batch operation. The batch job is a workflow
// of the Temporal server's own, so the signals reach every plan even when
// the client goes away half way: a group pause is as durable as a single
// one. The client then confirms the effect on each plan through its status.

// BatchTimeout is how long PauseGroup and UnpauseGroup wait by default for
// the batch job and then for every plan to confirm.
const BatchTimeout = 2 * time.Minute

// statusConcurrency bounds the status queries in flight at once.
const statusConcurrency = 16

// ErrNoPlans is returned when a selection matches no running plan.
var ErrNoPlans = errors.New("no running plan matches")

// Errors of PauseGroup and UnpauseGroup do not repeat the selection: the
// caller knows it and names it.

// Selection names the plans of a group operation: every running plan, or
// those a visibility query over their search attributes selects, such as
// `StewardKind="backup"`.
type Selection struct {
	All   bool
	Query string
}

func (s Selection) String() string {
	if s.All {
		return "--all"
	}
	return fmt.Sprintf("--selector '%s'", s.Query)
}

// query is the visibility query of the running plans s selects.
func (s Selection) query() (string, error) {
	q := strings.TrimSpace(s.Query)
	switch {
	case s.All && q != "":
		return "", errors.New("--all and --selector are exclusive")
	case !s.All && q == "":
		return "", errors.New("select plans with --all or --selector QUERY")
	}
	base := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", api.PlanWorkflowName)
	if q == "" {
		return base, nil
	}
	return base + " AND (" + q + ")", nil
}

// GroupOptions tune PauseGroup and UnpauseGroup.
type GroupOptions struct {
	// Timeout bounds the whole operation; default BatchTimeout.
	Timeout time.Duration
	// Namespace is the namespace c works in (the SDK client does not
	// tell); default "default".
	Namespace string
	// Identity names the client in the batch job and its signals.
	Identity string
}

// Outcomes of one plan in a group operation.
const (
	OutcomePaused      = "paused"
	OutcomeUnpaused    = "unpaused"
	OutcomeRejected    = "rejected"
	OutcomeUnconfirmed = "not confirmed"
	OutcomeGone        = "removed"
)

// PlanOutcome is what a group operation did to one plan.
type PlanOutcome struct {
	Plan    string `json:"plan"`
	Outcome string `json:"outcome"`
	// Error is the workflow's reason for a rejection, or why the plan did
	// not confirm.
	Error *string `json:"error"`
	// Status is the plan's last status seen; nil if none could be read.
	Status *api.Status `json:"status"`
}

// GroupResult is what a group operation did.
type GroupResult struct {
	// JobID is the ID of the server's batch job (`temporal batch describe
	// --job-id`).
	JobID string `json:"job_id"`
	// LeaseID is the lease a group pause added to every plan, or the one a
	// group unpause ended ("" for all).
	LeaseID string `json:"lease_id"`
	// Signalled and Failed are the batch job's counts of plans it signalled
	// and could not signal.
	Signalled int64         `json:"signalled"`
	Failed    int64         `json:"failed"`
	Plans     []PlanOutcome `json:"plans"`
}

// GroupError lists the plans of a group operation that rejected the signal
// or did not confirm it in time.
type GroupError struct {
	Signal string
	Total  int
	Failed []PlanOutcome
}

func (e *GroupError) Error() string {
	var b strings.Builder
	rejected, unconfirmed := 0, 0
	for _, p := range e.Failed {
		if p.Outcome == OutcomeRejected {
			rejected++
		} else {
			unconfirmed++
		}
	}
	var parts []string
	if rejected > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d plans rejected the %s signal", rejected, e.Total, e.Signal))
	}
	if unconfirmed > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d plans did not confirm it", unconfirmed, e.Total))
	}
	b.WriteString(strings.Join(parts, "; "))
	for _, p := range e.Failed {
		fmt.Fprintf(&b, "\n  %s: %s", p.Plan, p.Outcome)
		if p.Error != nil {
			fmt.Fprintf(&b, ": %s", *p.Error)
		}
	}
	return b.String()
}

// PauseGroup adds the pause lease s to every plan sel selects, through one
// batch signal operation, and returns once each plan's status shows the
// lease or the workflow rejected it. All plans get the same lease ID (s.ID,
// or a generated one), so the group pause can be ended with one
// UnpauseGroup of that ID. Plans that reject the signal or do not confirm
// in time are returned in a *GroupError, next to the full result.
func PauseGroup(ctx context.Context, c client.Client, sel Selection, s api.PauseSignal, opts GroupOptions) (GroupResult, error) {
	if s.ID == "" {
		s.ID = "g-" + randomHex()
	}
	res, err := signalGroup(ctx, c, sel, api.SignalPause, s, opts, func(before, st api.Status) (string, bool) {
		if hasLease(st, s.ID) || newHistoryRecord(before, st, s.ID) {
			return OutcomePaused, true
		}
		return "", false
	}, rejectedUnlessDone)
	res.LeaseID = s.ID
	return res, err
}

// UnpauseGroup ends lease s.ID, or every lease, on every plan sel selects,
// through one batch signal operation, and returns once each plan's status
// shows the lease gone or the workflow rejected the signal.
func UnpauseGroup(ctx context.Context, c client.Client, sel Selection, s api.UnpauseSignal, opts GroupOptions) (GroupResult, error) {
	res, err := signalGroup(ctx, c, sel, api.SignalUnpause, s, opts, func(_, st api.Status) (string, bool) {
		if s.ID == "" && !st.Pause.Paused || s.ID != "" && !hasLease(st, s.ID) {
			return OutcomeUnpaused, true
		}
		return "", false
	}, rejectedFirst)
	res.LeaseID = s.ID
	return res, err
}

// Whether a new rejection counts even though the status also satisfies the
// confirmation: a lease that is there was added, but a lease that is not
// there may never have existed (unpause of an unknown lease ID).
const (
	rejectedUnlessDone = false
	rejectedFirst      = true
)

func hasLease(st api.Status, id string) bool {
	for _, l := range st.Pause.Leases {
		if l.ID == id {
			return true
		}
	}
	return false
}

// newHistoryRecord reports whether st's pause history holds a record of
// lease id that before's did not: the lease was added and has ended already
// (a short pause).
func newHistoryRecord(before, st api.Status, id string) bool {
	seen := map[time.Time]bool{}
	for _, h := range before.PauseHistory {
		if h.ID == id {
			seen[h.Since] = true
		}
	}
	for _, h := range st.PauseHistory {
		if h.ID == id && !seen[h.Since] {
			return true
		}
	}
	return false
}

// target is one plan of a group operation while it is being confirmed.
type target struct {
	id     string
	before *api.Status
	out    PlanOutcome
	done   bool
}

func signalGroup(ctx context.Context, c client.Client, sel Selection, name string, arg any, opts GroupOptions,
	confirmed func(before, st api.Status) (string, bool), rejectionFirst bool) (GroupResult, error) {
	var res GroupResult
	query, err := sel.query()
	if err != nil {
		return res, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = BatchTimeout
	}
	if opts.Namespace == "" {
		opts.Namespace = client.DefaultNamespace
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	ids, err := listPlanIDs(ctx, c, query)
	if err != nil {
		if sel.Query != "" && isInvalidArgument(err) {
			return res, fmt.Errorf("the server rejects the query %s: %s", query, serviceMessage(err))
		}
		return res, err
	}
	if len(ids) == 0 {
		return res, fmt.Errorf("%w; nothing was signalled", ErrNoPlans)
	}

	// Each plan's status before the signal tells a new rejection from an
	// old one.
	targets := make([]*target, len(ids))
	befores := Statuses(ctx, c, ids)
	for i, id := range ids {
		targets[i] = &target{id: id, out: PlanOutcome{Plan: id}}
		if b := befores[i]; b.Err == nil {
			st := b.Status
			targets[i].before = &st
		} else if isNotFound(b.Err) {
			targets[i].done = true
			targets[i].out.Outcome = OutcomeGone
		}
	}

	payloads, err := converter.GetDefaultDataConverter().ToPayloads(arg)
	if err != nil {
		return res, fmt.Errorf("encode %s signal: %w", name, err)
	}
	res.JobID = fmt.Sprintf("steward/%s/%s", name, randomHex())
	identity := opts.Identity
	if identity == "" {
		identity = "steward@" + Actor()
	}
	if err := startBatch(ctx, c, &workflowservice.StartBatchOperationRequest{
		Namespace:       opts.Namespace,
		VisibilityQuery: query,
		JobId:           res.JobID,
		Reason:          fmt.Sprintf("steward %s %s", name, sel),
		Operation: &workflowservice.StartBatchOperationRequest_SignalOperation{
			SignalOperation: &batchpb.BatchOperationSignal{Signal: name, Input: payloads, Identity: identity},
		},
	}); err != nil {
		if sel.Query != "" && isInvalidArgument(err) {
			return res, fmt.Errorf("the server rejects the query %s: %s", query, serviceMessage(err))
		}
		return res, fmt.Errorf("start batch %s of %d plans: %w", name, len(ids), err)
	}
	job, err := waitBatch(ctx, c, opts.Namespace, res.JobID)
	res.Signalled, res.Failed = job.GetCompleteOperationCount(), job.GetFailureOperationCount()
	if err != nil {
		return res, err
	}

	// Confirm. The batch job has finished, so every signal it sent is in
	// its plan's history, and a status query (strongly consistent: it waits
	// for the workflow task that handles the signal) shows its effect. A
	// plan whose status shows neither the effect nor a rejection did not get
	// the signal: the job signals the run it listed, which fails if the plan
	// continued-as-new meanwhile. Those get it again, directly, by workflow
	// ID, once.
	for round, wait := 0, 50*time.Millisecond; ; round, wait = round+1, min(2*wait, time.Second) {
		pending := pendingIDs(targets)
		if len(pending) == 0 {
			break
		}
		sts := Statuses(ctx, c, pending)
		j := 0
		resend := false
		for _, t := range targets {
			if t.done {
				continue
			}
			classify(t, sts[j], confirmed, rejectionFirst)
			if round == 0 && !t.done && sts[j].Err == nil {
				resend = true
				if err := c.SignalWorkflow(ctx, plan.WorkflowID(t.id), "", name, arg); err != nil {
					msg := fmt.Sprintf("signal again after the batch job missed it: %v", notFound(t.id, err))
					t.out.Error = &msg
				}
			}
			j++
		}
		if resend {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		if ctx.Err() != nil {
			break
		}
	}

	var failed []PlanOutcome
	for _, t := range targets {
		if !t.done {
			t.out.Outcome = OutcomeUnconfirmed
			if t.out.Error == nil {
				msg := fmt.Sprintf("no confirmation within %v", opts.Timeout)
				t.out.Error = &msg
			}
		}
		res.Plans = append(res.Plans, t.out)
		if t.out.Outcome == OutcomeRejected || t.out.Outcome == OutcomeUnconfirmed {
			failed = append(failed, t.out)
		}
	}
	sort.Slice(res.Plans, func(i, j int) bool { return res.Plans[i].Plan < res.Plans[j].Plan })
	if len(failed) > 0 {
		return res, &GroupError{Signal: name, Total: len(targets), Failed: failed}
	}
	return res, nil
}

func pendingIDs(ts []*target) []string {
	var ids []string
	for _, t := range ts {
		if !t.done {
			ids = append(ids, t.id)
		}
	}
	return ids
}

// classify settles t from its latest status, if that shows the outcome.
func classify(t *target, r StatusResult, confirmed func(before, st api.Status) (string, bool), rejectionFirst bool) {
	if r.Err != nil {
		if isNotFound(r.Err) {
			t.done, t.out.Outcome = true, OutcomeGone
			return
		}
		msg := r.Err.Error()
		t.out.Error = &msg // kept if it never confirms
		return
	}
	st := r.Status
	t.out.Status = &st
	t.out.Error = nil
	var before api.Status
	if t.before != nil {
		before = *t.before
	}
	rejected := t.before != nil && st.Counters.RejectedSignals > before.Counters.RejectedSignals && st.LastRejection != nil
	outcome, ok := confirmed(before, st)
	switch {
	case rejected && (rejectionFirst || !ok):
		t.done, t.out.Outcome = true, OutcomeRejected
		// "pause signal at T rejected: REASON" -> REASON
		msg := *st.LastRejection
		if _, reason, ok := strings.Cut(msg, " rejected: "); ok {
			msg = reason
		}
		t.out.Error = &msg
	case ok:
		t.done, t.out.Outcome = true, outcome
	}
}

// StatusResult is one plan's status, or why it could not be read.
type StatusResult struct {
	Status api.Status
	Err    error
}

// statusTimeout bounds one status query of a group: a plan whose worker
// is away must not hold up the others.
const statusTimeout = 10 * time.Second

// Statuses queries the status of every plan in ids, a bounded number at a
// time, and returns the results in the order of ids.
func Statuses(ctx context.Context, c client.Client, ids []string) []StatusResult {
	out := make([]StatusResult, len(ids))
	sem := make(chan struct{}, statusConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			qctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			st, err := Status(qctx, c, id)
			out[i] = StatusResult{Status: st, Err: err}
		}()
	}
	wg.Wait()
	return out
}

// listPlanIDs returns the IDs of the plans query selects, sorted.
func listPlanIDs(ctx context.Context, c client.Client, query string) ([]string, error) {
	var ids []string
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list plans: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, strings.TrimPrefix(e.GetExecution().GetWorkflowId(), plan.WorkflowID("")))
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// startBatch starts the batch job, waiting while the namespace's limit of
// concurrent batch jobs is reached (another group operation is running).
func startBatch(ctx context.Context, c client.Client, req *workflowservice.StartBatchOperationRequest) error {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		_, err := c.WorkflowService().StartBatchOperation(ctx, req)
		var busy *serviceerror.ResourceExhausted
		if !errors.As(err, &busy) || busy.Cause != enums.RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("another batch operation is still running in namespace %s (the server runs one at a time): %w", req.Namespace, err)
		case <-time.After(wait):
		}
	}
}

// waitBatch waits for batch job id to finish and returns its description.
func waitBatch(ctx context.Context, c client.Client, ns, id string) (*workflowservice.DescribeBatchOperationResponse, error) {
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		resp, err := c.WorkflowService().DescribeBatchOperation(ctx, &workflowservice.DescribeBatchOperationRequest{
			Namespace: ns, JobId: id,
		})
		switch {
		case err != nil && ctx.Err() != nil:
			return resp, fmt.Errorf("batch job %s did not finish in time (it goes on in the server; see `temporal batch describe --job-id %s`)", id, id)
		case err != nil:
			return resp, fmt.Errorf("describe batch job %s: %w", id, err)
		}
		switch resp.GetState() {
		case enums.BATCH_OPERATION_STATE_COMPLETED:
			return resp, nil
		case enums.BATCH_OPERATION_STATE_FAILED:
			// The job is a workflow; its failure says why.
			werr := c.GetWorkflow(ctx, id, "").Get(ctx, nil)
			if werr == nil {
				werr = errors.New("no reason given")
			}
			return resp, fmt.Errorf("batch job %s failed: %w", id, werr)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

func isInvalidArgument(err error) bool {
	var ia *serviceerror.InvalidArgument
	return errors.As(err, &ia)
}

// serviceMessage is the server's own words in err.
func serviceMessage(err error) string {
	var ia *serviceerror.InvalidArgument
	if errors.As(err, &ia) {
		return ia.Message
	}
	return err.Error()
}

// HoldingLease is the lease to name as the reason st is paused: lease
// prefer if st has it, else the one that ends last (an indefinite one
// first). It is nil when st has no lease.
func HoldingLease(st api.Status, prefer string) *api.Lease {
	var hold *api.Lease
	for i := range st.Pause.Leases {
		l := &st.Pause.Leases[i]
		if prefer != "" && l.ID == prefer {
			return l
		}
		if hold == nil || endsLater(*l, *hold) {
			hold = l
		}
	}
	return hold
}

// endsLater reports whether lease a ends after lease b, or as late and was
// taken later.
func endsLater(a, b api.Lease) bool {
	switch {
	case a.Until == nil && b.Until != nil:
		return true
	case a.Until != nil && b.Until == nil:
		return false
	case a.Until != nil && !a.Until.Equal(*b.Until):
		return a.Until.After(*b.Until)
	default:
		return !a.Since.Before(b.Since)
	}
}

// AddPauseDetails fills in who paused each paused plan of plans, why and
// with which leases, from the plans' status queries (a bounded number at a
// time). A plan whose status cannot be read keeps its search attributes
// alone.
func AddPauseDetails(ctx context.Context, c client.Client, plans []Summary) {
	var ids []string
	var idx []int
	for i, p := range plans {
		if p.State == api.StatePaused {
			ids = append(ids, p.Plan)
			idx = append(idx, i)
		}
	}
	for j, r := range Statuses(ctx, c, ids) {
		if r.Err != nil {
			continue
		}
		p := &plans[idx[j]]
		p.Leases = append([]api.Lease{}, r.Status.Pause.Leases...)
		if l := HoldingLease(r.Status, ""); l != nil {
			by, reason := l.By, l.Reason
			p.PausedBy, p.PauseReason = &by, &reason
		}
	}
}

func randomHex() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
