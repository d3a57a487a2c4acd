package snapshot_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// Shared holders exclude an exclusive one and not each other, across two
// opens of the repository (as two activities hold it); the exclusive
// holder waits, told so, and gets the lock when the last shared one goes.
func TestLockSharedAndExclusive(t *testing.T) {
	opts := snapshottest.Options(t)
	a, b := snapshottest.Open(t, opts), snapshottest.Open(t, opts)
	opts.Create = false
	c := snapshottest.Open(t, opts)

	unlockA, err := a.Lock(t.Context(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	unlockB, err := b.Lock(t.Context(), false, nil)
	if err != nil {
		t.Fatalf("a second shared lock waited or failed: %v", err)
	}
	waits := 0
	got := make(chan func(), 1)
	go func() {
		unlock, err := c.Lock(t.Context(), true, func() { waits++ })
		if err != nil {
			t.Error(err)
		}
		got <- unlock
	}()
	unlockA()
	select {
	case <-got:
		t.Fatal("the exclusive lock was taken while a shared one was held")
	case <-time.After(time.Second):
	}
	unlockB()
	var unlockC func()
	select {
	case unlockC = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the exclusive lock was not taken after the shared ones went")
	}
	if waits == 0 {
		t.Error("the waiting exclusive holder was never told it waits")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := a.Lock(ctx, false, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a shared lock under an exclusive one: %v, want to wait until the context ends", err)
	}
	unlockC()
	if unlock, err := a.Lock(t.Context(), false, nil); err != nil {
		t.Errorf("after the exclusive holder left: %v", err)
	} else {
		unlock()
	}
}
