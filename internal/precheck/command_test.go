package precheck_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/precheck"
)

func TestCommandExitCodes(t *testing.T) {
	sh := lookPath(t, "sh")
	for _, tc := range []struct {
		code    int
		verdict precheck.Verdict
		reason  string
	}{
		{0, precheck.Proceed, ""},
		{1, precheck.Skip, "command " + sh + " exited 1"},
		{75, precheck.Wait, "command " + sh + " exited 75"},
		{3, precheck.Fail, "command " + sh + " exited 3"},
		{2, precheck.Fail, "command " + sh + " exited 2"},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			t.Parallel()
			got := precheck.Command(t.Context(), []string{"sh", "-c", fmt.Sprintf("echo out; echo err >&2; exit %d", tc.code)}, nil, 10*time.Second)
			wantResult(t, got, tc.verdict, tc.reason)
			if got.Output != "out\nerr\n" {
				t.Errorf("output = %q, want stdout and stderr, %q", got.Output, "out\nerr\n")
			}
		})
	}
}

func TestCommandKilledBySignal(t *testing.T) {
	sh := lookPath(t, "sh")
	got := precheck.Command(t.Context(), []string{"sh", "-c", "kill -TERM $$"}, nil, 10*time.Second)
	wantResult(t, got, precheck.Fail, "command "+sh+" killed by signal 15 (terminated)")
}

func TestCommandNotFound(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "check-disk")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for argv0, reason := range map[string]string{
		"steward-no-such-hook":          "command not found: steward-no-such-hook",
		"/usr/local/bin/steward-nohook": "command not found: /usr/local/bin/steward-nohook",
		notExec:                         "command " + notExec + ": permission denied",
	} {
		wantResult(t, precheck.Command(t.Context(), []string{argv0}, nil, time.Second), precheck.Fail, reason)
	}
}

func TestCommandBadRequest(t *testing.T) {
	for _, tc := range []struct {
		argv   []string
		env    map[string]string
		reason string
	}{
		{nil, nil, "command: empty argv"},
		{[]string{""}, nil, "command: the program (first element of argv) is empty"},
		{[]string{"true", "a\x00b"}, nil, `command: argv[1] "a\x00b" holds a NUL byte`},
		{[]string{"true"}, map[string]string{"A=B": "x"}, `command: environment variable name "A=B": must be non-empty, without = or NUL`},
		{[]string{"true"}, map[string]string{"": "x"}, `command: environment variable name "": must be non-empty, without = or NUL`},
		{[]string{"true"}, map[string]string{"A": "x\x00"}, "command: environment variable A: the value holds a NUL byte"},
	} {
		wantResult(t, precheck.Command(t.Context(), tc.argv, tc.env, time.Second), precheck.Fail, tc.reason)
	}
}

// TestCommandTimeoutKillsGroup runs a hook that hangs after starting a
// child that hangs too: both die at the timeout.
func TestCommandTimeoutKillsGroup(t *testing.T) {
	sh := lookPath(t, "sh")
	got := precheck.Command(t.Context(), []string{"sh", "-c", "sleep 1000 & echo $!; sleep 1000"}, nil, 300*time.Millisecond)
	wantResult(t, got, precheck.Fail, "command "+sh+" killed after timeout 300ms")
	for _, pid := range pids(t, got.Output) {
		waitGone(t, pid)
	}
}

// TestCommandLeftovers runs a hook that exits at once, leaving a child
// that holds its output open: the child is killed, the hook's verdict
// stands.
func TestCommandLeftovers(t *testing.T) {
	// Proceed, not "killed after timeout": Command did not wait for the
	// child to end.
	got := precheck.Command(t.Context(), []string{"sh", "-c", "sleep 1000 & echo $!"}, nil, time.Minute)
	wantResult(t, got, precheck.Proceed, "")
	for _, pid := range pids(t, got.Output) {
		waitGone(t, pid)
	}
}

// TestCommandEscapedDescendant runs a hook whose child leaves the process
// group (setsid) and keeps the output pipe open: Command still returns.
func TestCommandEscapedDescendant(t *testing.T) {
	lookPath(t, "setsid")
	// The hook exits only once its child has left the group.
	left := filepath.Join(t.TempDir(), "left")
	got := precheck.Command(t.Context(), []string{"sh", "-c",
		`setsid sh -c 'touch "$LEFT"; exec sleep 1000' & echo $!; until [ -e "$LEFT" ]; do sleep 0.01; done`},
		map[string]string{"LEFT": left}, time.Minute)
	for _, pid := range pids(t, got.Output) {
		syscall.Kill(pid, syscall.SIGKILL) // out of Command's reach, by design of the test
	}
	// Proceed, not "killed after timeout": the escaped child's open pipe
	// did not hold Command until its timeout.
	wantResult(t, got, precheck.Proceed, "")
}

func TestCommandCancelled(t *testing.T) {
	sh := lookPath(t, "sh")
	ctx, cancel := context.WithCancel(t.Context())
	marker := filepath.Join(t.TempDir(), "started")
	done := make(chan precheck.Result)
	go func() {
		done <- precheck.Command(ctx, []string{"sh", "-c", `sleep 1000 & echo $!; touch "$MARKER"; sleep 1000`},
			map[string]string{"MARKER": marker}, time.Minute)
	}()
	waitFor(t, func() bool { _, err := os.Stat(marker); return err == nil })
	cancel()
	got := <-done
	wantResult(t, got, precheck.Fail, "command "+sh+" cancelled: context canceled")
	for _, pid := range pids(t, got.Output) {
		waitGone(t, pid)
	}
}

// TestCommandOutputCapped runs a hook that prints 100 MB: Command keeps
// the first OutputLimit bytes, drains the rest and says how much it
// dropped, without holding it in memory.
func TestCommandOutputCapped(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := precheck.Command(t.Context(), []string{"head", "-c", "100000000", "/dev/zero"}, nil, time.Minute)
	runtime.ReadMemStats(&after)

	wantResult(t, got, precheck.Proceed, "")
	want := strings.Repeat("\x00", precheck.OutputLimit) + "\n[output truncated: 99934464 bytes]"
	if got.Output != want {
		t.Errorf("output: %d bytes ending %q, want %d bytes ending %q",
			len(got.Output), got.Output[max(0, len(got.Output)-40):], len(want), want[len(want)-40:])
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("Command allocated %d bytes reading 100 MB of output, want it capped", alloc)
	}
}

// TestCommandEndlessOutput runs a hook that prints until killed.
func TestCommandEndlessOutput(t *testing.T) {
	yes := lookPath(t, "yes")
	got := precheck.Command(t.Context(), []string{"yes"}, nil, 300*time.Millisecond)
	wantResult(t, got, precheck.Fail, "command "+yes+" killed after timeout 300ms")
	prefix := strings.Repeat("y\n", precheck.OutputLimit/2) + "[output truncated: "
	if !strings.HasPrefix(got.Output, prefix) || !strings.HasSuffix(got.Output, " bytes]") {
		t.Errorf("output: %d bytes ending %q, want %d bytes of y and a truncation note",
			len(got.Output), got.Output[max(0, len(got.Output)-40):], precheck.OutputLimit)
	}
}

func TestCommandStdinIsDevNull(t *testing.T) {
	got := precheck.Command(t.Context(), []string{"cat"}, nil, 10*time.Second)
	wantResult(t, got, precheck.Proceed, "")
	if got.Output != "" {
		t.Errorf("cat read %q, want nothing", got.Output)
	}
}

// TestCommandEnvironment checks that plan values reach a hook as literal
// environment variables, never run by a shell or spliced into argv, and
// that of the worker's environment only PATH, HOME and LANG do.
func TestCommandEnvironment(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	victim := filepath.Join(dir, "x")
	if err := os.Mkdir(victim, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir) // where "rm -rf x" would hit
	t.Setenv("STEWARD_REPO_PASSWORD", "hunter2")
	t.Setenv("LANG", "C.UTF-8")
	env := map[string]string{
		"STEWARD_PLAN":  "$(touch " + marker + ")",
		"STEWARD_NOTE":  "; rm -rf x",
		"STEWARD_QUOTE": "`touch " + marker + "` \"'\n$HOME",
	}

	got := precheck.Command(t.Context(), []string{"env"}, env, 10*time.Second)
	wantResult(t, got, precheck.Proceed, "")
	var wantVars []string
	for k, v := range env {
		wantVars = append(wantVars, k+"="+v)
	}
	wantVars = append(wantVars, "PATH="+os.Getenv("PATH"), "LANG=C.UTF-8")
	if home, ok := os.LookupEnv("HOME"); ok {
		wantVars = append(wantVars, "HOME="+home)
	}
	slices.Sort(wantVars)
	if want := strings.Join(wantVars, "\n") + "\n"; got.Output != want {
		t.Errorf("the hook's environment:\n%s\nwant:\n%s", got.Output, want)
	}

	// A hook that is a shell script expands the variables, but the shell
	// does not run what is inside them.
	got = precheck.Command(t.Context(), []string{"sh", "-c", `printf '%s|%s|%s' "$STEWARD_PLAN" "$STEWARD_NOTE" "$STEWARD_QUOTE"`}, env, 10*time.Second)
	if want := env["STEWARD_PLAN"] + "|" + env["STEWARD_NOTE"] + "|" + env["STEWARD_QUOTE"]; got.Output != want {
		t.Errorf("the hook printed %q, want %q", got.Output, want)
	}
	// argv is passed as written, never expanded.
	got = precheck.Command(t.Context(), []string{"printf", "%s", "$STEWARD_PLAN;$(touch " + marker + ")"}, env, 10*time.Second)
	if want := "$STEWARD_PLAN;$(touch " + marker + ")"; got.Output != want {
		t.Errorf("printf printed %q, want its argument as written, %q", got.Output, want)
	}

	if _, err := os.Stat(marker); err == nil {
		t.Errorf("%s exists: a plan value was executed", marker)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("%s: %v: a plan value was executed", victim, err)
	}
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
