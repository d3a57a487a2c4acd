package workflows

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/testsuite"
)

// fakeJob is a fake repository job activity (Verify, Maintain): it
// records its calls with the workflow time, fails those fail says should,
// and answers the others with result.
type fakeJob[Req, Res any] struct {
	env    *testsuite.TestWorkflowEnvironment
	fail   func(n int) error
	result func(Req) Res

	mu    sync.Mutex
	calls []jobCall[Req]
}

type jobCall[Req any] struct {
	at  time.Time
	req Req
}

func (f *fakeJob[Req, Res]) run(_ context.Context, req Req) (Res, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, jobCall[Req]{at: f.env.Now().UTC(), req: req})
	var zero Res
	if f.fail != nil {
		if err := f.fail(len(f.calls)); err != nil {
			return zero, err
		}
	}
	return f.result(req), nil
}
