package plan

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/schedule"
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
		{"S3 URL without a bucket", replace("repository: /mnt/backup/repo", "repository: s3:///backups"),
			[]string{"plans[0].backup.repository: s3:///backups names no bucket (want s3://bucket/prefix)"}},
		{"unknown scheme", replace("repository: /mnt/backup/repo", "repository: b2://bucket/x"),
			[]string{"plans[0].backup.repository: b2:// repositories are not supported by this version (want an absolute local path, s3://bucket/prefix, sftp://user@host/path, webdav://host/path or rclone://remote:path)"}},
		{"relative repository", replace("repository: /mnt/backup/repo", "repository: backups"),
			[]string{`plans[0].backup.repository: "backups": must be an absolute path`}},
		{"credentials in an S3 URL", replace("repository: /mnt/backup/repo", "repository: s3://AKIA:hunter2@bucket/x"),
			[]string{"plans[0].backup.repository: s3://bucket/x: give credentials in the plan's s3 section"}},
		{"secret in a URL query", replace("repository: /mnt/backup/repo", "repository: s3://bucket/x?secret=hunter2"),
			[]string{"plans[0].backup.repository: s3://bucket/x: give credentials and options in the plan's s3 section, not in the URL"}},
		{"sftp without a user", replace("repository: /mnt/backup/repo", "repository: sftp://nas/srv/backups\n      sftp: {key_file: /etc/steward/id}"),
			[]string{"plans[0].backup.repository: sftp://nas/srv/backups names no user (want sftp://user@host/path)"}},
		{"sftp without a key or password", replace("repository: /mnt/backup/repo", "repository: sftp://backup@nas/srv/backups"),
			[]string{"plans[0].backup.sftp.key_file: set the SSH key file (or sftp.password_env / sftp.password_file) of an sftp:// repository"}},
		{"sftp password in the URL", replace("repository: /mnt/backup/repo", "repository: sftp://backup:hunter2@nas/srv"),
			[]string{"plans[0].backup.repository: sftp://backup@nas/srv: give the password in the plan's sftp section"}},
		{"s3 section on a local repository", replace("password_env: STEWARD_REPO_PASSWORD", "password_env: STEWARD_REPO_PASSWORD\n      s3: {endpoint: minio:9000}"),
			[]string{"plans[0].backup.s3: is only for a s3:// repository; this one is /mnt/backup/repo"}},
		{"S3 secret given as a value", replace("repository: /mnt/backup/repo", "repository: s3://bucket/x\n      s3: {access_key_id_env: AWS_KEY, secret_access_key_env: \"wJalr/K7MDENG\"}"),
			[]string{`plans[0].backup.s3.secret_access_key_env: "wJalr/K7MDENG" is not an environment variable name (give the variable's name, never its value)`}},
		{"S3 key without its secret", replace("repository: /mnt/backup/repo", "repository: s3://bucket/x\n      s3: {access_key_id_file: /etc/steward/s3-key}"),
			[]string{"plans[0].backup.s3.secret_access_key_env: set it (or secret_access_key_file) with access_key_id_*"}},
		{"S3 endpoint with a scheme", replace("repository: /mnt/backup/repo", "repository: s3://bucket/x\n      s3: {endpoint: \"http://minio:9000\"}"),
			[]string{`plans[0].backup.s3.endpoint: "http://minio:9000": give host[:port] only`}},
		{"S3 secret in two places", replace("repository: /mnt/backup/repo", "repository: s3://bucket/x\n      s3: {access_key_id_env: K, secret_access_key_env: S, secret_access_key_file: /etc/s}"),
			[]string{"plans[0].backup.s3.secret_access_key_file: secret_access_key_env and secret_access_key_file are exclusive: set one"}},
		{"rclone remote set up inline", replace("repository: /mnt/backup/repo", "repository: rclone://:b2,account=id,key=secret:bucket"),
			[]string{"plans[0].backup.repository: rclone://:b2...: set the remote up in rclone's config file (rclone.config_file), not in the location"}},
		{"relative rclone config", replace("repository: /mnt/backup/repo", "repository: rclone://b2:bucket/nas\n      rclone: {config_file: rclone.conf}"),
			[]string{`plans[0].backup.rclone.config_file: "rclone.conf": must be an absolute path`}},
		{"relative known hosts", replace("repository: /mnt/backup/repo", "repository: sftp://backup@nas/srv\n      sftp: {key_file: /etc/steward/id, known_hosts_file: known_hosts}"),
			[]string{`plans[0].backup.sftp.known_hosts_file: "known_hosts": must be an absolute path`}},
		{"negative max attempts", replace("    schedule: {every: 1h}\n", "    schedule: {every: 1h}\n    retry: {activity: {max_attempts: -1}}\n"),
			[]string{"plans[0].retry.activity.max_attempts: -1: must be positive"}},
		{"unknown field", replace("every: 1h", "every: 1h, jiter: 5m"), []string{"field jiter not found"}},
		{"bad window syntax", replace("every: 1h", `every: 1h, windows: ["01:00-06:00", "Mon-Fry 01:00-06:00"]`),
			[]string{`plans[0].schedule.windows[1]: "Mon-Fry 01:00-06:00": unknown day "Fry"`}},
		{"window hour out of range", replace("every: 1h", `every: 1h, windows: ["25:00-26:00"]`),
			[]string{`plans[0].schedule.windows[0]: "25:00-26:00": hour 25 out of range`}},
		{"bad blackout syntax", replace("every: 1h", `every: 1h, blackout: ["Sat 00:00-23:60"]`),
			[]string{`plans[0].schedule.blackout[0]: "Sat 00:00-23:60": minute 60 out of range`}},
		{"empty window", replace("every: 1h", `every: 1h, windows: ["Sat 03:00-03:00"]`),
			[]string{`plans[0].schedule.windows[0]: "Sat 03:00-03:00": start and end are both 03:00: the window is empty`}},
		{"blackout covering every window", replace("every: 1h", `every: 1h, windows: ["Mon-Fri 01:00-06:00"], blackout: ["Mon-Fri 00:00-24:00"]`),
			[]string{"plans[0].schedule.blackout: contradictory options: the blackout covers every window, so no run could ever start"}},
		{"blackout covering the week", replace("every: 1h", `every: 1h, blackout: ["Mon-Sun 00:00-24:00"]`),
			[]string{"plans[0].schedule.blackout: contradictory options: the blackout covers the whole week"}},
		{"catchup_max 0", replace("every: 1h", "every: 1h, catchup: all, catchup_max: 0"),
			[]string{"plans[0].schedule.catchup_max: 0: must be at least 1 (to run no missed fire times, use catchup: skip)"}},
		{"catchup_max above 100", replace("every: 1h", "every: 1h, catchup: all, catchup_max: 500"),
			[]string{"plans[0].schedule.catchup_max: 500: must be at most 100"}},
		{"catchup_max without catchup all", replace("every: 1h", "every: 1h, catchup_max: 5"),
			[]string{`plans[0].schedule.catchup_max: contradictory options: catchup_max applies only to catchup: all, and catchup is "latest"`}},
		{"catchup_max with catchup skip", replace("every: 1h", "every: 1h, catchup: skip, catchup_max: 5"),
			[]string{`plans[0].schedule.catchup_max: contradictory options: catchup_max applies only to catchup: all, and catchup is "skip"`}},
		{"negative catchup_window", replace("every: 1h", "every: 1h, catchup_window: -1h"),
			[]string{"plans[0].schedule.catchup_window: -1h0m0s: must not be negative"}},
		{"unknown catchup", replace("every: 1h", "every: 1h, catchup: some"),
			[]string{`plans[0].schedule.catchup: unknown catchup "some" (want skip, latest or all)`}},
		{"unknown overlap", replace("every: 1h", "every: 1h, overlap: queue"),
			[]string{`plans[0].schedule.overlap: unknown overlap "queue" (want skip or buffer-one)`}},
		{"negative jitter", replace("every: 1h", "every: 1h, jitter: -5m"),
			[]string{"plans[0].schedule.jitter: -5m0s: must not be negative"}},
		{"jitter as long as every", replace("every: 1h", "every: 1h, jitter: 1h"),
			[]string{"plans[0].schedule.jitter: 1h0m0s: must be shorter than every (1h0m0s)"}},
		{"deadline shorter than every", replace("every: 1h", "every: 1h, deadline: 30m"),
			[]string{"plans[0].schedule.deadline: 30m0s: shorter than every (1h0m0s): the plan would always be stale"}},
		{"negative deadline", replace("every: 1h", "every: 1h, deadline: -1h"),
			[]string{"plans[0].schedule.deadline: -1h0m0s: must not be negative"}},
		{"jitter without a unit", replace("every: 1h", "every: 1h, jitter: 300"), []string{`"300" is not a duration`}},
		{"host time zone", replace("every: 1h", "every: 1h, timezone: Local"),
			[]string{`plans[0].schedule.timezone: "Local": name an IANA zone`}},
		{"CRON_TZ without a schedule", replace(`"CRON_TZ=Europe/Berlin 0 3 * * *"`, `"CRON_TZ=Europe/Berlin"`),
			[]string{`plans[1].schedule.cron: "CRON_TZ=Europe/Berlin": CRON_TZ=Europe/Berlin: want a schedule after the time zone`}},
		{"preheat without its section", replace("kind: backup", "kind: preheat"),
			[]string{"plans[0].preheat: is required for kind preheat", "plans[0].backup: is only valid for kind backup"}},
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

const full = `
plans:
  - id: home
    kind: backup
    schedule:
      every: 1h
      timezone: Europe/Berlin
      anchor: last-success
      jitter: 5m
      windows: ["Mon-Fri 01:00-06:00", "Sat,Sun 00:00-24:00"]
      blackout: ["Sat 00:00-06:00"]
      catchup: all
      catchup_window: 24h
      catchup_max: 3
      overlap: buffer-one
      deadline: 36h
    backup: {source: /home/alice, repository: /mnt/backup/repo, password_env: PW}
`

func TestScheduleFields(t *testing.T) {
	f, err := Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	p := f.Plans[0]
	spec := p.ScheduleSpec()
	if spec.Jitter != 5*time.Minute || len(spec.Windows) != 2 || spec.Windows[1] != "Sat,Sun 00:00-24:00" ||
		len(spec.Blackout) != 1 || spec.Timezone != "Europe/Berlin" || spec.Anchor != schedule.AnchorLastSuccess {
		t.Errorf("ScheduleSpec = %+v", spec)
	}
	if _, err := schedule.New(spec); err != nil {
		t.Errorf("schedule.New(ScheduleSpec()): %v", err)
	}
	want := schedule.CatchUp{Policy: schedule.PolicyAll, Window: 24 * time.Hour, Max: 3}
	if got := p.CatchUp(); got != want {
		t.Errorf("CatchUp = %+v, want %+v", got, want)
	}
	if p.Schedule.Overlap != OverlapBufferOne || p.Schedule.Deadline.D() != 36*time.Hour {
		t.Errorf("schedule = %+v", p.Schedule)
	}

	// JSON travels in workflow history: snake_case, and it round-trips.
	b, err := json.Marshal(p.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"every":"1h0m0s","timezone":"Europe/Berlin","anchor":"last-success","jitter":"5m0s",` +
		`"windows":["Mon-Fri 01:00-06:00","Sat,Sun 00:00-24:00"],"blackout":["Sat 00:00-06:00"],"catchup":"all",` +
		`"catchup_window":"24h0m0s","catchup_max":3,"overlap":"buffer-one","deadline":"36h0m0s"}`
	if string(b) != wantJSON {
		t.Errorf("JSON:\n got %s\nwant %s", b, wantJSON)
	}
	var back Schedule
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, p.Schedule) {
		t.Errorf("JSON round trip = %+v, %v", back, err)
	}
}

func TestScheduleDefaults(t *testing.T) {
	f, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Plans[0].Schedule
	if s.CatchUp != "latest" || s.CatchUpWindow.D() != 8760*time.Hour || s.CatchUpMax != nil ||
		s.Overlap != "skip" || s.Deadline != 0 || s.Jitter != 0 {
		t.Errorf("defaults = %+v", s)
	}
	want := schedule.CatchUp{Policy: schedule.PolicyLatest, Window: 8760 * time.Hour, Max: 10}
	if got := f.Plans[0].CatchUp(); got != want {
		t.Errorf("CatchUp = %+v, want %+v", got, want)
	}
	// catchup: all gets catchup_max 10.
	f, err = Parse([]byte(replace("every: 1h", "every: 1h, catchup: all")))
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Plans[0].Schedule.CatchUpMax; m == nil || *m != 10 {
		t.Errorf("catchup_max = %v, want 10", m)
	}
	// A spec recorded before these fields existed (decoded from workflow
	// history, no defaults applied) still validates and catches up as
	// the defaults say.
	var old Plan
	if err := json.Unmarshal([]byte(`{"id":"home","kind":"backup","schedule":{"every":"1h0m0s","timezone":"UTC","anchor":"wall"},`+
		`"retry":{"activity":{"initial":"10s","backoff":2,"max_interval":"5m0s","max_attempts":5}},`+
		`"backup":{"source":"/home/alice","repository":"/mnt/r","password_env":"PW"}}`), &old); err != nil {
		t.Fatal(err)
	}
	if err := old.Validate(); err != nil {
		t.Errorf("old spec: %v", err)
	}
	if got := old.CatchUp(); got != want {
		t.Errorf("old spec CatchUp = %+v, want %+v", got, want)
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
