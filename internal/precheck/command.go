package precheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Exit codes of the command hook protocol. Any other exit, and any death
// by a signal, means Fail.
const (
	ExitProceed = 0
	ExitSkip    = 1
	ExitWait    = 75 // EX_TEMPFAIL in sysexits.h
)

// DefaultTimeout bounds a command given no timeout.
const DefaultTimeout = 30 * time.Second

// OutputLimit is how much of a command's output Command keeps.
const OutputLimit = 64 << 10

// drainGrace bounds the wait for a command's output pipe to close once its
// process group is gone: a descendant that left the group (setsid) may keep
// it open for good.
const drainGrace = 500 * time.Millisecond

// baseEnv names the variables a command inherits from the worker; nothing
// else of the worker's environment (which may hold repository passwords)
// reaches it.
var baseEnv = []string{"PATH", "HOME", "LANG"}

// Command runs argv and reads its verdict from the exit code: 0 Proceed,
// 1 Skip, 75 Wait, anything else Fail.
//
// argv runs directly, never through a shell; argv[0] is looked up in the
// worker's PATH. Values that come from a plan reach the command only as
// environment variables: env, added to PATH, HOME and LANG as the worker
// has them (env wins). Standard input is /dev/null; standard output and
// error are captured together, the first OutputLimit bytes kept and the
// rest read and dropped, so a chatty command never blocks or fills memory.
//
// The command runs in a process group of its own. At the timeout
// (DefaultTimeout when 0), or when ctx is done, the whole group is killed,
// so a hung hook takes its children with it; whatever the command leaves
// running in its group when it exits is killed too.
func Command(ctx context.Context, argv []string, env map[string]string, timeout time.Duration) Result {
	if err := (Spec{Kind: KindCommand, Argv: argv, Env: env, Timeout: timeout}).Validate(); err != nil {
		return Result{Verdict: Fail, Reason: err.Error()}
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return Result{Verdict: Fail, Reason: "command not found: " + argv[0]}
		}
		return Result{Verdict: Fail, Reason: fmt.Sprintf("command %s: %v", argv[0], unwrapExec(err))}
	}
	if err := ctx.Err(); err != nil {
		return cancelled(ctx, "command "+path)
	}

	r, w, err := os.Pipe()
	if err != nil {
		return Result{Verdict: Fail, Reason: fmt.Sprintf("command %s: output pipe: %v", path, err)}
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         commandEnv(env),
		Stdin:       nil, // /dev/null
		Stdout:      w,   // the same *os.File: one pipe, no copying goroutine
		Stderr:      w,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	w.Close() // the child has its copy; the pipe ends when the last writer exits
	if err != nil {
		return Result{Verdict: Fail, Reason: fmt.Sprintf("command %s: %v", path, unwrapExec(err))}
	}
	pgid := cmd.Process.Pid // Setpgid with Pgid 0: the group is named after its leader

	out := &cappedBuffer{limit: OutputLimit}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		out.readFrom(r)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var killed string // why Command killed the group, if it did
	select {
	case err = <-exited:
	case <-timer.C:
		killGroup(pgid)
		killed = fmt.Sprintf("killed after timeout %v", timeout)
		err = <-exited
	case <-ctx.Done():
		killGroup(pgid)
		killed = fmt.Sprintf("cancelled: %v", context.Cause(ctx))
		err = <-exited
	}
	// Whatever the command left behind in its group would hold the output
	// pipe open, and has no business outliving a check. The leader is
	// reaped by now, but the group's number stays taken while any member
	// lives; once none does, it could name an unrelated group only after
	// the kernel had cycled through every process ID since.
	killGroup(pgid)
	_ = r.SetReadDeadline(time.Now().Add(drainGrace))
	<-drained

	res := Result{Output: out.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.Verdict = Proceed
	case errors.As(err, &ee):
		res.Verdict, res.Reason = exitVerdict(path, ee.ProcessState, killed)
	default:
		res.Verdict, res.Reason = Fail, fmt.Sprintf("command %s: %v", path, err)
	}
	return res
}

// exitVerdict reads the verdict from how a command ended.
func exitVerdict(path string, ps *os.ProcessState, killed string) (Verdict, string) {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled() && killed != "":
		return Fail, fmt.Sprintf("command %s %s", path, killed)
	case ok && ws.Signaled():
		return Fail, fmt.Sprintf("command %s killed by signal %d (%v)", path, int(ws.Signal()), ws.Signal())
	}
	code := ps.ExitCode()
	reason := fmt.Sprintf("command %s exited %d", path, code)
	switch code {
	case ExitProceed:
		return Proceed, ""
	case ExitSkip:
		return Skip, reason
	case ExitWait:
		return Wait, reason
	}
	return Fail, reason
}

// killGroup sends SIGKILL to every process of the group pgid.
func killGroup(pgid int) {
	// ESRCH: the group is gone already.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// commandEnv is the environment of a command: baseEnv from the worker,
// then env, sorted by name. It is never nil: exec.Cmd would give a nil
// environment the worker's whole environment.
func commandEnv(env map[string]string) []string {
	vars := map[string]string{}
	for _, k := range baseEnv {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	for k, v := range env {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// ValidateEnv reports a variable of env that cannot be passed to a
// process.
func ValidateEnv(env map[string]string) error {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("environment variable name %q: must be non-empty, without = or NUL", k)
		}
		if strings.ContainsRune(env[k], 0) {
			return fmt.Errorf("environment variable %s: the value holds a NUL byte", k)
		}
	}
	return nil
}

// unwrapExec drops exec.Error's repetition of the program name.
func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// cappedBuffer keeps the first limit bytes written to it and counts the
// rest.
type cappedBuffer struct {
	limit   int
	buf     []byte
	dropped int64
}

// readFrom reads r until it ends or fails (its read deadline passes).
func (b *cappedBuffer) readFrom(r *os.File) {
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		keep := min(n, b.limit-len(b.buf))
		b.buf = append(b.buf, chunk[:keep]...)
		b.dropped += int64(n - keep)
		if err != nil {
			return
		}
	}
}

func (b *cappedBuffer) String() string {
	if b.dropped == 0 {
		return string(b.buf)
	}
	sep := ""
	if len(b.buf) > 0 && b.buf[len(b.buf)-1] != '\n' {
		sep = "\n"
	}
	return fmt.Sprintf("%s%s[output truncated: %d bytes]", b.buf, sep, b.dropped)
}
