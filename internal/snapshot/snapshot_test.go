package snapshot_test

import (
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob/filesystem"
	kopiasnapshot "github.com/kopia/kopia/snapshot"

	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// tree is a small source tree; the *.tmp files and .cache directories are
// what excludes leave out.
var tree = map[string]string{
	"a.txt":                 "alpha\n",
	"docs/readme.md":        "# read me\n",
	"docs/deep/nested.bin":  "\x00\x01\x02 binary \xff",
	"empty/":                "",
	"scratch.tmp":           "temporary",
	"docs/notes.tmp":        "temporary too",
	".cache/blob":           "cached",
	"docs/.cache/more/blob": "cached deeper",
	"keep.cache":            "a file, not the .cache directory",
}

var exclude = []string{"*.tmp", ".cache/"}

// kept is tree without what exclude leaves out.
func kept() map[string]string {
	want := maps.Clone(tree)
	for k := range want {
		if strings.HasSuffix(k, ".tmp") || strings.HasPrefix(k, ".cache/") || strings.Contains(k, "/.cache/") {
			delete(want, k)
		}
	}
	return want
}

func TestSnapshotAndRestore(t *testing.T) {
	r := snapshottest.Open(t, snapshottest.Options(t))
	src := snapshottest.WriteTree(t, tree)

	var last snapshot.Progress
	got, err := r.Snapshot(t.Context(), snapshot.Request{
		Source:  src,
		Exclude: exclude,
		Tags:    map[string]string{"plan": "home", "run": "r1"},
	}, func(p snapshot.Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	want := kept()
	if got.ID == "" || got.Source != src || got.Host != "testhost" || got.User != snapshot.DefaultUsername {
		t.Errorf("snapshot = %+v, want an ID and source %s of steward@testhost", got, src)
	}
	if got.Files != 4 || got.Dirs < 3 {
		t.Errorf("snapshot counts %d files and %d dirs, want 4 files (the kept ones) and at least 3 dirs", got.Files, got.Dirs)
	}
	var bytes int64
	for k, v := range want {
		if !strings.HasSuffix(k, "/") {
			bytes += int64(len(v))
		}
	}
	if got.Bytes != bytes {
		t.Errorf("snapshot counts %d bytes, want %d", got.Bytes, bytes)
	}
	if !maps.Equal(got.Tags, map[string]string{"plan": "home", "run": "r1"}) {
		t.Errorf("tags = %v", got.Tags)
	}
	if got.Start.IsZero() || got.End.Before(got.Start) {
		t.Errorf("times: start %v end %v", got.Start, got.End)
	}
	if last.Files != 4 || last.Bytes != bytes {
		t.Errorf("last progress = %+v, want 4 files and %d bytes", last, bytes)
	}

	target := filepath.Join(t.TempDir(), "restored")
	if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: got.ID, Target: target}, nil); err != nil {
		t.Fatal(err)
	}
	if restored := snapshottest.ReadTree(t, target); !maps.Equal(restored, want) {
		t.Errorf("restored tree:\n%v\nwant:\n%v", restored, want)
	}

	list, err := r.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != got.ID || !maps.Equal(list[0].Tags, got.Tags) || list[0].Files != got.Files {
		t.Errorf("List = %+v, want the one snapshot %+v", list, got)
	}
}

// randomTree is a tree of incompressible files, n bytes in all.
func randomTree(t *testing.T, files, n int) map[string]string {
	t.Helper()
	m := map[string]string{}
	for i := range files {
		b := make([]byte, n/files)
		rand.Read(b)
		m[filepath.Join("d"+string(rune('a'+i%5)), "f"+string(rune('a'+i))+".bin")] = string(b)
	}
	return m
}

func TestUnchangedSnapshotIsDeduplicated(t *testing.T) {
	opts := snapshottest.Options(t)
	r := snapshottest.Open(t, opts)
	const size = 4 << 20
	src := snapshottest.WriteTree(t, randomTree(t, 16, size))

	first, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshottest.Size(t, opts.Repository)
	second, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	growth := snapshottest.Size(t, opts.Repository) - before
	t.Logf("first snapshot: repository %d bytes for %d of data; unchanged second: +%d bytes", before, size, growth)
	if before < size {
		t.Errorf("repository holds %d bytes for %d bytes of random data: is it really stored?", before, size)
	}
	if growth > size/20 {
		t.Errorf("an unchanged snapshot grew the repository by %d bytes, more than 5%% of the %d bytes of data", growth, size)
	}
	if first.ID == second.ID || second.Bytes != first.Bytes {
		t.Errorf("second snapshot %+v, first %+v: want a new snapshot of the same data", second, first)
	}
}

func TestSnapshotCompresses(t *testing.T) {
	opts := snapshottest.Options(t)
	r := snapshottest.Open(t, opts)
	const size = 4 << 20
	line := "2026-11-24T09:00:04Z INFO steward: snapshot of /home/alice saved\n"
	src := snapshottest.WriteTree(t, map[string]string{"app.log": strings.Repeat(line, size/len(line))})
	before := snapshottest.Size(t, opts.Repository)
	if _, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil); err != nil {
		t.Fatal(err)
	}
	growth := snapshottest.Size(t, opts.Repository) - before
	t.Logf("%d bytes of log text grew the repository by %d bytes", size, growth)
	if growth > size/10 {
		t.Errorf("repository grew by %d bytes for %d bytes of repetitive text: not compressed", growth, size)
	}
}

func TestFindByTag(t *testing.T) {
	r := snapshottest.Open(t, snapshottest.Options(t))
	src := snapshottest.WriteTree(t, tree)
	ids := map[string]string{}
	for _, run := range []string{"r1", "r2"} {
		got, err := r.Snapshot(t.Context(), snapshot.Request{Source: src, Tags: map[string]string{"plan": "home", "run": run}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[run] = got.ID
	}
	for run, id := range ids {
		got, ok, err := r.FindByTag(t.Context(), "run", run)
		if err != nil || !ok || got.ID != id || got.Tags["run"] != run {
			t.Errorf("FindByTag(run, %s) = %+v, %v, %v; want snapshot %s", run, got, ok, err, id)
		}
	}
	if got, ok, err := r.FindByTag(t.Context(), "run", "r3"); err != nil || ok {
		t.Errorf("FindByTag(run, r3) = %+v, %v, %v; want not found", got, ok, err)
	}
	if got, ok, err := r.FindByTag(t.Context(), "plan", "home"); err != nil || !ok || got.ID != ids["r2"] {
		t.Errorf("FindByTag(plan, home) = %+v, %v, %v; want the newest, %s", got, ok, err, ids["r2"])
	}
}

// TestKopiaReadsTags opens a steward repository the way the kopia CLI does
// (repository connect, then snapshot list), to show that it is a plain kopia
// repository and the tags are where `kopia snapshot list --tags` looks.
func TestKopiaReadsTags(t *testing.T) {
	opts := snapshottest.Options(t)
	r := snapshottest.Open(t, opts)
	src := snapshottest.WriteTree(t, tree)
	got, err := r.Snapshot(t.Context(), snapshot.Request{Source: src, Tags: map[string]string{"run": "r1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	st, err := filesystem.New(ctx, &filesystem.Options{Path: opts.Repository}, false)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "kopia.config")
	if err := repo.Connect(ctx, config, st, opts.Password, nil); err != nil {
		t.Fatalf("kopia repository connect: %v", err)
	}
	kr, err := repo.Open(ctx, config, opts.Password, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close(ctx)
	mans, err := kopiasnapshot.ListSnapshots(ctx, kr, kopiasnapshot.SourceInfo{Host: "testhost", UserName: "steward", Path: src})
	if err != nil {
		t.Fatal(err)
	}
	if len(mans) != 1 || string(mans[0].ID) != got.ID || mans[0].Tags["tag:run"] != "r1" {
		t.Fatalf("kopia lists %+v, want snapshot %s tagged tag:run=r1", mans, got.ID)
	}
}

func TestWrongPassword(t *testing.T) {
	opts := snapshottest.Options(t)
	snapshottest.Open(t, opts)
	opts.Password = "not the password"
	_, err := snapshot.Open(t.Context(), opts)
	if !errors.Is(err, snapshot.ErrWrongPassword) {
		t.Fatalf("Open with a wrong password: %v, want ErrWrongPassword", err)
	}
	if !strings.HasPrefix(err.Error(), "open repository "+opts.Repository+": ") || strings.Contains(err.Error(), opts.Password) {
		t.Errorf("error %q: want it to name the repository and never the password", err)
	}
}

func TestCancelledSnapshotLeavesNoManifest(t *testing.T) {
	opts := snapshottest.Options(t)
	r := snapshottest.Open(t, opts)
	files := randomTree(t, 64, 32<<20)
	src := snapshottest.WriteTree(t, files)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var seen snapshot.Progress
	_, err := r.Snapshot(ctx, snapshot.Request{Source: src, Tags: map[string]string{"run": "r1"}}, func(p snapshot.Progress) {
		seen = p
		if p.Files >= 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled snapshot: %v, want context.Canceled", err)
	}
	if seen.Files >= int64(len(files)) {
		t.Errorf("the snapshot went on to the end (%+v) after it was cancelled", seen)
	}
	if list, err := r.List(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("after a cancelled snapshot, List = %+v, %v; want no snapshot", list, err)
	}
	if _, ok, err := r.FindByTag(t.Context(), "run", "r1"); ok || err != nil {
		t.Errorf("after a cancelled snapshot, FindByTag found it (%v, %v)", ok, err)
	}

	// The repository is consistent: reopened elsewhere, it takes a full
	// snapshot that restores byte for byte.
	opts.ConfigDir = t.TempDir()
	r2 := snapshottest.Open(t, opts)
	got, err := r2.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if _, err := r2.Restore(t.Context(), snapshot.RestoreRequest{ID: got.ID, Target: target}, nil); err != nil {
		t.Fatal(err)
	}
	if restored := snapshottest.ReadTree(t, target); !maps.Equal(restored, files) {
		t.Errorf("restored %d files, want the %d snapshotted, byte-identical", len(restored), len(files))
	}
}

func TestMissingSource(t *testing.T) {
	r := snapshottest.Open(t, snapshottest.Options(t))
	dir := snapshottest.WriteTree(t, map[string]string{"file": "x"})
	for _, src := range []string{filepath.Join(dir, "missing"), filepath.Join(dir, "file"), ""} {
		_, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
		if !errors.Is(err, snapshot.ErrNoSource) {
			t.Errorf("snapshot of %q: %v, want ErrNoSource", src, err)
		}
	}
}

func TestUnreadableFileFailsSnapshot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	r := snapshottest.Open(t, snapshottest.Options(t))
	src := snapshottest.WriteTree(t, tree)
	if err := os.Chmod(filepath.Join(src, "docs/readme.md"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "docs/readme.md") {
		t.Errorf("snapshot with an unreadable file: %v, want a permission error naming it", err)
	}
	if list, _ := r.List(t.Context()); len(list) != 0 {
		t.Errorf("a failed snapshot was saved: %+v", list)
	}
}

func TestOpenErrors(t *testing.T) {
	base := t.TempDir()
	other := snapshottest.WriteTree(t, map[string]string{"notes.txt": "not a repository"})
	for _, tc := range []struct {
		name     string
		location string
		create   bool
		want     error
	}{
		{"sftp", "sftp://nas/repo", true, snapshot.ErrUnsupported},
		{"b2", "b2://bucket/prefix", true, snapshot.ErrUnsupported},
		{"missing without create", filepath.Join(base, "none"), false, snapshot.ErrNoRepository},
		{"empty without create", t.TempDir(), false, snapshot.ErrNoRepository},
		{"missing parent", filepath.Join(base, "unmounted", "repo"), true, snapshot.ErrNoRepository},
		{"other files", other, true, snapshot.ErrNoRepository},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := snapshottest.Options(t)
			opts.Repository, opts.Create = tc.location, tc.create
			_, err := snapshot.Open(t.Context(), opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open(%s): %v, want %v", tc.location, err, tc.want)
			}
			if !strings.Contains(err.Error(), "repository "+tc.location) {
				t.Errorf("error %q does not name the location", err)
			}
			if err := snapshot.Check(t.Context(), opts); !errors.Is(err, tc.want) {
				t.Errorf("Check(%s): %v, want %v", tc.location, err, tc.want)
			}
		})
	}
	if got := snapshottest.ReadTree(t, other); !maps.Equal(got, map[string]string{"notes.txt": "not a repository"}) {
		t.Errorf("a directory of other files was changed: %v", got)
	}
	if _, err := os.Stat(filepath.Join(base, "unmounted")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created the missing parent directory")
	}
}

func TestCheck(t *testing.T) {
	opts := snapshottest.Options(t)
	if err := snapshot.Check(t.Context(), opts); err != nil {
		t.Errorf("Check before creation: %v, want nil", err)
	}
	if _, err := os.Stat(opts.Repository); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Check created the repository directory")
	}
	snapshottest.Open(t, opts)
	if err := snapshot.Check(t.Context(), opts); err != nil {
		t.Errorf("Check of the repository: %v, want nil", err)
	}
	opts.Password = "wrong"
	if err := snapshot.Check(t.Context(), opts); !errors.Is(err, snapshot.ErrWrongPassword) {
		t.Errorf("Check with a wrong password: %v, want ErrWrongPassword", err)
	}
}

func TestCorruptRepository(t *testing.T) {
	t.Run("format blob", func(t *testing.T) {
		opts := snapshottest.Options(t)
		snapshottest.Open(t, opts)
		if err := os.WriteFile(filepath.Join(opts.Repository, "kopia.repository.f"), []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := snapshot.Open(t.Context(), opts)
		if !errors.Is(err, snapshot.ErrCorrupt) {
			t.Errorf("Open with a garbled format blob: %v, want ErrCorrupt", err)
		}
	})
	t.Run("missing data", func(t *testing.T) {
		opts := snapshottest.Options(t)
		r := snapshottest.Open(t, opts)
		src := snapshottest.WriteTree(t, randomTree(t, 4, 1<<20))
		got, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
		if err != nil {
			t.Fatal(err)
		}
		packs, err := filepath.Glob(filepath.Join(opts.Repository, "p*", "*", "*.f"))
		if err != nil || len(packs) == 0 {
			t.Fatalf("no data packs found in %s (%v)", opts.Repository, err)
		}
		for _, p := range packs {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		opts.ConfigDir = t.TempDir() // no cached copy of the data
		r2 := snapshottest.Open(t, opts)
		_, err = r2.Restore(t.Context(), snapshot.RestoreRequest{ID: got.ID, Target: t.TempDir()}, nil)
		if !errors.Is(err, snapshot.ErrCorrupt) {
			t.Errorf("restore with data packs gone: %v, want ErrCorrupt", err)
		}
	})
}

func TestRestoreUnknownSnapshot(t *testing.T) {
	r := snapshottest.Open(t, snapshottest.Options(t))
	_, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: "k0123456789abcdef0123456789abcdef", Target: t.TempDir()}, nil)
	if !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("restore of an unknown ID: %v, want ErrNotFound", err)
	}
}

func TestRepositoryInsideSourceIsLeftOut(t *testing.T) {
	src := snapshottest.WriteTree(t, map[string]string{"a.txt": "alpha"})
	opts := snapshottest.Options(t)
	opts.Repository = filepath.Join(src, "backup")
	opts.ConfigDir = filepath.Join(src, "cache")
	r := snapshottest.Open(t, opts)
	got, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: got.ID, Target: target}, nil); err != nil {
		t.Fatal(err)
	}
	restored := snapshottest.ReadTree(t, target)
	maps.DeleteFunc(restored, func(name, _ string) bool { return name == "cache/" })
	if !maps.Equal(restored, map[string]string{"a.txt": "alpha"}) {
		t.Errorf("restored %v, want only a.txt: the repository and cache inside the source are left out", restored)
	}
}

func TestForget(t *testing.T) {
	r := snapshottest.Open(t, snapshottest.Options(t))
	src := snapshottest.WriteTree(t, tree)
	var ids []string
	for range 2 {
		got, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got.ID)
	}
	if err := r.Forget(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	list, err := r.List(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != ids[1] {
		t.Errorf("after forgetting %s: List = %+v, %v; want only %s", ids[0], list, err, ids[1])
	}
	if err := r.Forget(t.Context(), ids[0]); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("forgetting it again: %v, want ErrNotFound", err)
	}
	// The data of the forgotten snapshot is still referenced by the other.
	if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: ids[1], Target: t.TempDir()}, nil); err != nil {
		t.Error(err)
	}
}

// TestConcurrentCreate opens a new repository from two goroutines at once, as
// two plans sharing a repository do on their first runs.
func TestConcurrentCreate(t *testing.T) {
	opts := snapshottest.Options(t)
	src := snapshottest.WriteTree(t, tree)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			r, err := snapshot.Open(t.Context(), opts)
			if err == nil {
				_, err = r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
				r.Close(t.Context())
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if list, err := snapshottest.Open(t, opts).List(t.Context()); err != nil || len(list) != 2 {
		t.Errorf("List = %+v, %v; want both snapshots in the one repository", list, err)
	}
}
