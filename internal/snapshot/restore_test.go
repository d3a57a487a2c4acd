package snapshot_test

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// restoreFixture describes the source tree restoreSource makes.
type restoreFixture struct {
	src   string
	files map[string]string // regular files: slash path → content
	modes map[string]fs.FileMode
	times map[string]time.Time // files, directories and links
	links map[string]string    // symbolic links: slash path → link text
}

// restoreSource makes a tree with files and directories of several modes
// and times, a relative symbolic link and a dangling one.
func restoreSource(t *testing.T) restoreFixture {
	t.Helper()
	base := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC) // nanoseconds: restored exactly
	f := restoreFixture{
		files: map[string]string{
			"a.txt":       "alpha, readable by its owner only",
			"bin/run.sh":  "#!/bin/sh\necho run\n",
			"private/key": "secret key",
		},
		modes: map[string]fs.FileMode{
			"a.txt": 0o600, "bin/run.sh": 0o755, "private/key": 0o644,
			"bin": 0o755, "private": 0o700, "empty": 0o750,
		},
		times: map[string]time.Time{
			"a.txt": base, "bin/run.sh": base.Add(time.Hour), "private/key": base.Add(2 * time.Hour),
			// kopia restores a directory's time as the newest of its
			// entries' (its own when empty).
			"private": base.Add(2 * time.Hour), "empty": base.Add(-time.Hour),
			"link": base.Add(3 * time.Hour), "dangling": base.Add(4 * time.Hour),
		},
		links: map[string]string{"link": "a.txt", "dangling": "missing/nowhere"},
	}
	f.src = snapshottest.WriteTree(t, f.files)
	p := func(rel string) string { return filepath.Join(f.src, filepath.FromSlash(rel)) }
	if err := os.Mkdir(p("empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, text := range f.links {
		if err := os.Symlink(text, p(rel)); err != nil {
			t.Fatal(err)
		}
	}
	for rel, mode := range f.modes {
		if err := os.Chmod(p(rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	// Files before directories: setting a file's time leaves its
	// directory's alone, but be sure.
	for _, rel := range slices.Sorted(maps.Keys(f.times)) {
		if _, ok := f.files[rel]; ok {
			setTime(t, p(rel), f.times[rel])
		}
	}
	for rel, tm := range f.times {
		if _, ok := f.files[rel]; !ok {
			setTime(t, p(rel), tm)
		}
	}
	return f
}

// setTime sets the modification time of p, not following a link.
func setTime(t *testing.T, p string, tm time.Time) {
	t.Helper()
	ts := unix.NsecToTimespec(tm.UnixNano())
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
}

// bytes is the size of the fixture's files.
func (f restoreFixture) bytes() int64 {
	var n int64
	for _, c := range f.files {
		n += int64(len(c))
	}
	return n
}

// check reports how the tree at target differs from the fixture.
func (f restoreFixture) check(t *testing.T, target string) {
	t.Helper()
	want := maps.Clone(f.files)
	want["empty/"] = ""
	if got := snapshottest.ReadTree(t, target); !maps.Equal(got, want) {
		t.Errorf("restored files:\n%v\nwant:\n%v", got, want)
	}
	for rel, mode := range f.modes {
		fi, err := os.Lstat(filepath.Join(target, filepath.FromSlash(rel)))
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode().Perm(), mode)
		}
	}
	for rel, tm := range f.times {
		fi, err := os.Lstat(filepath.Join(target, filepath.FromSlash(rel)))
		if err != nil {
			t.Error(err)
			continue
		}
		if !fi.ModTime().Equal(tm) {
			t.Errorf("%s: modified %v, want %v", rel, fi.ModTime().UTC(), tm)
		}
	}
	for rel, text := range f.links {
		p := filepath.Join(target, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if got, err := os.Readlink(p); fi.Mode()&fs.ModeSymlink == 0 || err != nil || got != text {
			t.Errorf("%s: %v, link to %q (%v); want a symbolic link to %q", rel, fi.Mode(), got, err, text)
		}
	}
	noTemporaries(t, target)
}

// noTemporaries fails if a restore's temporary file is left under dir.
func noTemporaries(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error { //nolint:errcheck // reported inside
		if err != nil {
			t.Error(err)
			return nil
		}
		if strings.Contains(d.Name(), ".steward-restore") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// snapshotFixture snapshots a fresh fixture into a new repository.
func snapshotFixture(t *testing.T) (*snapshot.Repo, restoreFixture, snapshot.Info) {
	t.Helper()
	f := restoreSource(t)
	r := snapshottest.Open(t, snapshottest.Options(t))
	in, err := r.Snapshot(t.Context(), snapshot.Request{Source: f.src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, f, in
}

func TestRestoreRoundTrip(t *testing.T) {
	r, f, in := snapshotFixture(t)
	target := filepath.Join(t.TempDir(), "new", "target")
	var last snapshot.RestoreProgress
	st, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: target}, func(p snapshot.RestoreProgress) {
		if p.Files < last.Files || p.Bytes < last.Bytes {
			t.Errorf("progress went back: %+v after %+v", p, last)
		}
		last = p
	})
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, target)
	want := snapshot.RestoreStats{Files: 3, Dirs: 4, Symlinks: 2, Bytes: f.bytes()}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if last != (snapshot.RestoreProgress{Files: 3, Bytes: f.bytes()}) {
		t.Errorf("last progress = %+v, want 3 files and %d bytes", last, f.bytes())
	}
	// The target gets the snapshot root's mode.
	sfi, err := os.Stat(f.src)
	if err != nil {
		t.Fatal(err)
	}
	if tfi, err := os.Stat(target); err != nil || tfi.Mode() != sfi.Mode() {
		t.Errorf("target: %v (%v), want the source's mode %v", tfi.Mode(), err, sfi.Mode())
	}

	// Restoring again over the restored tree rewrites it the same.
	st, err = r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: target}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, target)
	if st != want {
		t.Errorf("stats of a restore over it = %+v, want %+v", st, want)
	}
}

func TestRestorePath(t *testing.T) {
	r, f, in := snapshotFixture(t)

	t.Run("file", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "t")
		st, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Path: "bin/run.sh", Target: target}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := snapshottest.ReadTree(t, target); !maps.Equal(got, map[string]string{"run.sh": f.files["bin/run.sh"]}) {
			t.Errorf("restored %v, want run.sh only", got)
		}
		fi, err := os.Stat(filepath.Join(target, "run.sh"))
		if err != nil || fi.Mode().Perm() != 0o755 || !fi.ModTime().Equal(f.times["bin/run.sh"]) {
			t.Errorf("run.sh: %v %v (%v), want mode 0755, time %v", fi.Mode(), fi.ModTime(), err, f.times["bin/run.sh"])
		}
		if want := (snapshot.RestoreStats{Files: 1, Bytes: int64(len(f.files["bin/run.sh"]))}); st != want {
			t.Errorf("stats = %+v, want %+v", st, want)
		}
	})

	t.Run("directory", func(t *testing.T) {
		for _, p := range []string{"private", "/private/"} {
			target := t.TempDir()
			if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Path: p, Target: target}, nil); err != nil {
				t.Fatal(err)
			}
			if got := snapshottest.ReadTree(t, target); !maps.Equal(got, map[string]string{"key": f.files["private/key"]}) {
				t.Errorf("path %q: restored %v, want its contents, key", p, got)
			}
		}
	})

	t.Run("symlink", func(t *testing.T) {
		target := t.TempDir()
		st, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Path: "dangling", Target: target}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.Readlink(filepath.Join(target, "dangling")); err != nil || got != "missing/nowhere" {
			t.Errorf("dangling: link to %q (%v)", got, err)
		}
		if st != (snapshot.RestoreStats{Symlinks: 1}) {
			t.Errorf("stats = %+v, want 1 symlink", st)
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "t")
		for _, p := range []string{"nope/x", "a.txt/x"} {
			_, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Path: p, Target: target}, nil)
			if !errors.Is(err, snapshot.ErrNotFound) || !strings.Contains(err.Error(), strconv.Quote(p)) {
				t.Errorf("restore of %q: %v, want ErrNotFound naming the path", p, err)
			}
			_, err = r.Stat(t.Context(), in.ID, p)
			if !errors.Is(err, snapshot.ErrNotFound) || !strings.Contains(err.Error(), strconv.Quote(p)) || !strings.Contains(err.Error(), in.ID) {
				t.Errorf("stat of %q: %v, want ErrNotFound naming the snapshot and the path", p, err)
			}
		}
		if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a failed lookup made the target (%v)", err)
		}
	})

	t.Run("unknown snapshot", func(t *testing.T) {
		const id = "k0123456789abcdef0123456789abcdef"
		_, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: id, Target: t.TempDir()}, nil)
		if !errors.Is(err, snapshot.ErrNotFound) {
			t.Errorf("restore of an unknown snapshot: %v, want ErrNotFound", err)
		}
		if _, err := r.Stat(t.Context(), id, ""); !errors.Is(err, snapshot.ErrNotFound) || !strings.Contains(err.Error(), id) {
			t.Errorf("stat of an unknown snapshot: %v, want ErrNotFound naming it", err)
		}
	})
}

func TestStat(t *testing.T) {
	r, f, in := snapshotFixture(t)
	for _, tc := range []struct {
		path string
		want snapshot.Entry
	}{
		{"", snapshot.Entry{Dir: true, Files: 3, Bytes: f.bytes()}},
		{"/", snapshot.Entry{Dir: true, Files: 3, Bytes: f.bytes()}},
		{"private/", snapshot.Entry{Path: "private", Name: "private", Dir: true, Files: 1, Bytes: int64(len(f.files["private/key"]))}},
		{"/bin/run.sh", snapshot.Entry{Path: "bin/run.sh", Name: "run.sh", Files: 1, Bytes: int64(len(f.files["bin/run.sh"]))}},
		{"empty", snapshot.Entry{Path: "empty", Name: "empty", Dir: true}},
		{"link", snapshot.Entry{Path: "link", Name: "link"}},
	} {
		got, err := r.Stat(t.Context(), in.ID, tc.path)
		if err != nil || got != tc.want {
			t.Errorf("Stat(%q) = %+v, %v; want %+v", tc.path, got, err, tc.want)
		}
	}
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestRestoreCraftedNamesRefused(t *testing.T) {
	for _, name := range []string{"../escape", "/abs/evil", "..", "a/../../b"} {
		t.Run(name, func(t *testing.T) {
			opts := snapshottest.Options(t)
			id := snapshottest.Craft(t, opts, map[string]string{"plan": "crafted"}, "ok.txt", name)
			r := snapshottest.Open(t, opts)
			list, err := r.ListTagged(t.Context(), "plan", "crafted")
			if err != nil || len(list) != 1 || list[0].ID != id || list[0].Source != snapshottest.CraftedSource {
				t.Fatalf("ListTagged = %+v, %v; want the crafted snapshot %s", list, err, id)
			}

			parent := t.TempDir()
			target := filepath.Join(parent, "target")
			for _, resume := range []bool{false, true} {
				_, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: id, Target: target, Resume: resume}, nil)
				if !errors.Is(err, snapshot.ErrUnsafePath) || !strings.Contains(err.Error(), strconv.Quote(name)) {
					t.Errorf("restore (resume %v): %v, want ErrUnsafePath naming the entry %q", resume, err, name)
				}
			}
			if got := listDir(t, parent); !slices.Equal(got, []string{"target"}) {
				t.Errorf("next to the target: %v, want only the target", got)
			}
			for _, p := range []string{
				filepath.Join(parent, "escape"), filepath.Join(parent, "b"),
				filepath.Join(parent, "abs"), filepath.Join(target, "abs"), "/abs/evil",
			} {
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s exists (%v)", p, err)
				}
			}
			for _, n := range listDir(t, target) {
				if n != "ok.txt" {
					t.Errorf("target holds %q", n)
				}
			}
		})
	}
}

func TestRestoreRefusesSymlinkedDirectory(t *testing.T) {
	src := snapshottest.WriteTree(t, map[string]string{"sub/file": "payload"})
	r := snapshottest.Open(t, snapshottest.Options(t))
	in, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	outside := snapshottest.WriteTree(t, map[string]string{"keep": "untouched"})
	for _, link := range []string{outside, "../" + filepath.Base(outside), "elsewhere"} {
		target := t.TempDir()
		if err := os.Mkdir(filepath.Join(target, "elsewhere"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(link, filepath.Join(target, "sub")); err != nil {
			t.Fatal(err)
		}
		for _, resume := range []bool{false, true} {
			_, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: target, Resume: resume}, nil)
			if !errors.Is(err, snapshot.ErrUnsafePath) || !strings.Contains(err.Error(), `"sub" is a symbolic link in the target`) {
				t.Errorf("restore through sub -> %s: %v, want ErrUnsafePath saying sub is a symbolic link", link, err)
			}
		}
		if got := snapshottest.ReadTree(t, outside); !maps.Equal(got, map[string]string{"keep": "untouched"}) {
			t.Errorf("the directory sub links to now holds %v", got)
		}
		if got := listDir(t, filepath.Join(target, "elsewhere")); len(got) != 0 {
			t.Errorf("the directory sub links to inside the target now holds %v", got)
		}
	}
}

func TestRestoreReplacesLinksAndFiles(t *testing.T) {
	r, f, in := snapshotFixture(t)
	outside := snapshottest.WriteTree(t, map[string]string{"victim": "untouched"})
	target := t.TempDir()
	// A link where a file goes, a file where a link goes.
	if err := os.Symlink(filepath.Join(outside, "victim"), filepath.Join(target, "a.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "link"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: target}, nil); err != nil {
		t.Fatal(err)
	}
	f.check(t, target)
	if got := snapshottest.ReadTree(t, outside); !maps.Equal(got, map[string]string{"victim": "untouched"}) {
		t.Errorf("the file a.txt linked to now holds %v", got)
	}
}

// A directory in the target where the snapshot has a file is left alone,
// and the error names the file.
func TestRestoreRefusesDirectoryWhereAFileGoes(t *testing.T) {
	r, _, in := snapshotFixture(t)
	target := t.TempDir()
	if err := os.MkdirAll(filepath.Join(target, "a.txt", "kept"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: target}, nil)
	if err == nil || !strings.Contains(err.Error(), `"a.txt" exists in the target and is a directory`) {
		t.Fatalf("restore over a directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "a.txt", "kept")); err != nil {
		t.Errorf("the directory in the way was changed: %v", err)
	}
}

func TestCheckTarget(t *testing.T) {
	dir := t.TempDir()
	full := snapshottest.WriteTree(t, map[string]string{"x": "y"})
	file := filepath.Join(full, "x")
	for _, tc := range []struct {
		name      string
		target    string
		overwrite bool
		want      error
	}{
		{"missing", filepath.Join(dir, "missing", "deeper"), false, nil},
		{"empty", dir, false, nil},
		{"non-empty", full, false, snapshot.ErrTargetNotEmpty},
		{"non-empty, overwrite", full, true, nil},
		{"file", file, false, snapshot.ErrUnsafePath},
		{"file, overwrite", file, true, snapshot.ErrUnsafePath},
	} {
		err := snapshot.CheckTarget(tc.target, tc.overwrite)
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v, want no error", tc.name, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		case err != nil && !strings.Contains(err.Error(), tc.target):
			t.Errorf("%s: %v does not name the target", tc.name, err)
		}
		if errors.Is(tc.want, snapshot.ErrTargetNotEmpty) && (err == nil || !strings.Contains(err.Error(), "use --overwrite to restore into it anyway")) {
			t.Errorf("%s: %v does not mention --overwrite", tc.name, err)
		}
	}
	// Restore itself refuses a file as its target.
	r, _, in := snapshotFixture(t)
	if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: file}, nil); !errors.Is(err, snapshot.ErrUnsafePath) {
		t.Errorf("restore into a file: %v, want ErrUnsafePath", err)
	}
}

func TestRestoreResume(t *testing.T) {
	r, f, in := snapshotFixture(t)
	target := t.TempDir()
	if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: target}, nil); err != nil {
		t.Fatal(err)
	}
	p := func(rel string) string { return filepath.Join(target, filepath.FromSlash(rel)) }
	before := map[string]fs.FileInfo{}
	for rel := range f.files {
		fi, err := os.Stat(p(rel))
		if err != nil {
			t.Fatal(err)
		}
		before[rel] = fi
	}
	// An interrupted restore: a.txt never renamed into place, its
	// temporary file half written; run.sh's temporary file left over too;
	// a link not made yet.
	if err := os.Remove(p("a.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p(".a.txt.steward-restore"), []byte("alp"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("bin/.run.sh.steward-restore"), []byte("#!"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p("dangling")); err != nil {
		t.Fatal(err)
	}
	// The directory was left read-only by the first restore's end.
	if err := os.Chmod(p("private"), 0o500); err != nil {
		t.Fatal(err)
	}
	var last snapshot.RestoreProgress
	st, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: target, Resume: true}, func(p snapshot.RestoreProgress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, target)
	keptBytes := int64(len(f.files["bin/run.sh"]) + len(f.files["private/key"]))
	want := snapshot.RestoreStats{Files: 3, Dirs: 4, Symlinks: 2, Bytes: f.bytes(), Kept: 2, KeptBytes: keptBytes}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if last != (snapshot.RestoreProgress{Files: 3, Bytes: f.bytes()}) {
		t.Errorf("last progress = %+v, want 3 files and %d bytes", last, f.bytes())
	}
	for _, rel := range []string{"bin/run.sh", "private/key"} {
		if fi, err := os.Stat(p(rel)); err != nil || !os.SameFile(fi, before[rel]) {
			t.Errorf("%s was rewritten by a resumed restore (%v)", rel, err)
		}
	}

	// A file of the same size but another time is written again; without
	// Resume every file is.
	setTime(t, p("private/key"), time.Now())
	st, err = r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: target, Resume: true}, nil)
	if err != nil || st.Kept != 2 || st.KeptBytes != int64(len(f.files["a.txt"])+len(f.files["bin/run.sh"])) {
		t.Errorf("resume after touching private/key: %+v, %v; want a.txt and run.sh kept", st, err)
	}
	f.check(t, target)
	st, err = r.Restore(t.Context(), snapshot.RestoreRequest{ID: in.ID, Target: target}, nil)
	if err != nil || st.Kept != 0 {
		t.Errorf("restore without Resume: %+v, %v; want nothing kept", st, err)
	}
	if fi, err := os.Stat(p("bin/run.sh")); err != nil || os.SameFile(fi, before["bin/run.sh"]) {
		t.Errorf("run.sh was not rewritten without Resume (%v)", err)
	}
	f.check(t, target)
}

func TestRestoreCancelled(t *testing.T) {
	files := randomTree(t, 16, 4<<20)
	src := snapshottest.WriteTree(t, files)
	r := snapshottest.Open(t, snapshottest.Options(t))
	in, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, nil)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	target := t.TempDir()
	if _, err := r.Restore(ctx, snapshot.RestoreRequest{ID: in.ID, Target: target}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("restore with a cancelled context: %v, want context.Canceled", err)
	}
	if got := listDir(t, target); len(got) != 0 {
		t.Errorf("restore with a cancelled context wrote %v", got)
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	_, err = r.Restore(ctx, snapshot.RestoreRequest{ID: in.ID, Target: target}, func(p snapshot.RestoreProgress) {
		if p.Bytes > 0 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("restore cancelled midway: %v, want context.Canceled", err)
	}
	got := snapshottest.ReadTree(t, target)
	if len(got) >= 16 {
		t.Errorf("restore cancelled midway wrote all %d files", len(got))
	}
	// Into an empty target files are written at their own names; a
	// cancelled one is removed, so that what is there is whole.
	for rel, content := range got {
		if content != files[rel] {
			t.Errorf("restore cancelled midway left %s with %d of its %d bytes", rel, len(content), len(files[rel]))
		}
	}
	noTemporaries(t, target)
}
