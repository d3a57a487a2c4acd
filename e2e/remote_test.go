package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// Secrets of the remote repositories' plans: they reach the worker through
// its environment and a file, and must never be seen anywhere else.
const (
	s3KeyCanary    = "AKIA-canary-4c1d"
	s3SecretCanary = "s3-secret-canary-9f2e"
	sftpPwCanary   = "sftp-password-canary-77ab"
)

// Backups to an S3 server and to an SFTP server on loopback, each restored
// byte-identical through the product path. The plans reference every
// credential; afterwards no secret is in any workflow history, in the
// server's database, in the worker's log or in the CLI's output. Bad
// remote settings are refused at apply, on the plan's host, naming the
// field.
func TestRemoteRepositoriesBackupAndRestore(t *testing.T) {
	t.Parallel()
	endpoint := snapshottest.S3Server(t, "backups")
	ssh := snapshottest.SFTPServer(t)
	ssh.Password = sftpPwCanary
	secrets := t.TempDir()
	sftpPwFile := filepath.Join(secrets, "sftp-password")
	if err := os.WriteFile(sftpPwFile, []byte(sftpPwCanary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword, "E2E_S3_KEY="+s3KeyCanary, "E2E_S3_SECRET="+s3SecretCanary)
	s.start()
	src, _ := newBackupDirs(t, s)
	sftpRepo := filepath.Join(s.dir, "sftp-served", "repo")
	if err := os.MkdirAll(filepath.Dir(sftpRepo), 0o755); err != nil {
		t.Fatal(err)
	}
	plans := fmt.Sprintf(`plans:
  - id: offsite-s3
    kind: backup
    schedule: {every: 24h}
    retry: {activity: {initial: 1s, max_interval: 5s, max_attempts: 3}}
    backup:
      source: %[1]s
      exclude: ["*.tmp", ".cache/"]
      repository: s3://backups/hosts/e2e
      password_env: STEWARD_E2E_PASSWORD
      s3: {endpoint: %[2]q, disable_tls: true, access_key_id_env: E2E_S3_KEY, secret_access_key_env: E2E_S3_SECRET}
  - id: offsite-sftp
    kind: backup
    schedule: {every: 24h}
    retry: {activity: {initial: 1s, max_interval: 5s, max_attempts: 3}}
    backup:
      source: %[1]s
      exclude: ["*.tmp", ".cache/"]
      repository: %[3]s
      password_env: STEWARD_E2E_PASSWORD
      sftp: {password_file: %[4]s, known_hosts_file: %[5]s}
`, src, endpoint, ssh.URL(sftpRepo), sftpPwFile, ssh.KnownHostsFile)
	var outputs strings.Builder
	run := func(args ...string) string {
		out := s.mustSteward(args...)
		outputs.WriteString(out)
		return out
	}
	run("plan", "apply", "-f", s.writePlans(plans))
	want := treeSums(t, src, excludedByPlan)
	for _, id := range []string{"offsite-s3", "offsite-sftp"} {
		run("trigger", id, "--wait")
		target := filepath.Join(s.dir, "restored-"+id)
		run("restore", id, "--target", target, "--wait")
		sameSums(t, id, treeSums(t, target, nil), want)
	}
	if _, err := os.Stat(filepath.Join(sftpRepo, "kopia.repository.f")); err != nil {
		t.Errorf("the sftp repository is not where the plan put it: %v", err)
	}
	if ssh.Logins() == 0 {
		t.Error("the SFTP server saw no login")
	}

	// Bad remote settings, refused at apply with the field named; the
	// applied plans stay as they were.
	for _, tc := range []struct{ name, edit, want string }{
		{"unset credential variable", "access_key_id_env: E2E_S3_KEY", "access_key_id_env: E2E_S3_UNSET"},
		{"unreachable endpoint", fmt.Sprintf("endpoint: %q", endpoint), fmt.Sprintf("endpoint: \"127.0.0.1:%d\"", freePort(t))},
		{"URL without a bucket", "repository: s3://backups/hosts/e2e", "repository: s3:///hosts/e2e"},
		{"unknown scheme", "repository: s3://backups/hosts/e2e", "repository: azure://backups/hosts/e2e"},
	} {
		bad := strings.Replace(plans, tc.edit, tc.want, 1)
		out, err := s.steward("plan", "apply", "-f", s.writePlans(bad))
		outputs.WriteString(out)
		wants := map[string][]string{
			"unset credential variable": {"plans[0].backup.s3.access_key_id_env: environment variable E2E_S3_UNSET is not set on host e2e"},
			"unreachable endpoint":      {"plans[0].backup.repository:", strings.Trim(strings.TrimPrefix(tc.want, "endpoint: "), `"`)},
			"URL without a bucket":      {"plans[0].backup.repository: s3:///hosts/e2e names no bucket (want s3://bucket/prefix)"},
			"unknown scheme":            {"plans[0].backup.repository: azure:// repositories are not supported by this version"},
		}[tc.name]
		if err == nil {
			t.Errorf("%s: apply succeeded:\n%s", tc.name, out)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s: apply said:\n%s\nwant it to contain %q", tc.name, out, w)
			}
		}
	}
	if out := run("plan", "apply", "-f", s.writePlans(plans), "--dry-run"); !strings.Contains(out, "0 created, 0 updated") {
		t.Errorf("a refused apply changed the plans:\n%s", out)
	}

	// The canary: no secret anywhere Temporal or steward keeps or prints
	// things. The histories are read through the API, and the database's
	// files byte by byte (compressed payloads aside, SQLite stores them as
	// they came).
	canaries := []string{s3KeyCanary, s3SecretCanary, sftpPwCanary, e2ePassword}
	seen := map[string]string{"worker log": s.out.String(), "steward output": outputs.String(), "histories": histories(t, s)}
	dbs, _ := filepath.Glob(s.db + "*")
	for _, f := range dbs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seen[filepath.Base(f)] = string(b)
	}
	if !strings.Contains(seen["histories"], "E2E_S3_SECRET") || !strings.Contains(seen["histories"], sftpPwFile) {
		t.Fatal("the histories do not hold the plans' references: the canary would prove nothing")
	}
	for where, text := range seen {
		for _, c := range canaries {
			if strings.Contains(text, c) {
				t.Errorf("the secret %q is in the %s", c, where)
			}
		}
	}
}

var payloadData = regexp.MustCompile(`"data":"([A-Za-z0-9+/=]+)"`)

// histories returns every workflow history of the stack's namespace as
// JSON, one after another, with every payload also decoded.
func histories(t *testing.T, s *stack) string {
	t.Helper()
	c := s.client()
	var all bytes.Buffer
	var token []byte
	for {
		resp, err := c.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", NextPageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.Executions {
			it := c.GetWorkflowHistory(t.Context(), e.Execution.WorkflowId, e.Execution.RunId, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					t.Fatal(err)
				}
				b, err := protojson.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				all.Write(b)
				// Payloads are base64 in JSON: add them decoded.
				for _, m := range payloadData.FindAllSubmatch(b, -1) {
					if d, err := base64.StdEncoding.DecodeString(string(m[1])); err == nil {
						all.Write(d)
					}
				}
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return all.String()
		}
	}
}

// A worker keeps a plan's repository open between runs. It stays correct
// when another process writes to the repository meanwhile (the kopia CLI
// takes a snapshot and deletes one of steward's), and when the password
// file changes (a wrong password fails the run; after the kopia CLI
// changes the repository's password, the new one works).
func TestOpenRepositoryReuseStaysCorrect(t *testing.T) {
	t.Parallel()
	needKopia(t)
	s := newStack(t)
	s.start()
	src, repo := newBackupDirs(t, s)
	pwFile := filepath.Join(s.dir, "repo-password")
	setPassword := func(pw string) {
		if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setPassword(e2ePassword)
	plan := strings.Replace(backupPlanYAML("home", "24h", src, repo, "X"), "password_env: X", "password_file: "+pwFile, 1)
	s.mustSteward("plan", "apply", "-f", s.writePlans(plan))
	s.mustSteward("trigger", "home", "--wait")
	first := stewardSnapshots(t, s, "home")
	if len(first) != 1 {
		t.Fatalf("snapshots after the first run: %+v", first)
	}

	k := connectKopia(t, repo, e2ePassword)
	kopia := k.run
	other := filepath.Join(s.dir, "other")
	writeTree(t, other, map[string]string{"x.txt": "written by the kopia CLI\n"})
	kopia("snapshot", "create", other, "--no-progress")
	kopia("snapshot", "delete", first[0].ID, "--delete")

	// The open repository sees the deletion, and the next run works.
	if got := stewardSnapshots(t, s, "home"); len(got) != 0 {
		t.Fatalf("steward still lists a snapshot the kopia CLI deleted: %+v", got)
	}
	s.mustSteward("trigger", "home", "--wait")
	second := stewardSnapshots(t, s, "home")
	if len(second) != 1 {
		t.Fatalf("snapshots after the second run: %+v", second)
	}
	target := filepath.Join(s.dir, "restored")
	s.mustSteward("restore", "home", "--target", target, "--wait")
	sameSums(t, "restore from the reused repository", treeSums(t, target, nil), treeSums(t, src, excludedByPlan))
	if out := kopia("snapshot", "list", other); !strings.Contains(out, "1 files") && !strings.Contains(out, "files:1") && !strings.Contains(out, other) {
		t.Errorf("the kopia CLI's own snapshot is gone:\n%s", out)
	}

	// A wrong password in the file fails the run, although the repository
	// is open with the right one.
	setPassword("not the password")
	out, err := s.steward("trigger", "home", "--wait")
	if err == nil || !strings.Contains(out, "password") {
		t.Fatalf("a run with a wrong password file: %v\n%s", err, out)
	}
	// The kopia CLI changes the repository's password; the file follows.
	kopia("repository", "change-password", "--new-password", "a new passphrase")
	k.password = "a new passphrase"
	setPassword("a new passphrase")
	s.mustSteward("trigger", "home", "--wait")
	if got := stewardSnapshots(t, s, "home"); len(got) != 2 {
		t.Fatalf("snapshots after the password change: %+v", got)
	}
}

// stewardSnapshots lists a plan's snapshots with `steward snapshots ls`.
func stewardSnapshots(t *testing.T, s *stack, id string) []activities.SnapshotDecision {
	t.Helper()
	var res activities.ForgetResult
	out := s.mustSteward("snapshots", "ls", id, "-o", "json")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	return res.Snapshots
}
