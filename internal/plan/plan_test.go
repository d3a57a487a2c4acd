package plan

import (
	"strings"
	"testing"
	"time"
)

const good = `
plans:
  - id: home
    kind: backup
    schedule: {every: 1h}
    backup:
      source: /home/alice
      exclude: ["*.tmp"]
      repository: /mnt/backup/repo
      password_env: STEWARD_REPO_PASSWORD
  - id: nightly
    kind: backup
    schedule: {cron: "CRON_TZ=Europe/Berlin 0 3 * * *"}
    backup: {source: /srv, repository: /mnt/r2, password_file: /etc/steward/pw}
`

func TestParseAppliesDefaults(t *testing.T) {
	f, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Plans) != 2 {
		t.Fatalf("plans = %d", len(f.Plans))
	}
	p := f.Plans[0]
	if p.Schedule.Every.D() != time.Hour || p.Schedule.Anchor != "wall" || p.Schedule.Timezone != "UTC" {
		t.Errorf("schedule = %+v", p.Schedule)
	}
	if p.Retry.Activity != DefaultActivityRetry {
		t.Errorf("retry = %+v, want defaults", p.Retry.Activity)
	}
	if WorkflowID(p.ID) != "steward/plan/home" {
		t.Errorf("workflow ID = %s", WorkflowID(p.ID))
	}
}

// replace returns the good file with one line changed.
func replace(old, new string) string {
	if !strings.Contains(good, old) {
		panic("no " + old)
	}
	return strings.Replace(good, old, new, 1)
}

func TestParseRejectsBadInputNamingTheField(t *testing.T) {
	cases := []struct {
		name, file string
		want       []string
	}{
		{"unknown kind", replace("kind: backup", "kind: backpu"),
			[]string{`plans[0].kind: unknown kind "backpu" (want backup or preheat)`}},
		{"missing kind", replace("    kind: backup\n", ""), []string{"plans[0].kind: is required"}},
		{"invalid cron", replace(`0 3 * * *`, `0 25 * * *`),
			[]string{`plans[1].schedule.cron: "CRON_TZ=Europe/Berlin 0 25 * * *": end of range (25) above maximum (23)`}},
		{"cron with too many fields", replace(`0 3 * * *`, `0 0 3 * * * *`), []string{`plans[1].schedule.cron: `, "expected 5 to 6 fields"}},
		{"negative duration", replace("every: 1h", "every: -5m"), []string{"plans[0].schedule.every: -5m0s: must be positive"}},
		{"unparsable duration", replace("every: 1h", "every: an hour"),
			[]string{`"an hour" is not a duration (write it with a unit, like 90s or 1h)`}},
		{"duration without unit", replace("every: 1h", "every: 3600"), []string{`"3600" is not a duration`}},
		{"every below a second", replace("every: 1h", "every: 10ms"), []string{"plans[0].schedule.every: 10ms: must be at least 1s"}},
		{"every and cron", replace("every: 1h", `every: 1h, cron: "@daily"`), []string{"plans[0].schedule.every: every and cron are exclusive"}},
		{"no schedule", replace("    schedule: {every: 1h}\n", ""), []string{"plans[0].schedule: set every"}},
		{"unknown time zone", replace("every: 1h", "every: 1h, timezone: Mars/Olympus"),
			[]string{`plans[0].schedule.timezone: "Mars/Olympus": unknown time zone`}},
		{"unknown anchor", replace("every: 1h", "every: 1h, anchor: lunar"), []string{`plans[0].schedule.anchor: unknown anchor "lunar"`}},
		{"anchor on cron", replace(`"CRON_TZ=Europe/Berlin 0 3 * * *"`, `"@daily", anchor: last-success`),
			[]string{`plans[1].schedule.anchor: "last-success" applies only to every`}},
		{"duplicate id", replace("id: nightly", "id: home"), []string{`plans[1].id: "home" is already used by plans[0]`}},
		{"bad id", replace("id: home", "id: Home_1"), []string{`plans[0].id: "Home_1": use 1 to 63 lowercase`}},
		{"missing source", replace("      source: /home/alice\n", ""), []string{"plans[0].backup.source: is required"}},
		{"relative source", replace("source: /home/alice", "source: alice"), []string{`plans[0].backup.source: "alice": must be an absolute path`}},
		{"no password", replace("      password_env: STEWARD_REPO_PASSWORD\n", ""),
			[]string{"plans[0].backup.password_env: set password_env (an environment variable of the worker) or password_file"}},
		{"password instead of variable", replace("password_env: STEWARD_REPO_PASSWORD", "password_env: hunter2!"),
			[]string{`plans[0].backup.password_env: "hunter2!" is not an environment variable name`}},
		{"repository in source", replace("repository: /mnt/backup/repo", "repository: /home/alice/repo"),
			[]string{"plans[0].backup.repository: \"/home/alice/repo\" is inside the source"}},
		{"remote repository", replace("repository: /mnt/backup/repo", "repository: s3://bucket/x"),
			[]string{"plans[0].backup.repository: \"s3://bucket/x\": only local paths are supported"}},
		{"negative max attempts", replace("    schedule: {every: 1h}\n", "    schedule: {every: 1h}\n    retry: {activity: {max_attempts: -1}}\n"),
			[]string{"plans[0].retry.activity.max_attempts: -1: must be positive"}},
		{"unknown field", replace("every: 1h", "every: 1h, jiter: 5m"), []string{"field jiter not found"}},
		{"preheat not yet", replace("kind: backup", "kind: preheat"), []string{"plans[0].kind: preheat plans are not supported by this version yet"}},
		{"empty file", "", []string{"plans: the file is empty"}},
		{"not YAML", "plans: [", []string{"plans file: yaml:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.file))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", f)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	file := replace("kind: backup", "kind: nope")
	file = strings.Replace(file, `0 3 * * *`, `61 * * * *`, 1)
	_, err := Parse([]byte(file))
	es, ok := err.(Errors)
	if !ok || len(es) != 2 || es[0].Path != "plans[0].kind" || es[1].Path != "plans[1].schedule.cron" {
		t.Fatalf("err = %#v, want the two problems in file order", err)
	}
}

func TestDurationRoundTripsThroughJSON(t *testing.T) {
	d := Duration(90 * time.Second)
	b, err := d.MarshalJSON()
	if err != nil || string(b) != `"1m30s"` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var back Duration
	if err := back.UnmarshalJSON(b); err != nil || back != d {
		t.Fatalf("unmarshal = %v, %v", back, err)
	}
	if err := back.UnmarshalJSON([]byte(`90`)); err == nil {
		t.Fatal("a bare number was accepted as a duration")
	}
}
