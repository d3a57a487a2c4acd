package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// backupPlanYAML is a plan file with one backup plan.
func backupPlanYAML(id, every, source, repo, passwordEnv string) string {
	return fmt.Sprintf(`plans:
  - id: %s
    kind: backup
    schedule: {every: %s}
    retry:
      activity: {initial: 1s, max_interval: 5s, max_attempts: 3}
    backup:
      source: %s
      exclude: ["*.tmp", ".cache/"]
      repository: %s
      password_env: %s
`, id, every, source, repo, passwordEnv)
}

// newBackupDirs makes a source tree (with files the plan excludes) and the
// path of a repository that does not exist yet.
func newBackupDirs(t *testing.T, s *stack) (src, repo string) {
	t.Helper()
	src = filepath.Join(s.dir, "data")
	writeTree(t, src, map[string]string{
		"a.txt":            "alpha\n",
		"docs/b.md":        strings.Repeat("bravo ", 1000),
		"docs/deep/c.bin":  string([]byte{0, 1, 2, 3, 255}),
		"scratch.tmp":      "excluded",
		".cache/blob":      "excluded",
		"docs/.cache/blob": "excluded too",
	})
	return src, filepath.Join(s.dir, "repo")
}

// TestApplyRejectsBadPlansAndAppliesNothing feeds `steward plan apply` the
// bad inputs a user is likely to write; each gets an error naming the field,
// and no plan is created.
func TestApplyRejectsBadPlansAndAppliesNothing(t *testing.T) {
	s := newStack(t, "STEWARD_E2E_PASSWORD=secret")
	s.start()
	src, repo := newBackupDirs(t, s)
	good := backupPlanYAML("good", "10s", src, repo, "STEWARD_E2E_PASSWORD")
	// Every bad file also lists a good plan, which must not be applied.
	cases := []struct {
		name, plans, want string
	}{
		{"unknown kind", strings.Replace(backupPlanYAML("bad", "10s", src, repo, "STEWARD_E2E_PASSWORD"), "kind: backup", "kind: backpu", 1),
			`plans[1].kind: unknown kind "backpu"`},
		{"invalid cron", strings.Replace(backupPlanYAML("bad", "10s", src, repo, "STEWARD_E2E_PASSWORD"), "{every: 10s}", `{cron: "0 0 32 * *"}`, 1),
			`plans[1].schedule.cron: "0 0 32 * *": end of range (32) above maximum (31)`},
		{"negative duration", backupPlanYAML("bad", "-10s", src, repo, "STEWARD_E2E_PASSWORD"),
			"plans[1].schedule.every: -10s: must be positive"},
		{"unparsable duration", backupPlanYAML("bad", "often", src, repo, "STEWARD_E2E_PASSWORD"),
			`"often" is not a duration`},
		{"duplicate plan id", backupPlanYAML("good", "10s", src, repo, "STEWARD_E2E_PASSWORD"),
			`plans[1].id: "good" is already used by plans[0]`},
		{"missing source directory", backupPlanYAML("bad", "10s", filepath.Join(s.dir, "nope"), repo, "STEWARD_E2E_PASSWORD"),
			"plans[1].backup.source: " + filepath.Join(s.dir, "nope")},
		{"missing password variable", backupPlanYAML("bad", "10s", src, repo, "STEWARD_E2E_UNSET"),
			"plans[1].backup.password_env: "},
		{"unknown keep rule", strings.Replace(backupPlanYAML("bad", "10s", src, repo, "STEWARD_E2E_PASSWORD"), "      exclude:", "      keep: {dayly: 7}\n      exclude:", 1),
			"field dayly not found"},
		{"negative keep count", strings.Replace(backupPlanYAML("bad", "10s", src, repo, "STEWARD_E2E_PASSWORD"), "      exclude:", "      keep: {last: -1}\n      exclude:", 1),
			"plans[1].backup.keep.last: -1: must be zero or positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.TrimPrefix(tc.plans, "plans:\n")
			file := s.writePlans(good + body)
			out, err := s.steward("plan", "apply", "-f", file)
			if err == nil {
				t.Fatalf("apply succeeded:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("apply output:\n%s\nwant it to contain %q", out, tc.want)
			}
			if !strings.Contains(out, "nothing was applied") {
				t.Errorf("apply output does not say nothing was applied:\n%s", out)
			}
			if ls := s.mustSteward("plan", "ls"); !strings.Contains(ls, "no plans") {
				t.Fatalf("a plan was applied after all:\n%s", ls)
			}
		})
	}
	if _, err := os.Stat(repo); !os.IsNotExist(err) {
		t.Fatalf("a rejected apply touched the repository path: %v", err)
	}
}
