package notify

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/notify"
)

func TestNotifyActivity(t *testing.T) {
	var hits atomic.Int32
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		if fail.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	good := activities.NotifyTarget{URL: "generic+" + srv.URL + "/a"}
	unset := activities.NotifyTarget{URL: "generic+" + srv.URL + "/${NOT_SET_ANYWHERE}"}
	a := &Activities{Sender: notify.Sender{LookupEnv: func(string) (string, bool) { return "", false }}, Hostname: "nas",
		Defaults: []notify.Target{{URL: "generic+" + srv.URL + "/default"}}}
	ev := activities.NotifyEvent{Name: "failed", Plan: "home", Kind: "backup"}

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a.Notify)

	// A target that cannot work is reported, not retried.
	v, err := env.ExecuteActivity(a.Notify, activities.NotifyRequest{Event: ev, Targets: []activities.NotifyTarget{good, unset}})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.NotifyResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Sent != 1 || len(res.Failed) != 1 || !strings.Contains(res.Failed[0], "NOT_SET_ANYWHERE is not set") {
		t.Errorf("result = %+v, want 1 sent and the unset variable reported", res)
	}

	// A receiver that fails: an error, retried by Temporal; a retry skips
	// the targets its heartbeat says were served.
	fail.Store(true)
	if _, err := env.ExecuteActivity(a.Notify, activities.NotifyRequest{Event: ev, Targets: []activities.NotifyTarget{good}}); err == nil ||
		!strings.Contains(err.Error(), "1 of 1 notification targets failed on nas") {
		t.Errorf("failing receiver: %v", err)
	}
	fail.Store(false)
	before := hits.Load()
	env.SetHeartbeatDetails([]int{0})
	v, err = env.ExecuteActivity(a.Notify, activities.NotifyRequest{Event: ev, Targets: []activities.NotifyTarget{good, good}})
	if err != nil || v.Get(&res) != nil || res.Sent != 2 || hits.Load() != before+1 {
		t.Errorf("retry after target 0 was served: %+v, %v, %d requests (want 1)", res, err, hits.Load()-before)
	}

	// No targets of its own: the worker's defaults.
	env.SetHeartbeatDetails(nil)
	v, err = env.ExecuteActivity(a.Notify, activities.NotifyRequest{Event: ev, Defaults: true})
	if err != nil || v.Get(&res) != nil || res.Sent != 1 {
		t.Errorf("defaults: %+v, %v", res, err)
	}
}
