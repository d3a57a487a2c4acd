package backup

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/snapshot"
)

// countedRepo is a Repository that counts refreshes and closes.
type countedRepo struct {
	Repository // nil: only Refresh and Close are called
	mu         sync.Mutex
	refreshed  int
	closed     int
	refreshErr error
}

func (r *countedRepo) Refresh(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshed++
	return r.refreshErr
}

func (r *countedRepo) Close(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return nil
}

func (r *countedRepo) counts() (refreshed, closed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refreshed, r.closed
}

// opener opens countedRepos and remembers them.
type opener struct {
	mu     sync.Mutex
	opened []*countedRepo
	fail   error
}

func (o *opener) open(context.Context, snapshot.Options) (Repository, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return nil, o.fail
	}
	r := &countedRepo{}
	o.opened = append(o.opened, r)
	return r, nil
}

func (o *opener) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.opened)
}

func waitClosed(t *testing.T, r *countedRepo) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, closed := r.counts(); closed == 1 {
			return
		}
	}
	_, closed := r.counts()
	t.Fatalf("closed %d times, want once", closed)
}

func TestPoolReusesAndRefreshes(t *testing.T) {
	o := &opener{}
	p := newPool(o.open)
	ctx := t.Context()
	opts := snapshot.Options{Repository: "/r", Password: "one"}

	r1, release, err := p.acquire(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	release(false)
	// Create is not part of what an open repository is.
	opts.Create = true
	r2, release, err := p.acquire(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	release(false)
	if o.count() != 1 || r1 != r2 {
		t.Fatalf("opened %d repositories for two uses of one, want 1", o.count())
	}
	if refreshed, _ := o.opened[0].counts(); refreshed != 1 {
		t.Errorf("refreshed %d times on reuse, want 1", refreshed)
	}

	// A changed password (or any secret) opens it anew: the new one is
	// checked against the repository.
	opts.Password = "two"
	if _, release, err = p.acquire(ctx, opts); err != nil {
		t.Fatal(err)
	}
	release(false)
	if o.count() != 2 {
		t.Fatalf("opened %d, want a second open for a changed password", o.count())
	}

	// A request that found it broken closes it; the next one opens anew.
	if _, release, err = p.acquire(ctx, opts); err != nil {
		t.Fatal(err)
	}
	release(true)
	waitClosed(t, o.opened[1])
	if _, release, err = p.acquire(ctx, opts); err != nil {
		t.Fatal(err)
	}
	release(false)
	if o.count() != 3 {
		t.Fatalf("opened %d, want a reopen after a broken use", o.count())
	}

	// A failed refresh is an error and drops the entry.
	o.opened[2].refreshErr = errors.New("storage gone")
	if _, _, err = p.acquire(ctx, opts); err == nil {
		t.Fatal("acquire with a failing refresh succeeded")
	}
	waitClosed(t, o.opened[2])

	// Close closes what is idle.
	p.close(ctx)
	waitClosed(t, o.opened[0])
}

func TestPoolClosesIdleAndBoundsOpenRepositories(t *testing.T) {
	o := &opener{}
	p := newPool(o.open)
	p.idle, p.max = 50*time.Millisecond, 2
	ctx := t.Context()

	_, release, err := p.acquire(ctx, snapshot.Options{Repository: "/idle"})
	if err != nil {
		t.Fatal(err)
	}
	release(false)
	waitClosed(t, o.opened[0])

	p.idle = time.Hour
	var held []func(bool)
	for _, repo := range []string{"/a", "/b", "/c"} {
		_, release, err := p.acquire(ctx, snapshot.Options{Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	// All three are in use: none may be closed under their users.
	for _, r := range o.opened[1:] {
		if _, closed := r.counts(); closed != 0 {
			t.Fatal("a repository in use was closed")
		}
	}
	for _, release := range held {
		release(false)
		time.Sleep(time.Millisecond) // distinct last-use times
	}
	if _, release, err = p.acquire(ctx, snapshot.Options{Repository: "/d"}); err != nil {
		t.Fatal(err)
	}
	release(false)
	// Four entries, max two: the two least recently used go.
	waitClosed(t, o.opened[1])
	waitClosed(t, o.opened[2])
	if _, closed := o.opened[3].counts(); closed != 0 {
		t.Error("the most recently used idle repository was closed")
	}

	// An open that fails is not kept.
	o.fail = errors.New("no route to host")
	if _, _, err := p.acquire(ctx, snapshot.Options{Repository: "/e"}); err == nil {
		t.Fatal("acquire succeeded although open failed")
	}
	o.fail = nil
	if _, release, err = p.acquire(ctx, snapshot.Options{Repository: "/e"}); err != nil {
		t.Fatalf("acquire after a failed open: %v", err)
	}
	release(false)
}
