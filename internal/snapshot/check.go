package snapshot

import (
	"context"
	"fmt"
	"time"

	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/blob/filesystem"
	"github.com/kopia/kopia/repo/blob/readonly"
	"github.com/kopia/kopia/repo/format"

	"github.com/steward-ops/steward/internal/repository"
)

// Check tells, changing nothing, whether Open with opts would work: the
// location is supported; a repository there is writable and, when
// opts.Password is not empty, opens with it; or, with opts.Create, a
// repository can be made there. Its errors have the kinds Open's have and
// read "<location>: <problem>", to be reported as they are.
func Check(ctx context.Context, opts Options) error {
	loc, parsed, err := location(opts.Repository)
	if err != nil {
		return fmt.Errorf("%s: %w", repository.Redact(opts.Repository), err)
	}
	if parsed.Scheme != "" {
		err = checkRemote(ctx, parsed, opts)
	} else {
		err = check(ctx, loc, opts)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", loc, classify(err))
	}
	return nil
}

func check(ctx context.Context, loc string, opts Options) error {
	found, err := probe(loc, opts.Create)
	if err != nil || !found {
		return err
	}
	if err := writable(loc); err != nil {
		return err
	}
	if opts.Password == "" {
		return nil
	}
	st, err := filesystem.New(ctx, &filesystem.Options{Path: loc}, false)
	if err != nil {
		return err
	}
	defer st.Close(ctx) //nolint:errcheck // read only
	return checkPassword(ctx, st, opts.Password)
}

// checkRemote is check of a remote location. (kopia's sftp storage
// creates a missing directory on the server when it connects.)
func checkRemote(ctx context.Context, loc repository.Location, opts Options) error {
	st, err := openRemote(ctx, loc, opts)
	if err != nil {
		return err
	}
	defer st.Close(ctx) //nolint:errcheck // read only
	found, err := probeBlobs(ctx, st, opts.Create)
	if err != nil {
		return fmt.Errorf("%s: %w", where(loc, opts), err)
	}
	if !found || opts.Password == "" {
		return nil
	}
	return checkPassword(ctx, st, opts.Password)
}

// checkPassword reads the format blob, which derives the key from the
// password and decrypts the repository's parameters with it.
func checkPassword(ctx context.Context, st blob.Storage, password string) error {
	_, err := format.NewManager(ctx, readonly.NewWrapper(st), "", -1, password, time.Now)
	return err
}
