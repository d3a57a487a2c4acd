package backup_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

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
			activities.CheckBackupRequest{Source: src, Repository: repo, PasswordEnv: passwordEnv}, nil},
		{"repository to create", password,
			activities.CheckBackupRequest{Source: src, Repository: newRepo, PasswordEnv: passwordEnv}, nil},
		{"missing source", password,
			activities.CheckBackupRequest{Source: "/srv/data", Repository: repo, PasswordEnv: passwordEnv},
			[]string{"plans[0].backup.source: /srv/data: no such directory"}},
		{"source is a file", password,
			activities.CheckBackupRequest{Source: file, Repository: repo, PasswordEnv: passwordEnv},
			[]string{"plans[0].backup.source: " + file + ": not a directory"}},
		{"unset password variable", password,
			activities.CheckBackupRequest{Source: src, Repository: repo, PasswordEnv: "STEWARD_UNSET"},
			[]string{"plans[0].backup.password_env: environment variable STEWARD_UNSET is not set on host nas-1"}},
		{"missing password file", password,
			activities.CheckBackupRequest{Source: src, Repository: repo, PasswordFile: "/etc/steward/none"},
			[]string{"plans[0].backup.password_file: /etc/steward/none: no such file on host nas-1"}},
		{"wrong password", "hunter2",
			activities.CheckBackupRequest{Source: src, Repository: repo, PasswordEnv: passwordEnv},
			[]string{"plans[0].backup.password_env: the password in environment variable " + passwordEnv + " does not open repository " + repo}},
		{"unsupported repository", password,
			activities.CheckBackupRequest{Source: src, Repository: "sftp://nas/repo", PasswordEnv: passwordEnv},
			[]string{"plans[0].backup.repository: sftp://nas/repo: unsupported repository location: sftp:// storage is not supported yet, only local paths"}},
		{"repository parent missing", password,
			activities.CheckBackupRequest{Source: src, Repository: "/mnt/nodisk/repo", PasswordEnv: passwordEnv},
			[]string{"plans[0].backup.repository: /mnt/nodisk/repo: no kopia repository: parent directory /mnt/nodisk does not exist"}},
		{"repository holds other files", password,
			activities.CheckBackupRequest{Source: src, Repository: src, PasswordEnv: passwordEnv},
			[]string{"plans[0].backup.repository: " + src + ": no kopia repository: the directory holds other files"}},
		{"everything wrong", password,
			activities.CheckBackupRequest{Source: "/srv/data", Repository: "s3://bucket", PasswordEnv: "STEWARD_UNSET"},
			[]string{
				"plans[0].backup.source: /srv/data: no such directory",
				"plans[0].backup.password_env: environment variable STEWARD_UNSET is not set on host nas-1",
				"plans[0].backup.repository: s3://bucket: unsupported repository location: s3:// storage is not supported yet, only local paths",
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
