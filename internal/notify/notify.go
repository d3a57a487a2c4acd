// Package notify delivers steward's notifications: shoutrrr service URLs
// (Slack, Discord, Telegram, e-mail, ntfy, Gotify, a generic webhook, ...)
// and healthchecks.io-style pings, with messages from Go templates. It
// knows nothing of Temporal: an activity calls it with what happened.
//
// Target URLs hold secrets only as ${NAME} references; Send resolves them
// on the worker and keeps their values out of every error it returns.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"

	"github.com/steward-ops/steward/internal/envref"
	"github.com/steward-ops/steward/internal/plan"
)

// Event is what happened, the data of a message's template.
type Event struct {
	Name string    `json:"name"`
	Plan string    `json:"plan"`
	Kind string    `json:"kind"`
	Host string    `json:"host,omitempty"`
	Time time.Time `json:"time"`
	// Error is the error of a failure, Detail more words on the event.
	Error   string     `json:"error,omitempty"`
	Detail  string     `json:"detail,omitempty"`
	NextRun *time.Time `json:"next_run,omitempty"`
}

// Message is a rendered notification.
type Message struct{ Title, Body string }

// defaultTemplate renders every event unless a target has its own: the
// first line is the title.
const defaultTemplate = `steward: {{.Plan}} {{.Name}}{{if .Host}} on {{.Host}}{{end}}
{{- with .Error}}
error: {{.}}{{end}}
{{- with .Detail}}
{{.}}{{end}}
{{- with .NextRun}}
next run: {{.UTC.Format "2006-01-02 15:04 UTC"}}{{end}}
at {{.Time.UTC.Format "2006-01-02 15:04:05 UTC"}}`

// ParseTemplate parses a target's template (text/template; the data is an
// Event, the first line of the output the title).
func ParseTemplate(text string) (*template.Template, error) {
	if text == "" {
		text = defaultTemplate
	}
	return template.New("message").Option("missingkey=error").Parse(text)
}

// Render renders ev with the template text ("" for the default).
func Render(text string, ev Event) (Message, error) {
	t, err := ParseTemplate(text)
	if err != nil {
		return Message{}, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, ev); err != nil {
		return Message{}, fmt.Errorf("template: %w", err)
	}
	title, body, _ := strings.Cut(strings.TrimSpace(b.String()), "\n")
	return Message{Title: title, Body: strings.TrimSpace(body)}, nil
}

// Target is where notifications go.
type Target struct {
	URL  string `json:"url"`
	Kind string `json:"kind,omitempty"`
	// Template renders the message ("" for the default).
	Template string `json:"template,omitempty"`
}

// Sender delivers notifications.
type Sender struct {
	// LookupEnv resolves ${NAME} references in URLs.
	LookupEnv func(string) (string, bool)
	// HTTP pings healthchecks targets.
	HTTP *http.Client
}

// ErrTarget marks an error in a target itself (a URL that is not a
// service shoutrrr knows, an unset variable): retrying does not help.
var ErrTarget = errors.New("bad notification target")

// resolve expands t's URL; the secrets it put in come back for Redact.
func (s *Sender) resolve(t Target) (string, []string, error) {
	u, secrets, err := envref.Expand(t.URL, s.LookupEnv)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrTarget, err)
	}
	return u, secrets, nil
}

// Check resolves t and checks that its service accepts its URL, sending
// nothing.
func (s *Sender) Check(t Target) error {
	u, secrets, err := s.resolve(t)
	if err != nil {
		return err
	}
	if t.Kind == plan.NotifyHealthchecks {
		return checkHTTPURL(u, secrets)
	}
	if _, err := (&router.ServiceRouter{}).Locate(u); err != nil {
		return fmt.Errorf("%w: %s", ErrTarget, envref.Redact(err.Error(), secrets))
	}
	return nil
}

func checkHTTPURL(u string, secrets []string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%w: a healthchecks URL is an http(s) URL like https://hc-ping.com/<uuid>, not %q",
			ErrTarget, envref.Redact(u, secrets))
	}
	return nil
}

// Send delivers ev, rendered with t's template, to t. Cancelling ctx
// abandons the delivery. No error holds a secret of t's URL.
func (s *Sender) Send(ctx context.Context, t Target, ev Event) error {
	m, err := Render(t.Template, ev)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTarget, err)
	}
	u, secrets, err := s.resolve(t)
	if err != nil {
		return err
	}
	if t.Kind == plan.NotifyHealthchecks {
		err = s.ping(ctx, u, secrets, ev, m)
	} else {
		err = sendShoutrrr(ctx, u, m)
	}
	if err != nil {
		return errors.New(envref.Redact(err.Error(), secrets))
	}
	return nil
}

// sendShoutrrr sends m through the shoutrrr service of u. Some services
// take no context, so the send runs apart and ctx bounds the wait.
func sendShoutrrr(ctx context.Context, u string, m Message) error {
	svc, err := (&router.ServiceRouter{}).Locate(u)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTarget, err)
	}
	params := types.Params{"title": m.Title}
	text := m.Title
	if m.Body != "" {
		text += "\n" + m.Body
	}
	done := make(chan error, 1)
	go func() { done <- svc.Send(text, &params) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// ping sends the healthchecks ping of a run event: URL/start, URL or
// URL/fail, with the message as the body (healthchecks keeps it as the
// ping's log). Other events ping nothing.
func (s *Sender) ping(ctx context.Context, u string, secrets []string, ev Event, m Message) error {
	if err := checkHTTPURL(u, secrets); err != nil {
		return err
	}
	switch ev.Name {
	case plan.EventRunStarted:
		u = strings.TrimSuffix(u, "/") + "/start"
	case plan.EventRunFailed:
		u = strings.TrimSuffix(u, "/") + "/fail"
	case plan.EventRunSucceeded, plan.EventTest:
	default:
		return nil
	}
	body := m.Title
	if m.Body != "" {
		body += "\n" + m.Body
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	c := s.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()                                //nolint:errcheck // read only
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // draining for reuse
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("ping %s: %s", ev.Name, resp.Status)
	}
	return nil
}
