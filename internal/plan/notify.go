package plan

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"text/template"
)

// Notify is one target of a plan's notifications (notify: in a plan).
//
// It travels in workflow history as JSON: add fields, never rename or
// retype one.
type Notify struct {
	// URL is a shoutrrr service URL (slack://..., discord://...,
	// generic+https://host/path for a webhook, ...) or, with kind
	// healthchecks, a check's ping URL. Secrets in it are ${NAME}
	// references to the worker's environment.
	URL string `yaml:"url" json:"url"`
	// Kind is shoutrrr (the default) or healthchecks.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Events are the events sent (default DefaultNotifyEvents); a
	// healthchecks target is pinged at every run's start and end instead.
	Events []string `yaml:"events,omitempty" json:"events,omitempty"`
	// Template renders the message (Go text/template over the event: .Name,
	// .Plan, .Kind, .Host, .Time, .Error, .Detail, .NextRun; the first line
	// is the title); empty for the default.
	Template string `yaml:"template,omitempty" json:"template,omitempty"`
}

// Notification kinds.
const (
	NotifyShoutrrr     = "shoutrrr"
	NotifyHealthchecks = "healthchecks"
)

// Notification events.
const (
	EventFailed          = "failed"
	EventRecovered       = "recovered"
	EventOverdue         = "overdue"
	EventCircuitOpen     = "circuit-open"
	EventPaused          = "paused"
	EventUnpaused        = "unpaused"
	EventVerifyFailed    = "verify-failed"
	EventRestoreFinished = "restore-finished"
)

// Events steward sends that no target names: every run's start and end,
// to healthchecks targets, and the message of `steward notify test`.
const (
	EventRunStarted   = "run-started"
	EventRunSucceeded = "run-succeeded"
	EventRunFailed    = "run-failed"
	EventTest         = "test"
)

// NotifyEvents lists the events a target may name.
var NotifyEvents = []string{EventFailed, EventRecovered, EventOverdue, EventCircuitOpen, EventPaused,
	EventUnpaused, EventVerifyFailed, EventRestoreFinished}

// DefaultNotifyEvents are the events of a target that names none.
var DefaultNotifyEvents = []string{EventFailed, EventRecovered, EventOverdue, EventCircuitOpen, EventVerifyFailed}

// Wants reports whether target n takes event e.
func (n Notify) Wants(e string) bool {
	if n.Kind == NotifyHealthchecks {
		return false
	}
	if len(n.Events) == 0 {
		return slices.Contains(DefaultNotifyEvents, e)
	}
	return slices.Contains(n.Events, e)
}

// validateNotify checks the plan's notification targets; that a URL names
// a service shoutrrr knows is checked at apply, on the plan's host.
func validateNotify(prefix string, ns []Notify) Errors {
	var es Errors
	for i, n := range ns {
		p := fmt.Sprintf("%s.notify[%d]", prefix, i)
		add := func(field, format string, args ...any) {
			es = append(es, FieldError{p + "." + field, fmt.Sprintf(format, args...)})
		}
		switch n.Kind {
		case "", NotifyShoutrrr, NotifyHealthchecks:
		default:
			add("kind", "unknown kind %q (want shoutrrr or healthchecks)", n.Kind)
		}
		es = append(es, validateNotifyURL(p+".url", n)...)
		seen := map[string]bool{}
		for j, e := range n.Events {
			switch {
			case !slices.Contains(NotifyEvents, e):
				add(fmt.Sprintf("events[%d]", j), "unknown event %q (want one of %s)", e, strings.Join(NotifyEvents, ", "))
			case seen[e]:
				add(fmt.Sprintf("events[%d]", j), "%q is listed twice", e)
			}
			seen[e] = true
		}
		if n.Kind == NotifyHealthchecks && len(n.Events) > 0 {
			add("events", "a healthchecks target is pinged at every run's start and end; it takes no events")
		}
		if n.Template != "" {
			if _, err := template.New("message").Parse(n.Template); err != nil {
				add("template", "%v", err)
			}
		}
	}
	return es
}

func validateNotifyURL(field string, n Notify) Errors {
	var es Errors
	add := func(format string, args ...any) { es = append(es, FieldError{field, fmt.Sprintf(format, args...)}) }
	if n.URL == "" {
		add("is required")
		return es
	}
	refs := envRefPattern.FindAllStringSubmatch(n.URL, -1)
	for _, r := range refs {
		if !envNamePattern.MatchString(r[1]) {
			add("${%s} is not an environment variable reference (like ${SLACK_TOKEN})", r[1])
		}
	}
	if strings.Count(n.URL, "${") != len(refs) {
		add("unterminated ${ (write ${NAME})")
	}
	// Check the shape with references replaced by a placeholder.
	u, err := url.Parse(envRefPattern.ReplaceAllString(n.URL, "x"))
	switch {
	case err != nil || u.Scheme == "":
		add("%q is not a URL like slack://${SLACK_TOKEN}@channel or generic+https://host/path", redactURL(n.URL))
	case n.Kind == NotifyHealthchecks && u.Scheme != "http" && u.Scheme != "https":
		add("a healthchecks URL is an http(s) URL like https://hc-ping.com/${HC_UUID}")
	case u.User != nil && len(refs) == 0:
		add("%q holds a credential: it would be written into workflow history; reference an environment variable of the workers instead, like slack://${SLACK_TOKEN}@channel", redactURL(n.URL))
	}
	return es
}

// redactURL hides a URL's user information.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("***")
		return u.String()
	}
	return s
}
