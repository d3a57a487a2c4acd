package backup_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/steward-ops/steward/internal/repository"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/activities/backup"
	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

const passwordEnv = "STEWARD_REPO_PASSWORD"

// newActivities returns activities whose environment holds only
// passwordEnv=password, on host nas-1, with kopia's config in a temporary
// directory.
func newActivities(t *testing.T, password string) *backup.Activities {
	t.Helper()
	a := backup.New()
	a.ConfigDir = t.TempDir()
	a.Hostname = "nas-1"
	a.HeartbeatEvery = 0
	a.LookupEnv = func(key string) (string, bool) {
		if key == passwordEnv {
			return password, true
		}
		return "", false
	}
	return a
}

func newEnv(a *backup.Activities) *testsuite.TestActivityEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	a.Register(env)
	return env
}

func runBackup(env *testsuite.TestActivityEnvironment, req activities.BackupRequest) (activities.BackupResult, error) {
	var res activities.BackupResult
	val, err := env.ExecuteActivity(activities.Backup, req)
	if err != nil {
		return res, err
	}
	return res, val.Get(&res)
}

// appError returns err's application error, failing the test if it has
// none or if its type is not typ.
func appError(t *testing.T, err error, typ string) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v: want an application error of type %s", err, typ)
	}
	if ae.Type() != typ {
		t.Fatalf("error %v: type %s, want %s", err, ae.Type(), typ)
	}
	return ae
}

var sourceTree = map[string]string{
	"a.txt":           "alpha\n",
	"docs/b.md":       "# bravo\n",
	"docs/tmp/c.tmp":  "scratch",
	".cache/d":        "cached",
	"docs/deep/e.bin": "\x00echo\xff",
}

func TestBackupIsIdempotent(t *testing.T) {
	a := newActivities(t, snapshottest.Password)
	env := newEnv(a)
	var mu sync.Mutex
	var beats []activities.BackupProgress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var p activities.BackupProgress
		if err := details.Get(&p); err != nil {
			t.Errorf("heartbeat details: %v", err)
		}
		mu.Lock()
		beats = append(beats, p)
		mu.Unlock()
	})
	src := snapshottest.WriteTree(t, sourceTree)
	repo := filepath.Join(t.TempDir(), "repo") // made by the first backup
	req := activities.BackupRequest{
		PlanID:  "home",
		RunID:   "steward/plan/home/run/2026-11-24T09:00:00Z",
		Source:  src,
		Exclude: []string{"*.tmp", ".cache/"},
		Ref:     repository.Ref{Repository: repo, PasswordEnv: passwordEnv},
	}

	first, err := runBackup(env, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.SnapshotID == "" || first.Reused || first.Files != 3 || first.Bytes != 20 || first.Dirs < 2 ||
		first.StartTime.IsZero() || first.EndTime.Before(first.StartTime) {
		t.Errorf("first backup = %+v, want a new snapshot of 3 files, 20 bytes", first)
	}
	if first.Uploaded <= 0 {
		t.Errorf("first backup uploaded %d bytes, want the new data counted", first.Uploaded)
	}
	mu.Lock()
	if len(beats) == 0 {
		t.Errorf("no progress heartbeat")
	}
	mu.Unlock()

	again, err := runBackup(env, req)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.SnapshotID != first.SnapshotID || again.Files != first.Files || again.Bytes != first.Bytes {
		t.Errorf("repeated backup = %+v, want the first snapshot %s, reused", again, first.SnapshotID)
	}

	r := snapshottest.Open(t, snapshot.Options{Repository: repo, Password: snapshottest.Password, ConfigDir: t.TempDir()})
	list, err := r.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != first.SnapshotID ||
		!maps.Equal(list[0].Tags, map[string]string{"plan": "home", "run": req.RunID}) || list[0].Host != "nas-1" {
		t.Fatalf("repository holds %+v, want the one snapshot %s tagged plan=home run=%s from nas-1", list, first.SnapshotID, req.RunID)
	}
	target := t.TempDir()
	if _, err := r.Restore(t.Context(), snapshot.RestoreRequest{ID: first.SnapshotID, Target: target}, nil); err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(sourceTree)
	delete(want, "docs/tmp/c.tmp")
	delete(want, ".cache/d")
	want["docs/tmp/"] = ""
	if got := snapshottest.ReadTree(t, target); !maps.Equal(got, want) {
		t.Errorf("restored %v, want %v", got, want)
	}
}

func TestBackupPasswordFile(t *testing.T) {
	a := newActivities(t, "")
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte(snapshottest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo, _ := snapshottest.NewRepo(t)
	res, err := runBackup(newEnv(a), activities.BackupRequest{
		PlanID: "home", RunID: "r1", Source: snapshottest.WriteTree(t, sourceTree),
		Ref: repository.Ref{Repository: repo, PasswordFile: file},
	})
	if err != nil || res.SnapshotID == "" {
		t.Fatalf("backup with a password file = %+v, %v", res, err)
	}
}

func TestBackupErrors(t *testing.T) {
	repo, password := snapshottest.NewRepo(t)
	src := snapshottest.WriteTree(t, sourceTree)
	for _, tc := range []struct {
		name     string
		password string // in passwordEnv
		req      activities.BackupRequest
		typ      string
		want     []string // in the message
	}{
		{"unset password variable", password,
			activities.BackupRequest{Source: src, Ref: repository.Ref{Repository: repo, PasswordEnv: "STEWARD_UNSET"}},
			activities.ErrBadConfig, []string{"password_env", "STEWARD_UNSET", "not set", "nas-1"}},
		{"missing password file", password,
			activities.BackupRequest{Source: src, Ref: repository.Ref{Repository: repo, PasswordFile: "/nonexistent/password"}},
			activities.ErrBadConfig, []string{"password_file", "/nonexistent/password"}},
		{"no password at all", password,
			activities.BackupRequest{Source: src, Ref: repository.Ref{Repository: repo}},
			activities.ErrBadConfig, []string{"password_env", "password_file"}},
		{"wrong password", "hunter2",
			activities.BackupRequest{Source: src, Ref: repository.Ref{Repository: repo, PasswordEnv: passwordEnv}},
			activities.ErrAuth, []string{repo, "password"}},
		{"missing source", password,
			activities.BackupRequest{Source: filepath.Join(src, "nope"), Ref: repository.Ref{Repository: repo, PasswordEnv: passwordEnv}},
			activities.ErrBadConfig, []string{filepath.Join(src, "nope"), "no such directory"}},
		{"unsupported repository", password,
			activities.BackupRequest{Source: src, Ref: repository.Ref{Repository: "gcs://bucket/repo", PasswordEnv: passwordEnv}},
			activities.ErrBadConfig, []string{"gcs://", "not supported"}},
		{"unset S3 credential variable", password,
			activities.BackupRequest{Source: src, Ref: repository.Ref{Repository: "s3://backups/nas", PasswordEnv: passwordEnv,
				S3: &repository.S3{AccessKeyIDEnv: "STEWARD_UNSET_KEY", SecretAccessKeyEnv: passwordEnv}}},
			activities.ErrBadConfig, []string{"s3.access_key_id_env", "STEWARD_UNSET_KEY", "not set", "nas-1"}},
		{"repository on a missing disk", password,
			activities.BackupRequest{Source: src, Ref: repository.Ref{Repository: "/nonexistent/mount/repo", PasswordEnv: passwordEnv}},
			activities.ErrBadConfig, []string{"/nonexistent/mount", "does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.PlanID, tc.req.RunID = "home", "r1"
			_, err := runBackup(newEnv(newActivities(t, tc.password)), tc.req)
			ae := appError(t, err, tc.typ)
			if !ae.NonRetryable() {
				t.Errorf("error %v is retryable", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(ae.Message(), w) {
					t.Errorf("message %q does not mention %q", ae.Message(), w)
				}
			}
			for _, secret := range []string{password, "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds a password", err)
				}
			}
		})
	}
}

// fakeRepo fails every snapshot with err.
type fakeRepo struct{ err error }

func (f fakeRepo) Snapshot(context.Context, snapshot.Request, func(snapshot.Progress)) (snapshot.Info, error) {
	return snapshot.Info{}, f.err
}
func (f fakeRepo) FindByTag(context.Context, string, string) (snapshot.Info, bool, error) {
	return snapshot.Info{}, false, nil
}
func (f fakeRepo) ListTagged(context.Context, string, string) ([]snapshot.Info, error) {
	return nil, f.err
}
func (f fakeRepo) Forget(context.Context, ...string) error { return f.err }
func (f fakeRepo) Close(context.Context) error             { return nil }
func (f fakeRepo) Refresh(context.Context) error           { return nil }
func (f fakeRepo) Verify(context.Context, float64) (snapshot.VerifyStats, error) {
	return snapshot.VerifyStats{}, f.err
}
func (f fakeRepo) Maintain(context.Context, bool, snapshot.Safety) (snapshot.MaintainStats, error) {
	return snapshot.MaintainStats{}, f.err
}
func (f fakeRepo) Lock(context.Context, bool, func()) (func(), error) { return func() {}, nil }
func (f fakeRepo) Stat(context.Context, string, string) (snapshot.Entry, error) {
	return snapshot.Entry{}, f.err
}
func (f fakeRepo) Restore(context.Context, snapshot.RestoreRequest, func(snapshot.RestoreProgress)) (snapshot.RestoreStats, error) {
	return snapshot.RestoreStats{}, f.err
}

func TestBackupErrorTypes(t *testing.T) {
	for _, tc := range []struct {
		err error
		typ string // "" means retryable
	}{
		{fmt.Errorf("snapshot /src to /mnt/repo: error writing pack: %w", snapshot.ErrNoSpace), activities.ErrDiskFull},
		{fmt.Errorf("snapshot /src to /mnt/repo: %w", snapshot.ErrCorrupt), activities.ErrCorruptRepository},
		{fmt.Errorf("snapshot /src to /mnt/repo: %w", snapshot.ErrWrongPassword), activities.ErrAuth},
		{fmt.Errorf("snapshot /src to /mnt/repo: %w", snapshot.ErrNoSource), activities.ErrBadConfig},
		{errors.New("snapshot /src to /mnt/repo: connection reset by peer"), ""},
	} {
		a := newActivities(t, "pw")
		a.Open = func(context.Context, snapshot.Options) (backup.Repository, error) { return fakeRepo{tc.err}, nil }
		_, err := runBackup(newEnv(a), activities.BackupRequest{
			PlanID: "home", RunID: "r1", Source: "/src", Ref: repository.Ref{Repository: "/mnt/repo", PasswordEnv: passwordEnv},
		})
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) {
			t.Fatalf("%v: not an application error", err)
		}
		if tc.typ == "" {
			if ae.NonRetryable() {
				t.Errorf("%v: non-retryable, want retryable", err)
			}
			continue
		}
		if ae.Type() != tc.typ || !ae.NonRetryable() || ae.Message() != tc.err.Error() {
			t.Errorf("%v: got type %s, non-retryable %v, message %q; want non-retryable %s with the engine's message",
				tc.err, ae.Type(), ae.NonRetryable(), ae.Message(), tc.typ)
		}
	}
}
