// Package notify implements the notification activities over
// internal/notify.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/notify"
	"github.com/steward-ops/steward/internal/plan"
)

// sendTimeout bounds one delivery to one target.
const sendTimeout = 20 * time.Second

// Activities deliver notifications from this worker.
type Activities struct {
	Sender notify.Sender
	// Defaults are the worker's default targets (--notify), for plans
	// that name none.
	Defaults []notify.Target
	Hostname string
}

// New returns activities that resolve ${NAME} from the environment.
func New(host string, defaults []notify.Target) *Activities {
	return &Activities{
		Sender:   notify.Sender{LookupEnv: os.LookupEnv, HTTP: &http.Client{Timeout: sendTimeout}},
		Defaults: defaults,
		Hostname: host,
	}
}

// Register registers the activities on w.
func (a *Activities) Register(w worker.Worker) {
	w.RegisterActivityWithOptions(a.Notify, activity.RegisterOptions{Name: activities.Notify})
	w.RegisterActivityWithOptions(a.CheckNotify, activity.RegisterOptions{Name: activities.CheckNotify})
}

func targets(ts []activities.NotifyTarget) []notify.Target {
	out := make([]notify.Target, len(ts))
	for i, t := range ts {
		out[i] = notify.Target{URL: t.URL, Kind: t.Kind, Template: t.Template}
	}
	return out
}

// Notify sends req.Event to every target. Targets already served by an
// earlier attempt (its heartbeat says which) are skipped. It fails, to be
// retried, while a target fails for a reason that may pass; a target that
// cannot work (an unset variable, an unknown service) is reported in the
// result instead.
func (a *Activities) Notify(ctx context.Context, req activities.NotifyRequest) (activities.NotifyResult, error) {
	ts := targets(req.Targets)
	if req.Defaults {
		ts = a.Defaults
	}
	var done []int
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &done) // best effort: resend all
	}
	ev := notify.Event(req.Event)
	var res activities.NotifyResult
	var retry []string
	for i, t := range ts {
		if slices.Contains(done, i) {
			res.Sent++
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err := a.Sender.Send(sctx, t, ev)
		cancel()
		switch {
		case err == nil:
			res.Sent++
			done = append(done, i)
			activity.RecordHeartbeat(ctx, done)
		case errors.Is(err, notify.ErrTarget):
			res.Failed = append(res.Failed, fmt.Sprintf("target %d (%s): %v", i+1, kindOf(t), err))
		default:
			retry = append(retry, fmt.Sprintf("target %d (%s): %v", i+1, kindOf(t), err))
		}
	}
	if len(retry) > 0 {
		return res, temporal.NewApplicationError(fmt.Sprintf("%d of %d notification targets failed on %s: %v", len(retry), len(ts), a.Hostname, retry), "StewardNotifyFailed")
	}
	return res, nil
}

func kindOf(t notify.Target) string {
	if t.Kind == "" {
		return plan.NotifyShoutrrr
	}
	return t.Kind
}

// CheckNotify checks that each target resolves on this host and names a
// service that accepts its URL.
func (a *Activities) CheckNotify(_ context.Context, req activities.CheckNotifyRequest) (activities.CheckNotifyResult, error) {
	var res activities.CheckNotifyResult
	for i, t := range targets(req.Targets) {
		if err := a.Sender.Check(t); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s[%d].url: %v on host %s", req.Path, i, err, a.Hostname))
		}
	}
	return res, nil
}
