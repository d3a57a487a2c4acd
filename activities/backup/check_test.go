package backup_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steward-ops/steward/internal/repository"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

func checkBackup(t *testing.T, password string, req activities.CheckBackupRequest) []string {
	t.Helper()
	val, err := newEnv(newActivities(t, password)).ExecuteActivity(activities.CheckBackup, req)
	if err != nil {
		t.Fatal(err)
	}
	var res activities.CheckBackupResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res.Problems
}

func TestCheckBackup(t *testing.T) {
	repo, password := snapshottest.NewRepo(t)
	src := snapshottest.WriteTree(t, sourceTree)
	dir := t.TempDir()
	newRepo := filepath.Join(dir, "new-repo")
	file := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		password string // in passwordEnv
		req      activities.CheckBackupRequest
		want     []string
	}{
		{"usable", password,
			activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: repo, PasswordEnv: passwordEnv}}, nil},
		{"repository to create", password,
			activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: newRepo, PasswordEnv: passwordEnv}}, nil},
		{"missing source", password,
			activities.CheckBackupRequest{Source: "/srv/data", Ref: repository.Ref{Repository: repo, PasswordEnv: passwordEnv}},
			[]string{"plans[0].backup.source: /srv/data: no such directory"}},
		{"source is a file", password,
			activities.CheckBackupRequest{Source: file, Ref: repository.Ref{Repository: repo, PasswordEnv: passwordEnv}},
			[]string{"plans[0].backup.source: " + file + ": not a directory"}},
		{"unset password variable", password,
			activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: repo, PasswordEnv: "STEWARD_UNSET"}},
			[]string{"plans[0].backup.password_env: environment variable STEWARD_UNSET is not set on host nas-1"}},
		{"missing password file", password,
			activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: repo, PasswordFile: "/etc/steward/none"}},
			[]string{"plans[0].backup.password_file: /etc/steward/none: no such file on host nas-1"}},
		{"wrong password", "hunter2",
			activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: repo, PasswordEnv: passwordEnv}},
			[]string{"plans[0].backup.password_env: the password in environment variable " + passwordEnv + " does not open repository " + repo}},
		{"unsupported repository", password,
			activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: "azure://container/repo", PasswordEnv: passwordEnv}},
			[]string{"plans[0].backup.repository: azure://container/repo: unsupported repository location: azure:// repositories are not supported by this version (want an absolute local path, s3://bucket/prefix, sftp://user@host/path, webdav://host/path or rclone://remote:path)"}},
		{"unset S3 credential variables", password,
			activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: "s3://backups/nas", PasswordEnv: passwordEnv,
				S3: &repository.S3{Endpoint: "127.0.0.1:1", AccessKeyIDEnv: "STEWARD_UNSET_KEY", SecretAccessKeyFile: "/etc/steward/s3-secret"}}},
			[]string{
				"plans[0].backup.s3.access_key_id_env: environment variable STEWARD_UNSET_KEY is not set on host nas-1",
				"plans[0].backup.s3.secret_access_key_file: /etc/steward/s3-secret: no such file on host nas-1",
			}},
		{"repository parent missing", password,
			activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: "/mnt/nodisk/repo", PasswordEnv: passwordEnv}},
			[]string{"plans[0].backup.repository: /mnt/nodisk/repo: no kopia repository: parent directory /mnt/nodisk does not exist"}},
		{"repository holds other files", password,
			activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: src, PasswordEnv: passwordEnv}},
			[]string{"plans[0].backup.repository: " + src + ": no kopia repository: the directory holds other files"}},
		{"everything wrong", password,
			activities.CheckBackupRequest{Source: "/srv/data", Ref: repository.Ref{Repository: "b2://bucket", PasswordEnv: "STEWARD_UNSET"}},
			[]string{
				"plans[0].backup.source: /srv/data: no such directory",
				"plans[0].backup.password_env: environment variable STEWARD_UNSET is not set on host nas-1",
				"plans[0].backup.repository: b2://bucket: unsupported repository location: b2:// repositories are not supported by this version (want an absolute local path, s3://bucket/prefix, sftp://user@host/path, webdav://host/path or rclone://remote:path)",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Path = "plans[0].backup"
			got := checkBackup(t, tc.password, tc.req)
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("problems:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
	if _, err := os.Stat(newRepo); !os.IsNotExist(err) {
		t.Errorf("CheckBackup created %s", newRepo)
	}
}

// TestCheckBackupWaitsForGuards: a repository on an external drive that is
// not plugged in now is accepted with a note when a path_exists or mounted
// precondition guards it, and refused without one.
func TestCheckBackupWaitsForGuards(t *testing.T) {
	repo, password := snapshottest.NewRepo(t)
	src := snapshottest.WriteTree(t, sourceTree)
	drive := filepath.Join(t.TempDir(), "usb")
	onDrive := filepath.Join(drive, "repo")
	a := newActivities(t, password)
	check := func(req activities.CheckBackupRequest) activities.CheckBackupResult {
		t.Helper()
		req.Path, req.PasswordEnv = "plans[0].backup", passwordEnv
		val, err := newEnv(a).ExecuteActivity(activities.CheckBackup, req)
		if err != nil {
			t.Fatal(err)
		}
		var res activities.CheckBackupResult
		if err := val.Get(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := check(activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: onDrive},
		Guards: []activities.Guard{{Path: drive}}})
	if len(res.Problems) != 0 || len(res.Notes) != 1 {
		t.Fatalf("guarded repository on a missing drive: problems %q, notes %q", res.Problems, res.Notes)
	}
	want := "plans[0].backup.repository: " + onDrive + " is not checked now: it lies under precondition path_exists " + drive + ", and " + drive + ": no such file or directory; runs wait until it holds"
	if res.Notes[0] != want {
		t.Errorf("note:\n%s\nwant:\n%s", res.Notes[0], want)
	}

	// The same plan without the guard is refused, as is a guard that does
	// not cover the repository.
	for _, guards := range [][]activities.Guard{nil, {{Path: drive + "2"}}, {{Path: "/mnt"}}} {
		res = check(activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: onDrive}, Guards: guards})
		if len(res.Problems) != 1 || len(res.Notes) != 0 {
			t.Errorf("guards %v: problems %q, notes %q; want the repository refused", guards, res.Problems, res.Notes)
		}
	}

	// A mounted guard on a directory that exists but is no mount point
	// (the drive's empty mount point) also waits.
	if err := os.MkdirAll(drive, 0o755); err != nil {
		t.Fatal(err)
	}
	res = check(activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: onDrive},
		Guards: []activities.Guard{{Path: drive, Mounted: true}}})
	if len(res.Problems) != 0 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "is not a mount point") {
		t.Fatalf("mounted guard: problems %q, notes %q", res.Problems, res.Notes)
	}

	// Once the guard holds, the repository is checked strictly again.
	res = check(activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: repo + "-wrong/x"},
		Guards: []activities.Guard{{Path: drive}}})
	if len(res.Problems) != 1 {
		t.Fatalf("unguarded repository: problems %q", res.Problems)
	}
	res = check(activities.CheckBackupRequest{Source: src, Ref: repository.Ref{Repository: onDrive},
		Guards: []activities.Guard{{Path: drive}}})
	if len(res.Problems) != 0 || len(res.Notes) != 0 {
		t.Fatalf("guard holds: problems %q, notes %q; want the repository checked and creatable", res.Problems, res.Notes)
	}
}
