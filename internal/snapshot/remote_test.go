package snapshot_test

import (
	"errors"
	"maps"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// fakeS3 serves the S3 API on loopback (gofakes3, in memory) with one
// bucket holding one object, other/notes.txt, and returns the options to
// reach it.
func fakeS3(t *testing.T, bucket string) *snapshot.S3Options {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	notes := "not a repository"
	if _, err := be.PutObject(bucket, "other/notes.txt", nil, strings.NewReader(notes), int64(len(notes)), nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &snapshot.S3Options{Endpoint: u.Host, DisableTLS: true, AccessKeyID: "steward", SecretAccessKey: "s3-secret-canary"}
}

// An s3:// repository works like a local one: created on first use,
// snapshotted, listed, restored byte-identical, verified; its errors never
// hold the secret key.
func TestS3Repository(t *testing.T) {
	s3 := fakeS3(t, "backups")
	opts := snapshottest.Options(t)
	opts.Repository, opts.S3 = "s3://backups/hosts/nas", s3
	r := snapshottest.Open(t, opts)
	tree := map[string]string{"a.txt": "alpha\n", "docs/b.md": strings.Repeat("bravo ", 1000)}
	src := snapshottest.WriteTree(t, tree)
	got, err := r.Snapshot(t.Context(), snapshot.Request{Source: src, Tags: map[string]string{"plan": "home"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := r.ListTagged(t.Context(), "plan", "home"); err != nil || len(list) != 1 || list[0].ID != got.ID {
		t.Fatalf("ListTagged: %+v, %v", list, err)
	}
	// A second client, with its own config and cache, reads it back.
	opts2 := opts
	opts2.ConfigDir, opts2.Create, opts2.Uncached = t.TempDir(), false, true
	r2 := snapshottest.Open(t, opts2)
	target := t.TempDir()
	if _, err := r2.Restore(t.Context(), snapshot.RestoreRequest{ID: got.ID, Target: target}, nil); err != nil {
		t.Fatal(err)
	}
	if back := snapshottest.ReadTree(t, target); !maps.Equal(back, tree) {
		t.Errorf("restored %v, want %v", back, tree)
	}
	if _, err := r2.Verify(t.Context(), 100); err != nil {
		t.Errorf("Verify(100): %v", err)
	}

	// Check agrees: the repository is there and the password opens it.
	check := opts2
	check.Create = false
	if err := snapshot.Check(t.Context(), check); err != nil {
		t.Errorf("Check of the s3 repository: %v", err)
	}
	check.Password = "wrong"
	if err := snapshot.Check(t.Context(), check); !errors.Is(err, snapshot.ErrWrongPassword) {
		t.Errorf("Check with a wrong password: %v, want ErrWrongPassword", err)
	}

	// A missing bucket, a URL without one, credentials in the URL, a
	// prefix holding other objects: refused, even with Create.
	for name, tc := range map[string]struct {
		repo string
		s3   *snapshot.S3Options
		kind error
	}{
		"missing bucket": {"s3://nope/x", s3, nil},
		"no bucket":      {"s3:///x", s3, snapshot.ErrUnsupported},
		"creds in URL":   {"s3://key:secret-in-url@backups/x", s3, snapshot.ErrUnsupported},
		"other objects":  {"s3://backups/other", s3, snapshot.ErrNoRepository},
	} {
		o := snapshottest.Options(t)
		o.Repository, o.S3 = tc.repo, tc.s3
		_, err := snapshot.Open(t.Context(), o)
		if err == nil || tc.kind != nil && !errors.Is(err, tc.kind) {
			t.Errorf("%s: %v, want an error of kind %v", name, err, tc.kind)
		}
		if cerr := snapshot.Check(t.Context(), o); cerr == nil || tc.kind != nil && !errors.Is(cerr, tc.kind) {
			t.Errorf("%s: Check %v, want an error of kind %v", name, cerr, tc.kind)
		} else if strings.Contains(cerr.Error(), "secret-in-url") {
			t.Errorf("%s: Check's error shows a secret: %v", name, cerr)
		}
		if err != nil && (strings.Contains(err.Error(), "canary") || strings.Contains(err.Error(), "secret-in-url")) {
			t.Errorf("%s: the error shows a secret: %v", name, err)
		}
	}
}

// sftp:// and webdav:// repositories work like a local one: created on
// first use, snapshotted, read back by a second client with its own config
// and cache, restored byte-identical, and checked.
func TestSFTPAndWebDAVRepositories(t *testing.T) {
	ssh := snapshottest.SFTPServer(t)
	davRoot := t.TempDir()
	// Like a bucket, the server's directory is made by whoever runs it.
	if err := os.MkdirAll(filepath.Join(davRoot, "repos", "nas"), 0o755); err != nil {
		t.Fatal(err)
	}
	dav := snapshottest.WebDAVServer(t, davRoot, "steward", "dav-password-canary")
	for _, tc := range []struct {
		name string
		set  func(o *snapshot.Options)
	}{
		{"sftp with a key", func(o *snapshot.Options) {
			o.Repository = ssh.URL(filepath.Join(t.TempDir(), "repo"))
			o.SFTP = &snapshot.SFTPOptions{KeyFile: ssh.KeyFile, KnownHostsFile: ssh.KnownHostsFile}
		}},
		{"sftp with a password", func(o *snapshot.Options) {
			o.Repository = ssh.URL(filepath.Join(t.TempDir(), "repo"))
			o.SFTP = &snapshot.SFTPOptions{Password: ssh.Password, KnownHostsFile: ssh.KnownHostsFile}
		}},
		{"webdav", func(o *snapshot.Options) {
			o.Repository = "webdav://" + dav + "/repos/nas"
			o.WebDAV = &snapshot.WebDAVOptions{Username: "steward", Password: "dav-password-canary", DisableTLS: true}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := snapshottest.Options(t)
			tc.set(&opts)
			opts2 := roundTrip(t, opts)
			if err := snapshot.Check(t.Context(), opts2); err != nil {
				t.Errorf("Check: %v", err)
			}
			opts2.Password = "wrong"
			if err := snapshot.Check(t.Context(), opts2); !errors.Is(err, snapshot.ErrWrongPassword) {
				t.Errorf("Check with a wrong password: %v, want ErrWrongPassword", err)
			}
		})
	}

	// Wrong credentials and an unknown host key are refused, and the
	// errors name the server, never the secret.
	for name, set := range map[string]func(o *snapshot.Options){
		"sftp, wrong password": func(o *snapshot.Options) {
			o.Repository = ssh.URL(filepath.Join(t.TempDir(), "repo"))
			o.SFTP = &snapshot.SFTPOptions{Password: "wrong-canary", KnownHostsFile: ssh.KnownHostsFile}
		},
		"sftp, unknown host key": func(o *snapshot.Options) {
			other := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			o.Repository = ssh.URL(filepath.Join(t.TempDir(), "repo"))
			o.SFTP = &snapshot.SFTPOptions{KeyFile: ssh.KeyFile, KnownHostsFile: other}
		},
		"webdav, wrong password": func(o *snapshot.Options) {
			o.Repository = "webdav://" + dav + "/repos/other"
			o.WebDAV = &snapshot.WebDAVOptions{Username: "steward", Password: "wrong-canary", DisableTLS: true}
		},
	} {
		opts := snapshottest.Options(t)
		set(&opts)
		start := time.Now()
		_, err := snapshot.Open(t.Context(), opts)
		t.Logf("%s: refused in %v: %v", name, time.Since(start).Round(time.Millisecond), err)
		if err == nil {
			t.Errorf("%s: opened", name)
			continue
		}
		if strings.Contains(err.Error(), "canary") {
			t.Errorf("%s: the error shows a secret: %v", name, err)
		}
		if !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("%s: the error does not name the server: %v", name, err)
		}
		if strings.Contains(err.Error(), "ssh.ClientConfig") {
			t.Errorf("%s: the error dumps the SSH client's config: %v", name, err)
		}
	}
}

// An rclone:// repository, through a remote of rclone's config file (a
// local one here; B2, Azure or GCS remotes work the same way), is created,
// snapshotted and restored by a second client.
func TestRCloneRepository(t *testing.T) {
	rcloneBin, err := exec.LookPath("rclone")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("rclone is not installed: .ci/run installs it")
		}
		t.Skip("rclone is not installed")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "rclone.conf")
	if err := os.WriteFile(conf, []byte("[vault]\ntype = local\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := snapshottest.Options(t)
	opts.Repository = "rclone://vault:" + filepath.Join(dir, "remote", "repo")
	opts.RClone = &snapshot.RCloneOptions{ConfigFile: conf, Executable: rcloneBin}
	roundTrip(t, opts)
	if _, err := os.Stat(filepath.Join(dir, "remote", "repo", "kopia.repository.f")); err != nil {
		t.Errorf("the repository is not where the remote puts it: %v", err)
	}

	// A remote the config does not have is refused, naming it.
	opts3 := snapshottest.Options(t)
	opts3.Repository, opts3.RClone = "rclone://nope:repo", opts.RClone
	if _, err := snapshot.Open(t.Context(), opts3); err == nil || !strings.Contains(err.Error(), "rclone remote nope:repo") {
		t.Errorf("an unknown remote: %v", err)
	}
}

// roundTrip creates the repository opts name, snapshots a small tree into
// it, and restores that from a second client with a config and cache of its
// own, byte-identical; it returns the second client's options (Create off).
func roundTrip(t *testing.T, opts snapshot.Options) snapshot.Options {
	t.Helper()
	r := snapshottest.Open(t, opts)
	tree := map[string]string{"a.txt": "alpha\n", "docs/b.md": strings.Repeat("bravo ", 1000)}
	src := snapshottest.WriteTree(t, tree)
	got, err := r.Snapshot(t.Context(), snapshot.Request{Source: src, Tags: map[string]string{"plan": "home"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts2 := opts
	opts2.ConfigDir, opts2.Create = t.TempDir(), false
	r2 := snapshottest.Open(t, opts2)
	target := t.TempDir()
	if _, err := r2.Restore(t.Context(), snapshot.RestoreRequest{ID: got.ID, Target: target}, nil); err != nil {
		t.Fatal(err)
	}
	if back := snapshottest.ReadTree(t, target); !maps.Equal(back, tree) {
		t.Errorf("restored %v, want %v", back, tree)
	}
	return opts2
}
