package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"syscall"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/content"
	"github.com/kopia/kopia/repo/object"
)

// Errors callers can tell apart with errors.Is. Every error returned by this
// package that has one of these causes wraps it, with the operation and the
// repository or path in the message.
var (
	// ErrWrongPassword: the repository exists but the password does not
	// open it.
	ErrWrongPassword = errors.New("wrong repository password")
	// ErrNoSpace: the file system holding the repository (or a restore
	// target) has no space left.
	ErrNoSpace = errors.New("no space left on device")
	// ErrCorrupt: the repository cannot be read consistently (an unreadable
	// format blob, missing or undecryptable data).
	ErrCorrupt = errors.New("repository is corrupt or unreadable")
	// ErrNoSource: the directory to snapshot does not exist or is not a
	// directory.
	ErrNoSource = errors.New("no such directory")
	// ErrUnsupported: the repository location names a storage this package
	// does not handle yet (anything but a local path).
	ErrUnsupported = errors.New("unsupported repository location")
	// ErrNoRepository: the location holds no kopia repository, and either
	// Options.Create is false or the location holds other files.
	ErrNoRepository = errors.New("no kopia repository")
	// ErrNotFound: no snapshot has the given ID, or the snapshot has no
	// such path.
	ErrNotFound = errors.New("snapshot not found")
	// ErrTargetNotEmpty: a restore target is a directory that already
	// holds files, and overwriting was not asked for.
	ErrTargetNotEmpty = errors.New("restore target is not empty")
	// ErrUnsafePath: a restore would write outside its target: an entry of
	// the snapshot has a name such as "../x" or "/etc/x", or a directory
	// to restore into is a symbolic link in the target (or the target is
	// not a directory at all).
	ErrUnsafePath = errors.New("would write outside the restore target")
)

// kindError gives an error one of the sentinel kinds above while keeping its
// own message and chain: errors.Is matches both the kind and the cause.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// classify marks err with the sentinel kind its cause reveals, if any. Errors
// that already carry a kind, and context errors, are returned unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range []error{ErrWrongPassword, ErrNoSpace, ErrCorrupt, ErrNoSource, ErrUnsupported, ErrNoRepository, ErrNotFound, ErrTargetNotEmpty, ErrUnsafePath} {
		if errors.Is(err, k) {
			return err
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var kind error
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, repo.ErrInvalidPassword):
		kind = ErrWrongPassword
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		kind = ErrNoSpace
	case errors.Is(err, content.ErrContentNotFound),
		errors.Is(err, object.ErrObjectNotFound),
		errors.Is(err, blob.ErrBlobNotFound),
		errors.As(err, &syntax), errors.As(err, &typ):
		kind = ErrCorrupt
	default:
		return err
	}
	return &kindError{kind: kind, err: err}
}
