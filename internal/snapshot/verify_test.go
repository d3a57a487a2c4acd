package snapshot_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// verifiedRepo makes a repository holding two snapshots of random files
// and returns its options, with a fresh ConfigDir so that nothing is read
// from a cache of the process that wrote it.
func verifiedRepo(t *testing.T) snapshot.Options {
	t.Helper()
	opts := snapshottest.Options(t)
	r := snapshottest.Open(t, opts)
	files := randomTree(t, 8, 2<<20)
	src := snapshottest.WriteTree(t, files)
	for _, change := range []string{"first", "second"} {
		snapshottest.AddFiles(t, src, map[string]string{"changed.txt": change})
		if _, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil); err != nil {
			t.Fatal(err)
		}
	}
	opts.ConfigDir = t.TempDir()
	return opts
}

// packs returns the repository's data pack blobs.
func packs(t *testing.T, repo string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(repo, "p*", "*", "*.f"))
	if err != nil || len(ps) == 0 {
		t.Fatalf("no data packs found in %s (%v)", repo, err)
	}
	return ps
}

func TestVerifyHealthyRepository(t *testing.T) {
	opts := verifiedRepo(t)
	r := snapshottest.Open(t, opts)
	for _, pct := range []float64{0, 50, 100} {
		st, err := r.Verify(t.Context(), pct)
		if err != nil {
			t.Errorf("Verify(%v) of a healthy repository: %v", pct, err)
		}
		if st.Snapshots == 0 || st.Files == 0 {
			t.Errorf("Verify(%v) checked %+v, want the repository's snapshots and files counted", pct, st)
		}
	}
}

func TestVerifyEmptyRepository(t *testing.T) {
	r := snapshottest.Open(t, snapshottest.Options(t))
	if _, err := r.Verify(t.Context(), 100); err != nil {
		t.Errorf("Verify of a repository without snapshots: %v", err)
	}
}

// A pack that is gone is found from the index and the blob list alone,
// without reading any file.
func TestVerifyFindsMissingPack(t *testing.T) {
	opts := verifiedRepo(t)
	for _, p := range packs(t, opts.Repository) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	r := snapshottest.Open(t, opts)
	_, err := r.Verify(t.Context(), 0)
	if !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("Verify(0) with the data packs gone: %v, want ErrCorrupt", err)
	}
	t.Logf("Verify(0): %v", err)
	if !strings.Contains(err.Error(), "missing blob") || !strings.Contains(err.Error(), ".bin") {
		t.Errorf("error %q should name the missing blob and a file", err)
	}
}

// Damaged bytes inside a pack are only found by reading: Verify(0) cannot
// tell, Verify(100) must.
func TestVerifyReadsFilesToFindDamage(t *testing.T) {
	opts := verifiedRepo(t)
	for _, p := range packs(t, opts.Repository) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(b) / 4; i < len(b)*3/4; i += 4096 {
			b[i] ^= 0xff
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := snapshottest.Open(t, opts)
	if _, err := r.Verify(t.Context(), 0); err != nil {
		t.Errorf("Verify(0) reads no file, so it cannot see damaged bytes, yet: %v", err)
	}
	_, err := r.Verify(t.Context(), 100)
	if !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("Verify(100) with damaged packs: %v, want ErrCorrupt", err)
	}
	t.Logf("Verify(100): %v", err)
	if !strings.Contains(err.Error(), opts.Repository) {
		t.Errorf("error %q should name the repository", err)
	}
}

func TestVerifyBadInput(t *testing.T) {
	r := snapshottest.Open(t, snapshottest.Options(t))
	for _, pct := range []float64{-1, 100.5} {
		if _, err := r.Verify(t.Context(), pct); err == nil || !strings.Contains(err.Error(), "want 0 to 100") {
			t.Errorf("Verify(%v): %v, want an error about the range", pct, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	opts := verifiedRepo(t)
	if _, err := snapshottest.Open(t, opts).Verify(ctx, 100); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a cancelled context: %v, want context.Canceled", err)
	}
}

// A verification that reads through the local cache sees the cached copy
// of damaged data, not the damage; Uncached reads the stored data.
func TestVerifyUncachedSeesDamageTheCacheHides(t *testing.T) {
	opts := verifiedRepo(t)
	if _, err := snapshottest.Open(t, opts).Verify(t.Context(), 100); err != nil {
		t.Fatal(err) // fills the cache
	}
	for _, p := range packs(t, opts.Repository) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(b) / 4; i < len(b)*3/4; i += 512 {
			b[i] ^= 0xff
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cached, cerr := snapshottest.Open(t, opts).Verify(t.Context(), 100)
	t.Logf("through the cache: %+v, %v", cached, cerr)
	opts.Uncached = true
	if _, err := snapshottest.Open(t, opts).Verify(t.Context(), 100); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("uncached Verify(100) of damaged packs: %v, want ErrCorrupt", err)
	}
}
