package snapshottest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob/filesystem"
	"github.com/kopia/kopia/repo/content"
	"github.com/kopia/kopia/repo/object"
	kopiasnapshot "github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/snapshotfs"

	"github.com/steward-ops/steward/internal/snapshot"
)

// CraftedSource is the source path of the snapshots Craft writes.
const CraftedSource = "/crafted"

// Craft writes a snapshot into the repository opts names (creating it if
// opts.Create is set) and returns its ID. Its root directory lists one small
// regular file per name, named verbatim, so that names no file system
// holds ("../escape", "/abs/evil") can be tried on a restore; the file
// named n holds "crafted " + n. The snapshot is tagged with tags as
// steward's are, and its source is opts.Hostname, opts.Username (or
// snapshot.DefaultUsername) and CraftedSource.
//
// Craft writes through a kopia connection of its own: open the Repo that
// should see the snapshot after calling it (a Repo open already may not
// see it until its indexes refresh).
func Craft(t testing.TB, opts snapshot.Options, tags map[string]string, names ...string) string {
	t.Helper()
	ctx := t.Context()
	// Create the repository (or check it opens) the way steward does.
	r, err := snapshot.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	loc := r.Location()

	host, user := opts.Hostname, opts.Username
	if host == "" {
		host = repo.GetDefaultHostName(ctx)
	}
	if user == "" {
		user = snapshot.DefaultUsername
	}
	st, err := filesystem.New(ctx, &filesystem.Options{Path: loc}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx) //nolint:errcheck // only connected through
	dir := t.TempDir()
	config := filepath.Join(dir, "repository.config")
	err = repo.Connect(ctx, config, st, opts.Password, &repo.ConnectOptions{
		ClientOptions:  repo.ClientOptions{Hostname: host, Username: user},
		CachingOptions: content.CachingOptions{CacheDirectory: filepath.Join(dir, "cache")},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := repo.Open(ctx, config, opts.Password, &repo.Options{OnFatalError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close(context.WithoutCancel(ctx)) //nolint:errcheck // written and flushed below

	var id string
	err = repo.WriteSession(ctx, rep, repo.WriteSessionOptions{Purpose: "steward test: craft snapshot"},
		func(ctx context.Context, w repo.RepositoryWriter) error {
			var err error
			id, err = craft(ctx, w, kopiasnapshot.SourceInfo{Host: host, UserName: user, Path: CraftedSource}, tags, names)
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// craft writes the files, the root directory and the manifest of a crafted
// snapshot; the write session flushes them.
func craft(ctx context.Context, w repo.RepositoryWriter, si kopiasnapshot.SourceInfo, tags map[string]string, names []string) (string, error) {
	now := fs.UTCTimestampFromTime(time.Now().Truncate(time.Second))
	var b snapshotfs.DirManifestBuilder
	var size int64
	for _, name := range names {
		data := "crafted " + name
		ow := w.NewObjectWriter(ctx, object.WriterOptions{Description: "FILE:" + name})
		if _, err := ow.Write([]byte(data)); err != nil {
			ow.Close() //nolint:errcheck // the write error says more
			return "", err
		}
		oid, err := ow.Result()
		ow.Close() //nolint:errcheck // the result is taken
		if err != nil {
			return "", err
		}
		size += int64(len(data))
		b.AddEntry(&kopiasnapshot.DirEntry{
			Name:        name,
			Type:        kopiasnapshot.EntryTypeFile,
			ObjectID:    oid,
			FileSize:    int64(len(data)),
			Permissions: 0o644,
			ModTime:     now,
		})
	}
	// Build gives the manifest the "kopia:directory" stream type and a
	// summary; WriteDirManifest writes it as JSON, object prefix "k".
	dm := b.Build(now, "")
	oid, err := snapshotfs.WriteDirManifest(ctx, w, "", dm, "")
	if err != nil {
		return "", err
	}
	labels := map[string]string{}
	for k, v := range tags {
		labels["tag:"+k] = v
	}
	man := &kopiasnapshot.Manifest{
		Source:      si,
		Description: "crafted: " + strings.Join(names, ", "),
		StartTime:   now,
		EndTime:     now,
		Stats:       kopiasnapshot.Stats{TotalFileCount: int32(len(names)), TotalFileSize: size}, //nolint:gosec // a handful of test files
		RootEntry: &kopiasnapshot.DirEntry{
			Name:        filepath.Base(si.Path),
			Type:        kopiasnapshot.EntryTypeDirectory,
			Permissions: 0o755,
			ModTime:     now,
			ObjectID:    oid,
			DirSummary:  dm.Summary,
		},
		Tags: labels,
	}
	mid, err := kopiasnapshot.SaveSnapshot(ctx, w, man)
	return string(mid), err
}
