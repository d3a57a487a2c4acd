package control

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// RegisterHost adds host to the host registry (starting the registry
// workflow if it is not running), so preheats with hosts: all include it.
func RegisterHost(ctx context.Context, c client.Client, host string) error {
	_, err := c.SignalWithStartWorkflow(ctx, activities.HostsWorkflowID, activities.SignalRegisterHost,
		activities.HostRegistration{Host: host, At: time.Now().UTC()},
		client.StartWorkflowOptions{
			ID:            activities.HostsWorkflowID,
			TaskQueue:     activities.TaskQueue,
			StaticSummary: "steward's worker hosts (hosts: all)",
		},
		api.HostsWorkflowName, api.HostsState{})
	if err != nil {
		return fmt.Errorf("register host %s: %w", host, err)
	}
	return nil
}

// OneOffPreheat is a one-off preheat request from `steward preheat`.
type OneOffPreheat struct {
	Preheat plan.Preheat
	// Retry is the activity retry policy; zero means the default.
	Retry plan.ActivityRetry
}

// PreheatID is the workflow ID of a one-off preheat: derived from the
// request, so two identical requests at once share one run.
func PreheatID(req OneOffPreheat) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "steward/preheat/" + hex.EncodeToString(sum[:8]), nil
}

// StartPreheat validates a one-off preheat and starts its PreheatRunWorkflow,
// or joins the identical one already running. joined says which.
func StartPreheat(ctx context.Context, c client.Client, req OneOffPreheat) (run client.WorkflowRun, joined bool, err error) {
	req.Preheat.SetDefaults()
	if err := req.Preheat.Validate(); err != nil {
		return nil, false, err
	}
	if req.Retry.MaxAttempts == 0 {
		req.Retry = plan.DefaultActivityRetry
	}
	// The retry policy is part of the request: the same preheat with other
	// retries is another run.
	id, err := PreheatID(req)
	if err != nil {
		return nil, false, err
	}
	// The memo tells our start from an identical one already running: a
	// joined run keeps the memo of whoever started it.
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, false, err
	}
	request := hex.EncodeToString(nonce[:])
	run, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		Memo:                     map[string]any{"request": request},
		ID:                       id,
		TaskQueue:                activities.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            "one-off preheat",
		TypedSearchAttributes:    temporal.NewSearchAttributes(api.AttrKind.ValueSet(string(plan.KindPreheat))),
	}, api.PreheatRunWorkflowName, api.PreheatRunRequest{Preheat: req.Preheat, Retry: req.Retry})
	if err != nil {
		return nil, false, fmt.Errorf("start preheat: %w", err)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, id, run.GetRunID())
	if err != nil {
		return run, false, fmt.Errorf("describe preheat %s: %w", id, err)
	}
	var started string
	if p := desc.GetWorkflowExecutionInfo().GetMemo().GetFields()["request"]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &started)
	}
	return run, started != request, nil
}

// PreheatResult waits for a preheat run and returns its report; a failed
// run returns the report it carried with its error.
func PreheatResult(ctx context.Context, run client.WorkflowRun) (api.PreheatRunResult, error) {
	var rep api.RunReport
	err := run.Get(ctx, &rep)
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.HasDetails() {
			_ = app.Details(&rep)
		}
	}
	if rep.Preheat == nil {
		return api.PreheatRunResult{}, err
	}
	return *rep.Preheat, err
}
