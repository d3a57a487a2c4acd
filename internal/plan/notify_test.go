package plan

import (
	"strings"
	"testing"
)

const notifyPlan = `
plans:
  - id: home
    kind: backup
    schedule: {every: 1h}
    backup: {source: /home/alice, repository: /mnt/backup/repo, password_env: PW}
    notify:
      - {url: "slack://${SLACK_TOKEN}@backups", events: [failed, recovered, paused]}
      - {url: "https://hc-ping.com/${HC_UUID}", kind: healthchecks}
      - url: "generic+https://hooks.example/steward"
        template: "{{.Plan}}: {{.Name}}"
`

func TestNotifyParses(t *testing.T) {
	f, err := Parse([]byte(notifyPlan))
	if err != nil {
		t.Fatal(err)
	}
	ns := f.Plans[0].Notify
	if len(ns) != 3 || ns[1].Kind != NotifyHealthchecks || ns[2].Template == "" {
		t.Fatalf("notify = %+v", ns)
	}
	for _, c := range []struct {
		n     int
		event string
		want  bool
	}{
		{0, EventFailed, true}, {0, EventPaused, true}, {0, EventOverdue, false},
		{1, EventFailed, false},                          // healthchecks: run pings only
		{2, EventOverdue, true}, {2, EventPaused, false}, // the default events
	} {
		if got := ns[c.n].Wants(c.event); got != c.want {
			t.Errorf("notify[%d].Wants(%s) = %v, want %v", c.n, c.event, got, c.want)
		}
	}
}

func TestNotifyBadInput(t *testing.T) {
	for _, c := range []struct{ name, from, to, want string }{
		{"unknown event", "failed, recovered, paused", "failed, exploded",
			`plans[0].notify[0].events[1]: unknown event "exploded" (want one of failed, recovered, overdue, circuit-open, paused, unpaused, verify-failed, restore-finished)`},
		{"event twice", "failed, recovered, paused", "failed, failed", `plans[0].notify[0].events[1]: "failed" is listed twice`},
		{"template that does not parse", `"{{.Plan}}: {{.Name}}"`, `"{{.Plan"`, "plans[0].notify[2].template: template: message:1: unclosed action"},
		{"unknown kind", "kind: healthchecks", "kind: pager", `plans[0].notify[1].kind: unknown kind "pager" (want shoutrrr or healthchecks)`},
		{"healthchecks not http", "https://hc-ping.com/${HC_UUID}", "ftp://hc-ping.com/${HC_UUID}", "plans[0].notify[1].url: a healthchecks URL is an http(s) URL"},
		{"healthchecks with events", "kind: healthchecks}", "kind: healthchecks, events: [failed]}", "plans[0].notify[1].events: a healthchecks target is pinged"},
		{"literal credential", "slack://${SLACK_TOKEN}@backups", "slack://xoxb-123-456@backups",
			`plans[0].notify[0].url: "slack://%2A%2A%2A@backups" holds a credential`},
		{"not a URL", "generic+https://hooks.example/steward", "hooks.example/steward", "plans[0].notify[2].url: \"hooks.example/steward\" is not a URL"},
		{"bad reference", "${SLACK_TOKEN}", "${SLACK-TOKEN}", "plans[0].notify[0].url: ${SLACK-TOKEN} is not an environment variable reference"},
		{"unterminated reference", "${SLACK_TOKEN}", "${SLACK_TOKEN", "plans[0].notify[0].url: unterminated ${"},
		{"no URL", `url: "generic+https://hooks.example/steward"`, `url: ""`, "plans[0].notify[2].url: is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(notifyPlan, c.from) {
				t.Fatalf("%q is not in the plan", c.from)
			}
			_, err := Parse([]byte(strings.Replace(notifyPlan, c.from, c.to, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %s", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "xoxb-123-456") {
				t.Errorf("the error repeats the credential: %v", err)
			}
		})
	}
}
