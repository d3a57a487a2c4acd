package activities

import "time"

// Notification activities.
const (
	// Notify delivers one event to a plan's targets (or, for a plan with
	// none, to the worker's default targets). It records delivered
	// targets in its heartbeat, so a retry sends only to the others.
	Notify = "Notify"
	// CheckNotify checks at apply, on the plan's host, that each target's
	// URL resolves there and names a service that accepts it.
	CheckNotify = "CheckNotify"
)

// NotifyTarget is one target (plan.Notify without its events).
type NotifyTarget struct {
	URL      string `json:"url"`
	Kind     string `json:"kind,omitempty"`
	Template string `json:"template,omitempty"`
}

// NotifyEvent is what happened.
type NotifyEvent struct {
	Name    string     `json:"name"`
	Plan    string     `json:"plan"`
	Kind    string     `json:"kind"`
	Host    string     `json:"host,omitempty"`
	Time    time.Time  `json:"time"`
	Error   string     `json:"error,omitempty"`
	Detail  string     `json:"detail,omitempty"`
	NextRun *time.Time `json:"next_run,omitempty"`
}

// NotifyRequest asks for Event to be sent to Targets, or with Defaults to
// the worker's default targets.
type NotifyRequest struct {
	Event    NotifyEvent    `json:"event"`
	Targets  []NotifyTarget `json:"targets,omitempty"`
	Defaults bool           `json:"defaults,omitempty"`
}

// NotifyResult says how many targets got the event.
type NotifyResult struct {
	Sent int `json:"sent"`
	// Failed lists the targets that did not, with the reason (their URLs'
	// secrets redacted).
	Failed []string `json:"failed,omitempty"`
}

// CheckNotifyRequest lists the targets of a plan, Path its field path.
type CheckNotifyRequest struct {
	Path    string         `json:"path"`
	Targets []NotifyTarget `json:"targets"`
}

// CheckNotifyResult lists what is wrong with the targets, one line each
// naming its field.
type CheckNotifyResult struct {
	Problems []string `json:"problems,omitempty"`
}
