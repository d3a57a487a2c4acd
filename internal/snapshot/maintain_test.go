package snapshot_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// maintained is a repository holding one kept snapshot of a small tree and
// the unreferenced data of a forgotten snapshot of random files.
type maintained struct {
	opts     snapshot.Options
	r        *snapshot.Repo
	kept     snapshot.Info
	keptTree map[string]string
	garbage  int64     // bytes of random data only the forgotten snapshot referred to
	written  time.Time // when that data was written
}

func newMaintained(t *testing.T, garbage int) *maintained {
	t.Helper()
	m := &maintained{opts: snapshottest.Options(t), garbage: int64(garbage)}
	m.r = snapshottest.Open(t, m.opts)
	m.keptTree = map[string]string{
		"kept.txt":      "kept\n",
		"docs/read.me":  "still here after maintenance\n",
		"docs/empty/":   "",
		"data/some.bin": string(randomTree(t, 1, 64<<10)["da/fa.bin"]),
	}
	var err error
	m.kept, err = m.r.Snapshot(t.Context(), snapshot.Request{Source: snapshottest.WriteTree(t, m.keptTree)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := m.r.Snapshot(t.Context(), snapshot.Request{Source: snapshottest.WriteTree(t, randomTree(t, 8, garbage))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.written = time.Now()
	if err := m.r.Forget(t.Context(), gone.ID); err != nil {
		t.Fatal(err)
	}
	return m
}

// maintain runs Maintain and logs what it did.
func (m *maintained) maintain(t *testing.T, full bool, safety snapshot.Safety, name string) snapshot.MaintainStats {
	t.Helper()
	st, err := m.r.Maintain(t.Context(), full, safety)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if st.Full != full {
		t.Errorf("%s: stats say Full=%v", name, st.Full)
	}
	if st.BlobsBefore == 0 || st.BytesBefore == 0 || st.BlobsAfter == 0 || st.BytesAfter == 0 {
		t.Errorf("%s: stats %+v, want the repository's blobs counted", name, st)
	}
	t.Logf("%s: %+v, freed %d", name, st, st.Freed())
	return st
}

// dataPacks is the set of the repository's data pack blobs.
func dataPacks(t *testing.T, repo string) map[string]bool {
	t.Helper()
	set := map[string]bool{}
	for _, p := range packs(t, repo) {
		set[p] = true
	}
	return set
}

// Data no snapshot refers to stays through quick maintenance and through
// full maintenance with kopia's safety margins, and goes with full
// maintenance once past the margins (here: margins of zero); the kept
// snapshot stays whole.
//
// Two quirks of kopia with SafetyNone shape this test, see Maintain: the
// unreferenced data is at least 60% of a pack (kopia's 20 MB), so that full
// maintenance does not rewrite its pack together with the kept snapshot's
// (which would keep it in storage), and the runs start in a later second
// than the data was written, so that one full run with SafetyNone removes it.
func TestMaintainRemovesUnreferencedDataPastSafetyMargin(t *testing.T) {
	const garbage = 14 << 20
	m := newMaintained(t, garbage)
	before := dataPacks(t, m.opts.Repository)
	// Past the second the data was written in: from now on a full run with
	// SafetyNone would remove it.
	time.Sleep(time.Until(m.written.Truncate(time.Second).Add(time.Second)))

	st := m.maintain(t, false, snapshot.SafetyNone, "quick, no safety margin")
	if st.BytesAfter < garbage {
		t.Errorf("quick maintenance left %d bytes, less than the %d bytes of unreferenced data: it deleted data", st.BytesAfter, garbage)
	}
	if after := dataPacks(t, m.opts.Repository); !maps.Equal(after, before) {
		t.Errorf("quick maintenance changed the data packs: %v, was %v", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
	}

	st = m.maintain(t, true, snapshot.SafetyFull, "full, full safety")
	if st.BytesAfter < garbage || st.Freed() >= garbage/4 {
		t.Errorf("full maintenance with full safety freed %d bytes of data younger than its margins (%+v)", st.Freed(), st)
	}
	if after := dataPacks(t, m.opts.Repository); !maps.Equal(after, before) {
		t.Errorf("full maintenance with full safety changed the data packs: %v, was %v", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
	}

	// One full run past the margins is enough: snapshot GC marks the
	// contents deleted, the same run drops them from the index and deletes
	// the pack left unreferenced.
	st = m.maintain(t, true, snapshot.SafetyNone, "full, no safety margin")
	if st.Freed() < garbage {
		t.Errorf("full maintenance with no safety margin freed %d bytes, want at least the %d bytes of unreferenced data", st.Freed(), garbage)
	}
	after := dataPacks(t, m.opts.Repository)
	if len(after) >= len(before) {
		t.Errorf("full maintenance with no safety margin left the data packs %v, was %v", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
	}
	for p := range after {
		if !before[p] {
			t.Errorf("full maintenance with no safety margin wrote data pack %s", p)
		}
	}

	// Read back from storage, not from a cache of what was deleted.
	opts := m.opts
	opts.ConfigDir = t.TempDir()
	opts.Uncached = true
	r := snapshottest.Open(t, opts)
	target := t.TempDir()
	if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: m.kept.ID, Target: target}, nil); err != nil {
		t.Fatalf("restore the kept snapshot after maintenance: %v", err)
	}
	if got := snapshottest.ReadTree(t, target); !maps.Equal(got, m.keptTree) {
		t.Errorf("the kept snapshot restores as %d entries %v, want %v", len(got), slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(m.keptTree)))
	}
	vs, err := r.Verify(t.Context(), 100)
	if err != nil {
		t.Errorf("Verify(100) after maintenance: %v", err)
	}
	if vs.Snapshots != 1 {
		t.Errorf("Verify(100) after maintenance checked %d snapshots, want the kept one", vs.Snapshots)
	}
	list, err := r.List(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != m.kept.ID {
		t.Errorf("List after maintenance: %+v, %v, want the kept snapshot only", list, err)
	}
}

// Another user@host than the repository's maintenance owner runs no
// maintenance, and is told whose it is and how to take it over.
func TestMaintainNotOwner(t *testing.T) {
	m := newMaintained(t, 1<<20)
	before := dataPacks(t, m.opts.Repository)
	size := snapshottest.Size(t, m.opts.Repository)

	opts := m.opts
	opts.Hostname = "otherhost"
	opts.ConfigDir = t.TempDir()
	other := snapshottest.Open(t, opts)
	for _, full := range []bool{false, true} {
		_, err := other.Maintain(t.Context(), full, snapshot.SafetyNone)
		if !errors.Is(err, snapshot.ErrNotOwner) {
			t.Fatalf("Maintain(full=%v) from steward@otherhost: %v, want ErrNotOwner", full, err)
		}
		t.Logf("Maintain(full=%v): %v", full, err)
		for _, want := range []string{m.opts.Repository, "owned by steward@testhost", "kopia maintenance set --owner=steward@otherhost"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q should contain %q", err, want)
			}
		}
	}
	if after := dataPacks(t, m.opts.Repository); !maps.Equal(after, before) {
		t.Errorf("maintenance by a client that is not the owner changed the data packs")
	}
	if s := snapshottest.Size(t, m.opts.Repository); s != size {
		t.Errorf("maintenance by a client that is not the owner changed the repository: %d bytes, was %d", s, size)
	}

	// The owner may.
	m.maintain(t, true, snapshot.SafetyNone, "full by the owner")
}

func TestMaintainCancelled(t *testing.T) {
	m := newMaintained(t, 64<<10)
	size := snapshottest.Size(t, m.opts.Repository)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, full := range []bool{false, true} {
		_, err := m.r.Maintain(ctx, full, snapshot.SafetyNone)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Maintain(full=%v) with a cancelled context: %v, want context.Canceled", full, err)
		} else if !strings.Contains(err.Error(), m.opts.Repository) {
			t.Errorf("error %q should name the repository", err)
		}
	}
	stop := errors.New("worker shutting down")
	ctx, cancelCause := context.WithCancelCause(t.Context())
	cancelCause(stop)
	if _, err := m.r.Maintain(ctx, true, snapshot.SafetyNone); !errors.Is(err, stop) {
		t.Errorf("Maintain with a context cancelled for a cause: %v, want the cause", err)
	}
	if s := snapshottest.Size(t, m.opts.Repository); s != size {
		t.Errorf("cancelled maintenance changed the repository: %d bytes, was %d", s, size)
	}
}

// What a killed backup left (data it uploaded and flushed, with no
// snapshot referring to it) is removed by the next full maintenance past
// the safety margin, here shortened to none; the kept snapshot stays whole.
func TestMaintainRemovesWhatAKilledBackupLeft(t *testing.T) {
	const garbage = 48 << 20 // more than a pack (kopia's 20 MB): full packs reach storage as they fill
	opts := snapshottest.Options(t)
	r := snapshottest.Open(t, opts)
	keptTree := map[string]string{"kept.txt": "kept\n"}
	kept, err := r.Snapshot(t.Context(), snapshot.Request{Source: snapshottest.WriteTree(t, keptTree)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, kill := context.WithCancel(t.Context())
	defer kill()
	var uploaded int64
	_, err = r.Snapshot(ctx, snapshot.Request{Source: snapshottest.WriteTree(t, randomTree(t, 24, garbage))}, func(p snapshot.Progress) {
		uploaded = p.Uploaded
		if p.Uploaded > garbage/2 {
			kill()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the killed backup: %v, want cancelled", err)
	}
	written := time.Now()
	before, err := r.Maintain(t.Context(), false, snapshot.SafetyNone)
	if err != nil {
		t.Fatal(err)
	}
	if before.BytesAfter < 20<<20 {
		t.Fatalf("the killed backup left %d bytes in the repository (uploaded %d); want its data kept for a retry", before.BytesAfter, uploaded)
	}
	time.Sleep(time.Until(written.Truncate(time.Second).Add(time.Second)))
	st, err := r.Maintain(t.Context(), true, snapshot.SafetyNone)
	if err != nil {
		t.Fatal(err)
	}
	// At least the full packs the killed backup flushed (how far it got
	// before the kill varies with the machine's load).
	if st.Freed() < 20<<20 {
		t.Errorf("full maintenance past the margin freed %d bytes; the killed backup had uploaded %d", st.Freed(), uploaded)
	}
	target := t.TempDir()
	if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: kept.ID, Target: target}, nil); err != nil {
		t.Fatalf("restore the kept snapshot after maintenance: %v", err)
	}
	if got := snapshottest.ReadTree(t, target); !maps.Equal(got, keptTree) {
		t.Errorf("the kept snapshot restores as %v", got)
	}
}
