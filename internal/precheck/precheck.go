// Package precheck decides, on a plan's host and just before a run, whether
// the run should go ahead: a path exists, a drive is mounted, a file system
// has room, a command hook agrees.
//
// A built-in check that does not hold says Wait (the drive may be plugged
// in, the disk may be freed); a command says what it wants through its exit
// code (0 proceed, 1 skip, 75 wait, anything else fail). The package knows
// nothing of Temporal: activities/gate adapts it.
package precheck

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Verdict is what a check says about the run it guards.
type Verdict int

// Verdicts. The zero Verdict is none of them, so a Result nobody filled in
// never reads as Proceed.
const (
	// Proceed: start the run.
	Proceed Verdict = iota + 1
	// Skip: do not run this time; the next nominal time will come.
	Skip
	// Wait: not yet; check again later.
	Wait
	// Fail: the run fails.
	Fail
)

func (v Verdict) String() string {
	switch v {
	case Proceed:
		return "proceed"
	case Skip:
		return "skip"
	case Wait:
		return "wait"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Kind says which check a Spec is.
type Kind int

// Kinds of check.
const (
	// KindPathExists: Path exists, as a file or a directory.
	KindPathExists Kind = iota + 1
	// KindMounted: Path is itself a mount point.
	KindMounted
	// KindMinFree: the file system holding Path has Bytes available.
	KindMinFree
	// KindCommand: Argv, run with Env, exits 0.
	KindCommand
)

func (k Kind) String() string {
	switch k {
	case KindPathExists:
		return "path_exists"
	case KindMounted:
		return "mounted"
	case KindMinFree:
		return "min_free"
	case KindCommand:
		return "command"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Spec is one check. Path is used by the built-in kinds, Bytes by
// KindMinFree, Argv, Env and Timeout by KindCommand.
type Spec struct {
	Kind Kind
	// Path is absolute, so the check does not depend on the worker's
	// working directory.
	Path  string
	Bytes int64
	// Argv is the program and its arguments, run directly, never through
	// a shell. Env is added to a minimal environment (see Command).
	Argv []string
	Env  map[string]string
	// Timeout bounds the command; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Validate reports what makes s unusable as written.
func (s Spec) Validate() error {
	switch s.Kind {
	case KindPathExists, KindMounted, KindMinFree:
		if s.Path == "" {
			return fmt.Errorf("%s: no path", s.Kind)
		}
		if !filepath.IsAbs(s.Path) {
			return fmt.Errorf("%s: %q is not an absolute path", s.Kind, s.Path)
		}
		if strings.ContainsRune(s.Path, 0) {
			return fmt.Errorf("%s: %q holds a NUL byte", s.Kind, s.Path)
		}
		if s.Bytes < 0 {
			return fmt.Errorf("%s: %d bytes: must not be negative", s.Kind, s.Bytes)
		}
		return nil
	case KindCommand:
		if len(s.Argv) == 0 {
			return errors.New("command: empty argv")
		}
		if s.Argv[0] == "" {
			return errors.New("command: the program (first element of argv) is empty")
		}
		for i, a := range s.Argv {
			if strings.ContainsRune(a, 0) {
				return fmt.Errorf("command: argv[%d] %q holds a NUL byte", i, a)
			}
		}
		if s.Timeout < 0 {
			return fmt.Errorf("command: timeout %v: must not be negative", s.Timeout)
		}
		if err := ValidateEnv(s.Env); err != nil {
			return fmt.Errorf("command: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown kind of check %v", s.Kind)
}

// Result is what a check said, and why.
type Result struct {
	Verdict Verdict
	// Index is the position, in the specs given to Check, of the one that
	// decided; -1 when all of them proceed. The single checks
	// (PathExists, ...) leave it 0.
	Index int
	// Reason says why, for people: "/mnt/backup is not a mount point".
	// Empty when the verdict is Proceed from a built-in check.
	Reason string
	// Output is a command's combined stdout and stderr, capped at
	// OutputLimit bytes.
	Output string
}

// Check runs specs in order and returns the first result that is not
// Proceed, or Proceed with Index -1 when all of them proceed.
//
// Cancelling ctx kills a running command and abandons a built-in check
// stuck in the kernel (a stat on a hung network mount); Check then says
// Fail with a reason that names the cancellation.
func Check(ctx context.Context, specs []Spec) Result {
	for i, s := range specs {
		r := check(ctx, s)
		if r.Verdict != Proceed {
			r.Index = i
			return r
		}
	}
	return Result{Verdict: Proceed, Index: -1}
}

func check(ctx context.Context, s Spec) Result {
	if err := s.Validate(); err != nil {
		return Result{Verdict: Fail, Reason: err.Error()}
	}
	if err := ctx.Err(); err != nil {
		return cancelled(ctx, s.Kind.String())
	}
	switch s.Kind {
	case KindPathExists:
		return abandonable(ctx, s.Kind, func() Result { return PathExists(s.Path) })
	case KindMounted:
		return abandonable(ctx, s.Kind, func() Result { return Mounted(s.Path) })
	case KindMinFree:
		return abandonable(ctx, s.Kind, func() Result { return MinFree(s.Path, s.Bytes) })
	default: // KindCommand, as Validate checked
		return Command(ctx, s.Argv, s.Env, s.Timeout)
	}
}

// abandonable runs a built-in check, giving up on it when ctx is done: its
// system calls cannot be interrupted, and a hard network mount that lost
// its server blocks them for good.
func abandonable(ctx context.Context, k Kind, f func() Result) Result {
	done := make(chan Result, 1)
	go func() { done <- f() }()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		return cancelled(ctx, k.String())
	}
}

func cancelled(ctx context.Context, what string) Result {
	return Result{Verdict: Fail, Reason: fmt.Sprintf("%s cancelled: %v", what, context.Cause(ctx))}
}
