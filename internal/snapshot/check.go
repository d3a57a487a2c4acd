package snapshot

import (
	"context"
	"fmt"
	"time"

	"github.com/kopia/kopia/repo/blob/filesystem"
	"github.com/kopia/kopia/repo/blob/readonly"
	"github.com/kopia/kopia/repo/format"
)

// Check tells, changing nothing, whether Open with opts would work: the
// location is supported; a repository there is writable and, when
// opts.Password is not empty, opens with it; or, with opts.Create, a
// repository can be made there. Its errors have the kinds Open's have and
// read "<location>: <problem>", to be reported as they are.
func Check(ctx context.Context, opts Options) error {
	loc, err := location(opts.Repository)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.Repository, err)
	}
	if err := check(ctx, loc, opts); err != nil {
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
	// Reading the format blob derives the key from the password and
	// decrypts the repository's parameters with it.
	_, err = format.NewManager(ctx, readonly.NewWrapper(st), "", -1, opts.Password, time.Now)
	return err
}
