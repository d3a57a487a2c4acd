// Package gate implements the CheckPreconditions activity over the
// precondition engine, internal/precheck.
//
// It turns the contract's preconditions into engine checks, gives command
// hooks the plan's values as environment variables (STEWARD_PLAN,
// STEWARD_NOMINAL), heartbeats while the checks run so that a cancellation
// reaches them (a running hook is killed with its process group), and
// returns the verdict as the activity's result: a precondition that does
// not hold is an answer, not an error. Only a request that cannot work as
// written is an error, of type activities.ErrBadConfig.
package gate

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/precheck"
)

// Environment variables every command hook gets.
const (
	// EnvPlan holds the plan's ID.
	EnvPlan = "STEWARD_PLAN"
	// EnvNominal holds the run's nominal time, RFC 3339 in UTC; it is
	// absent when the run has none (a one-off run).
	EnvNominal = "STEWARD_NOMINAL"
)

// Activities is the precondition activity and what it depends on. The zero
// value is not ready: use New, then change fields before registering.
type Activities struct {
	// Check runs the checks; New sets precheck.Check.
	Check func(ctx context.Context, specs []precheck.Spec) precheck.Result
	// HeartbeatEvery is the time between two heartbeats while checks run.
	// It is shortened to half the activity's heartbeat timeout when that
	// is shorter.
	HeartbeatEvery time.Duration
}

// New returns the activity with its real dependencies.
func New() *Activities {
	return &Activities{Check: precheck.Check, HeartbeatEvery: time.Second}
}

// Register registers the activity on r under its contract name.
func (a *Activities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.CheckPreconditions, activity.RegisterOptions{Name: activities.CheckPreconditions})
}

// CheckPreconditions checks req's preconditions in order on this host and
// returns the verdict of the first that does not say proceed, or proceed
// with Index -1.
func (a *Activities) CheckPreconditions(ctx context.Context, req activities.CheckPreconditionsRequest) (activities.CheckPreconditionsResult, error) {
	specs, err := toSpecs(req)
	if err != nil {
		return activities.CheckPreconditionsResult{}, err
	}

	stop := a.heartbeat(ctx)
	res := a.Check(ctx, specs)
	stop()
	if err := ctx.Err(); err != nil {
		// Cancelled or timed out: the SDK reports it as such, and the
		// engine's verdict only says that it was interrupted.
		return activities.CheckPreconditionsResult{}, err
	}

	verdict, ok := verdicts[res.Verdict]
	if !ok {
		return activities.CheckPreconditionsResult{}, fmt.Errorf("check preconditions of plan %s: engine gave no verdict (%v)", req.PlanID, res.Verdict)
	}
	if verdict != activities.VerdictProceed {
		activity.GetLogger(ctx).Info("Precondition does not hold",
			"plan", req.PlanID, "index", res.Index, "verdict", verdict, "reason", res.Reason)
	}
	return activities.CheckPreconditionsResult{
		Verdict: verdict,
		Index:   res.Index,
		Reason:  res.Reason,
		// Hooks may print anything; payloads are JSON.
		Output: strings.ToValidUTF8(res.Output, "\uFFFD"),
	}, nil
}

var verdicts = map[precheck.Verdict]string{
	precheck.Proceed: activities.VerdictProceed,
	precheck.Skip:    activities.VerdictSkip,
	precheck.Wait:    activities.VerdictWait,
	precheck.Fail:    activities.VerdictFail,
}

// heartbeat records heartbeats until the returned function is called: a
// cancellation reaches an activity only through them.
func (a *Activities) heartbeat(ctx context.Context) (stop func()) {
	every := a.HeartbeatEvery
	if t := activity.GetInfo(ctx).HeartbeatTimeout; t > 0 && (every <= 0 || t/2 < every) {
		every = t / 2
	}
	if every <= 0 {
		every = time.Second
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			activity.RecordHeartbeat(ctx)
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// toSpecs turns the contract's preconditions into engine checks, each
// command's environment being req.Env with the plan's values added.
func toSpecs(req activities.CheckPreconditionsRequest) ([]precheck.Spec, error) {
	if err := precheck.ValidateEnv(req.Env); err != nil {
		return nil, badConfig("env: %v", err)
	}
	env := maps.Clone(req.Env)
	if env == nil {
		env = map[string]string{}
	}
	env[EnvPlan] = req.PlanID
	if !req.Nominal.IsZero() {
		env[EnvNominal] = req.Nominal.UTC().Format(time.RFC3339)
	}

	specs := make([]precheck.Spec, 0, len(req.Preconditions))
	for i, p := range req.Preconditions {
		s, err := toSpec(p, env)
		if err == nil {
			err = s.Validate()
		}
		if err != nil {
			return nil, badConfig("preconditions[%d]: %v", i, err)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

func toSpec(p activities.Precondition, env map[string]string) (precheck.Spec, error) {
	var kinds []string
	var s precheck.Spec
	if p.PathExists != "" {
		kinds = append(kinds, "path_exists")
		s = precheck.Spec{Kind: precheck.KindPathExists, Path: p.PathExists}
	}
	if p.Mounted != "" {
		kinds = append(kinds, "mounted")
		s = precheck.Spec{Kind: precheck.KindMounted, Path: p.Mounted}
	}
	if p.MinFree != 0 || p.MinFreePath != "" {
		kinds = append(kinds, "min_free")
		s = precheck.Spec{Kind: precheck.KindMinFree, Path: p.MinFreePath, Bytes: p.MinFree}
	}
	if p.Command != nil {
		kinds = append(kinds, "command")
		s = precheck.Spec{Kind: precheck.KindCommand, Argv: p.Command, Env: env, Timeout: p.Timeout}
	}
	switch {
	case len(kinds) != 1:
		what := "none"
		if len(kinds) > 1 {
			what = strings.Join(kinds, " and ")
		}
		return s, fmt.Errorf("set exactly one of path_exists, mounted, min_free and command (got %s)", what)
	case s.Kind == precheck.KindMinFree && p.MinFreePath == "":
		return s, fmt.Errorf("min_free %d: no min_free_path to measure it at", p.MinFree)
	case s.Kind != precheck.KindCommand && p.Timeout != 0:
		return s, fmt.Errorf("%s: timeout %v applies only to command", kinds[0], p.Timeout)
	}
	return s, nil
}

// badConfig is a non-retryable error of type ErrBadConfig.
func badConfig(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrBadConfig, nil)
}
