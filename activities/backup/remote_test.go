package backup_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/repository"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) (host string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	return "127.0.0.1", addr.Port
}

// A remote repository whose server cannot be reached fails the attempt
// with an error that names the server and that Temporal retries (the
// server may be back for the next attempt), and never holds a secret.
func TestUnreachableRemoteIsRetryableAndNamesTheHost(t *testing.T) {
	host, port := closedPort(t)
	addr := host + ":" + strconv.Itoa(port)
	src := snapshottest.WriteTree(t, sourceTree)
	key, knownHosts := filepath.Join(t.TempDir(), "id"), filepath.Join(t.TempDir(), "known_hosts")
	for _, f := range []string{key, knownHosts} {
		if err := os.WriteFile(f, []byte("not used: the connection fails first\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const secret = "s3-secret-canary"
	for _, ref := range []repository.Ref{
		{Repository: "s3://backups/nas", PasswordEnv: passwordEnv,
			S3: &repository.S3{Endpoint: addr, DisableTLS: true, AccessKeyIDEnv: passwordEnv, SecretAccessKeyEnv: "S3_SECRET"}},
		{Repository: "sftp://steward@" + addr + "/srv/backups", PasswordEnv: passwordEnv,
			SFTP: &repository.SFTP{KeyFile: key, KnownHostsFile: knownHosts}},
	} {
		t.Run(strings.Split(ref.Repository, ":")[0], func(t *testing.T) {
			a := newActivities(t, snapshottest.Password)
			env := a.LookupEnv
			a.LookupEnv = func(k string) (string, bool) {
				if k == "S3_SECRET" {
					return secret, true
				}
				return env(k)
			}
			start := time.Now()
			_, err := runBackup(newEnv(a), activities.BackupRequest{PlanID: "home", RunID: "r1", Source: src, Ref: ref})
			if err == nil {
				t.Fatal("backup to an unreachable server succeeded")
			}
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v: want an application error", err)
			}
			if ae.NonRetryable() || slices.Contains(activities.NonRetryableErrors, ae.Type()) {
				t.Errorf("error %v is not retryable", err)
			}
			if !strings.Contains(ae.Message(), addr) {
				t.Errorf("error %q does not name the server %s", ae.Message(), addr)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), snapshottest.Password) {
				t.Errorf("error %q holds a secret", err)
			}
			t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), ae.Message())
		})
	}
}

// A storage server that accepts connections and never answers is a
// problem of the plan, naming the server, found within CheckTimeout: the
// check activity answers before its own timeout would say only "timeout".
func TestCheckBackupNamesASilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn // accepted, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	a := newActivities(t, snapshottest.Password)
	a.CheckTimeout = time.Second
	start := time.Now()
	val, err := newEnv(a).ExecuteActivity(activities.CheckBackup, activities.CheckBackupRequest{
		Path: "plans[0].backup", Source: snapshottest.WriteTree(t, sourceTree),
		Ref: repository.Ref{Repository: "s3://backups/nas", PasswordEnv: passwordEnv,
			S3: &repository.S3{Endpoint: l.Addr().String(), DisableTLS: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.CheckBackupResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || !strings.HasPrefix(res.Problems[0], "plans[0].backup.repository: ") || !strings.Contains(res.Problems[0], l.Addr().String()) {
		t.Errorf("problems %q: want one of the repository, naming %s", res.Problems, l.Addr())
	}
	// Not a speed check: without CheckTimeout it would take the storage's
	// own 30-second bound on a first contact.
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the check took %v: CheckTimeout (1s) did not bound it", took)
	}
}
