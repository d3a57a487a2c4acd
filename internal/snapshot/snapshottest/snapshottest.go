// Package snapshottest is the test kit of package snapshot: temporary kopia
// repositories and source trees, for the tests of snapshot and of the
// packages that use it.
package snapshottest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/steward-ops/steward/internal/snapshot"
)

// Password is the password of the repositories this package makes.
const Password = "correct horse battery staple"

// Options returns options for a repository that does not exist yet, in a
// fresh temporary directory, with Create set and kopia's config and cache in
// the test's temporary directory too (never in the user's cache).
func Options(t testing.TB) snapshot.Options {
	t.Helper()
	dir := t.TempDir()
	return snapshot.Options{
		Repository: filepath.Join(dir, "repo"),
		Password:   Password,
		Create:     true,
		Hostname:   "testhost",
		ConfigDir:  filepath.Join(dir, "kopia"),
	}
}

// NewRepo creates a repository and returns its location (a local path) and
// password. Open it with Options' other fields or any ConfigDir.
func NewRepo(t testing.TB) (location, password string) {
	t.Helper()
	opts := Options(t)
	r := Open(t, opts)
	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return opts.Repository, opts.Password
}

// Open opens (or creates) the repository opts names and closes it when the
// test ends.
func Open(t testing.TB, opts snapshot.Options) *snapshot.Repo {
	t.Helper()
	r, err := snapshot.Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context is done by now.
		if err := r.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return r
}

// WriteTree makes a directory in the test's temporary directory holding
// files: slash-separated relative path → content. A path ending in "/" makes
// an empty directory.
func WriteTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	AddFiles(t, dir, files)
	return dir
}

// AddFiles writes files (as WriteTree takes them) into dir, replacing any of
// the same name.
func AddFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if name[len(name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ReadTree returns the regular files and empty directories under dir in the
// form WriteTree takes.
func ReadTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		name := filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			entries, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				files[name+"/"] = ""
			}
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[name] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Size returns the bytes held by the regular files under dir, such as a
// repository's.
func Size(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n += fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
