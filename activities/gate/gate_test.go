package gate_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/activities/gate"
)

func newEnv(a *gate.Activities) *testsuite.TestActivityEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	a.Register(env)
	return env
}

func check(t *testing.T, env *testsuite.TestActivityEnvironment, req activities.CheckPreconditionsRequest) (activities.CheckPreconditionsResult, error) {
	t.Helper()
	var res activities.CheckPreconditionsResult
	val, err := env.ExecuteActivity(activities.CheckPreconditions, req)
	if err != nil {
		return res, err
	}
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: %v", name, err)
	}
	return p
}

var nominal = time.Date(2026, 11, 24, 10, 0, 0, 0, time.FixedZone("CET", 3600))

func TestCheckPreconditionsVerdicts(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "backup")
	sh := lookPath(t, "sh")
	exit := func(code string) activities.Precondition {
		return activities.Precondition{Command: []string{"sh", "-c", "echo checked; exit " + code}, Timeout: 10 * time.Second}
	}
	for _, tc := range []struct {
		name string
		pre  []activities.Precondition
		want activities.CheckPreconditionsResult
	}{
		{"no preconditions", nil, activities.CheckPreconditionsResult{Verdict: activities.VerdictProceed, Index: -1}},
		{"all hold", []activities.Precondition{
			{PathExists: dir}, {Mounted: "/"}, {MinFree: 1, MinFreePath: dir}, exit("0"),
		}, activities.CheckPreconditionsResult{Verdict: activities.VerdictProceed, Index: -1}},
		{"missing path", []activities.Precondition{{PathExists: dir}, {PathExists: missing}, exit("0")},
			activities.CheckPreconditionsResult{Verdict: activities.VerdictWait, Index: 1, Reason: missing + ": no such file or directory"}},
		{"not mounted", []activities.Precondition{{Mounted: dir}},
			activities.CheckPreconditionsResult{Verdict: activities.VerdictWait, Index: 0, Reason: dir + " is not a mount point"}},
		{"skip", []activities.Precondition{{Mounted: "/"}, exit("1")},
			activities.CheckPreconditionsResult{Verdict: activities.VerdictSkip, Index: 1, Reason: "command " + sh + " exited 1", Output: "checked\n"}},
		{"wait", []activities.Precondition{exit("75")},
			activities.CheckPreconditionsResult{Verdict: activities.VerdictWait, Index: 0, Reason: "command " + sh + " exited 75", Output: "checked\n"}},
		{"fail", []activities.Precondition{exit("3")},
			activities.CheckPreconditionsResult{Verdict: activities.VerdictFail, Index: 0, Reason: "command " + sh + " exited 3", Output: "checked\n"}},
		{"command not found", []activities.Precondition{{Command: []string{"/usr/local/bin/steward-check-disk"}}},
			activities.CheckPreconditionsResult{Verdict: activities.VerdictFail, Index: 0, Reason: "command not found: /usr/local/bin/steward-check-disk"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := check(t, newEnv(gate.New()), activities.CheckPreconditionsRequest{
				PlanID: "home", Nominal: nominal, Preconditions: tc.pre,
			})
			if err != nil {
				t.Fatalf("a verdict is a result, not an error: %v", err)
			}
			if got != tc.want {
				t.Errorf("result = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCheckPreconditionsPlanValues passes hostile plan values, as the plan
// ID and in Env: the hook sees them literally and nothing runs them.
func TestCheckPreconditionsPlanValues(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	victim := filepath.Join(dir, "x")
	if err := os.Mkdir(victim, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	planID := "$(touch " + marker + ")"
	req := activities.CheckPreconditionsRequest{
		PlanID:  planID,
		Nominal: nominal,
		Env: map[string]string{
			"STEWARD_SOURCE": "; rm -rf x",
			"STEWARD_PLAN":   "spoofed", // the activity's own value wins
		},
		Preconditions: []activities.Precondition{
			{Command: []string{"sh", "-c", `printf '%s\n' "$STEWARD_PLAN" "$STEWARD_NOMINAL" "$STEWARD_SOURCE"`}},
			{Command: []string{"touch", "$STEWARD_PLAN"}}, // argv as written: a file of that name
			{Command: []string{"sh", "-c", "exit 1"}},
		},
	}
	got, err := check(t, newEnv(gate.New()), req)
	if err != nil {
		t.Fatal(err)
	}
	if got.Verdict != activities.VerdictSkip || got.Index != 2 {
		t.Fatalf("result = %+v, want skip from the last precondition", got)
	}

	// The output of a precondition that decides is in the result.
	req.Preconditions[0].Command[2] += "; exit 75"
	got, err = check(t, newEnv(gate.New()), req)
	if err != nil {
		t.Fatal(err)
	}
	want := planID + "\n2026-11-24T09:00:00Z\n; rm -rf x\n"
	if got.Verdict != activities.VerdictWait || got.Index != 0 || got.Output != want {
		t.Errorf("result = %+v, want wait and output %q", got, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("%s exists: the plan ID was executed", marker)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("%s: %v: a plan value was executed", victim, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "$STEWARD_PLAN")); err != nil {
		t.Errorf("touch $STEWARD_PLAN did not make a file named so: %v", err)
	}
}

func TestCheckPreconditionsNoNominal(t *testing.T) {
	got, err := check(t, newEnv(gate.New()), activities.CheckPreconditionsRequest{
		PlanID:        "home",
		Preconditions: []activities.Precondition{{Command: []string{"sh", "-c", `echo "${STEWARD_NOMINAL-unset}"; exit 1`}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Output != "unset\n" {
		t.Errorf("STEWARD_NOMINAL of a run without a nominal time: %q, want it unset", got.Output)
	}
}

func TestCheckPreconditionsBadRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		pre  activities.Precondition
		env  map[string]string
		want string
	}{
		{"none", activities.Precondition{},
			nil, "preconditions[1]: set exactly one of path_exists, mounted, min_free and command (got none)"},
		{"two", activities.Precondition{PathExists: "/mnt/backup", Mounted: "/mnt/backup"},
			nil, "preconditions[1]: set exactly one of path_exists, mounted, min_free and command (got path_exists and mounted)"},
		// JSON leaves an empty argv out: the activity sees no command.
		{"empty argv", activities.Precondition{Command: []string{}},
			nil, "preconditions[1]: set exactly one of path_exists, mounted, min_free and command (got none)"},
		{"empty program", activities.Precondition{Command: []string{"", "-x"}},
			nil, "preconditions[1]: command: the program (first element of argv) is empty"},
		{"negative timeout", activities.Precondition{Command: []string{"true"}, Timeout: -time.Second},
			nil, "preconditions[1]: command: timeout -1s: must not be negative"},
		{"timeout of a path", activities.Precondition{PathExists: "/mnt/backup", Timeout: time.Second},
			nil, "preconditions[1]: path_exists: timeout 1s applies only to command"},
		{"relative path", activities.Precondition{Mounted: "mnt/backup"},
			nil, `preconditions[1]: mounted: "mnt/backup" is not an absolute path`},
		{"min_free without path", activities.Precondition{MinFree: 10 << 30},
			nil, "preconditions[1]: min_free 10737418240: no min_free_path to measure it at"},
		{"negative min_free", activities.Precondition{MinFree: -1, MinFreePath: "/mnt/backup"},
			nil, "preconditions[1]: min_free: -1 bytes: must not be negative"},
		{"bad env name", activities.Precondition{Command: []string{"true"}},
			map[string]string{"A=B": "x"}, `env: environment variable name "A=B": must be non-empty, without = or NUL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			_, err := check(t, newEnv(gate.New()), activities.CheckPreconditionsRequest{
				PlanID: "home",
				Env:    tc.env,
				// Nothing runs when any precondition is unusable.
				Preconditions: []activities.Precondition{{Command: []string{"touch", marker}}, tc.pre},
			})
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) || ae.Type() != activities.ErrBadConfig || !ae.NonRetryable() {
				t.Fatalf("error %v: want a non-retryable %s", err, activities.ErrBadConfig)
			}
			if !strings.Contains(ae.Error(), tc.want) {
				t.Errorf("error %q, want %q", ae.Error(), tc.want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("a precondition ran although the request is unusable")
			}
		})
	}
}

// TestCheckPreconditionsCancelled cancels the activity while a hook and
// its child hang: the activity heartbeats, ends cancelled, and both
// processes die.
func TestCheckPreconditionsCancelled(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	a := gate.New()
	a.HeartbeatEvery = 10 * time.Millisecond
	env := newEnv(a)
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx})
	var beats atomic.Int32
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats.Add(1) })

	done := make(chan error, 1)
	go func() {
		_, err := check(t, env, activities.CheckPreconditionsRequest{
			PlanID: "home",
			Env:    map[string]string{"PIDS": pidFile},
			Preconditions: []activities.Precondition{{
				Command: []string{"sh", "-c", `sleep 1000 & echo $$ $! > "$PIDS.tmp"; mv "$PIDS.tmp" "$PIDS"; sleep 1000`},
				Timeout: time.Hour,
			}},
		})
		done <- err
	}()
	// The test environment throttles heartbeats as the SDK does, so it
	// does not deliver a cancellation through them: it cancels the
	// context, as the SDK does when a heartbeat's answer asks it to.
	waitFor(t, func() bool { _, err := os.Stat(pidFile); return err == nil })
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the activity did not end after its cancellation")
	}
	if err == nil {
		t.Fatal("the cancelled activity returned a result")
	}
	// The activity returned the context's error; a worker turns that into
	// a cancellation when the server asked for one, the test environment
	// into an application error.
	if !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Errorf("error %v: want the context's cancellation", err)
	}
	if beats.Load() == 0 {
		t.Errorf("no heartbeat while the hook ran")
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file %q", data)
		}
		waitGone(t, pid)
	}
}

// waitGone waits until process pid has ended (a zombie counts), failing
// the test after a while.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || zombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// waitFor waits until cond holds, failing the test after a while.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
