// Package plan defines steward's plan files: the YAML schema, its defaults and
// its validation. Errors name the field path ("plans[1].schedule.cron: ...").
//
// The package is pure: it reads no files and no environment, so workflows can
// validate specs deterministically. Checks that need the host (does the
// source directory exist, is the password variable set) are made by
// activities on that host.
package plan

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-ops/steward/internal/repository"
	"github.com/steward-ops/steward/internal/schedule"
)

// Kind is what a plan does.
type Kind string

// The plan kinds.
const (
	KindBackup  Kind = "backup"
	KindPreheat Kind = "preheat"
)

// File is a plan file: a list of plans.
type File struct {
	Plans []Plan `yaml:"plans" json:"plans"`
}

// Plan is one backup or preheat plan; it runs as one PlanWorkflow.
type Plan struct {
	ID       string   `yaml:"id" json:"id"`
	Kind     Kind     `yaml:"kind" json:"kind"`
	Host     string   `yaml:"host,omitempty" json:"host,omitempty"`
	Schedule Schedule `yaml:"schedule" json:"schedule"`
	Retry    Retry    `yaml:"retry,omitempty" json:"retry"`
	Backup   *Backup  `yaml:"backup,omitempty" json:"backup,omitempty"`
	Preheat  *Preheat `yaml:"preheat,omitempty" json:"preheat,omitempty"`
	// Preconditions are checked on the plan's host before each run.
	Preconditions []Precondition `yaml:"preconditions,omitempty" json:"preconditions,omitempty"`
	History       History        `yaml:"history,omitempty" json:"history"`
	// Notify lists where the plan's notifications go; without it, the
	// worker's default targets (--notify) get the default events.
	Notify []Notify `yaml:"notify,omitempty" json:"notify,omitempty"`
}

// Schedule says when a plan runs: exactly one of Every and Cron, and when
// its runs may start and catch up.
//
// It travels in workflow history as JSON: add fields, never rename or
// retype one. An empty field means its default, so specs recorded before a
// field existed keep their meaning.
type Schedule struct {
	Every    Duration `yaml:"every,omitempty" json:"every,omitempty"`
	Cron     string   `yaml:"cron,omitempty" json:"cron,omitempty"`
	Timezone string   `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Anchor   string   `yaml:"anchor,omitempty" json:"anchor,omitempty"`

	// Jitter delays each run by a deterministic amount below it, so plans
	// sharing a schedule do not start at once.
	Jitter Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	// Windows, if any, are when runs may start ("Mon-Fri 01:00-06:00");
	// outside them a due run waits.
	Windows []string `yaml:"windows,omitempty" json:"windows,omitempty"`
	// Blackout is when runs never start ("Sat 00:00-24:00").
	Blackout []string `yaml:"blackout,omitempty" json:"blackout,omitempty"`
	// CatchUp handles fire times missed while the plan could not run: skip,
	// latest (the default) or all.
	CatchUp string `yaml:"catchup,omitempty" json:"catchup,omitempty"`
	// CatchUpWindow is how old a missed fire time may be and still be
	// caught up; default a year.
	CatchUpWindow Duration `yaml:"catchup_window,omitempty" json:"catchup_window,omitempty"`
	// CatchUpMax bounds how many missed fire times catchup all runs;
	// default 10. A pointer, so that an explicit 0 is an error, not the
	// default.
	CatchUpMax *int `yaml:"catchup_max,omitempty" json:"catchup_max,omitempty"`
	// Overlap says what happens to a fire time while a run is in flight:
	// skip (the default) or buffer-one.
	Overlap string `yaml:"overlap,omitempty" json:"overlap,omitempty"`
	// Deadline raises the freshness alert when the last success is older;
	// zero means no alert.
	Deadline Duration `yaml:"deadline,omitempty" json:"deadline,omitempty"`
}

// Overlap policies: what happens to a fire time while a run is in flight.
const (
	// OverlapSkip records the fire time as overlap-skipped.
	OverlapSkip = "skip"
	// OverlapBufferOne queues the fire time (one at most) behind the run.
	OverlapBufferOne = "buffer-one"
)

// Schedule defaults and bounds.
const (
	DefaultCatchUp       = schedule.PolicyLatest
	DefaultCatchUpWindow = Duration(8760 * time.Hour) // a year, like Temporal Schedules
	DefaultCatchUpMax    = 10
	MaxCatchUpMax        = 100
	DefaultOverlap       = OverlapSkip
)

// Retry holds a plan's retry policies.
type Retry struct {
	Activity ActivityRetry `yaml:"activity,omitempty" json:"activity"`
	Run      RunRetry      `yaml:"run,omitempty" json:"run"`
	// PauseAfterFailures pauses the plan (a lease with reason
	// circuit-open) after this many consecutive failed runs; 0 is off.
	PauseAfterFailures int `yaml:"pause_after_failures,omitempty" json:"pause_after_failures,omitempty"`
}

// ActivityRetry is the retry policy of each activity of a run. Steward
// activities never retry without bound.
type ActivityRetry struct {
	Initial     Duration `yaml:"initial,omitempty" json:"initial"`
	Backoff     float64  `yaml:"backoff,omitempty" json:"backoff"`
	MaxInterval Duration `yaml:"max_interval,omitempty" json:"max_interval"`
	MaxAttempts int      `yaml:"max_attempts,omitempty" json:"max_attempts"`
}

// Backup describes what a backup plan snapshots and where to.
type Backup struct {
	Source  string   `yaml:"source" json:"source"`
	Exclude []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// Ref is the repository, its password and how to reach it; its
	// fields sit directly in the backup section.
	repository.Ref `yaml:",inline"`
	// Keep says which snapshots survive forget; nil keeps them all.
	Keep *Keep `yaml:"keep,omitempty" json:"keep,omitempty"`
	// Verify reads back the repository on a timer; nil never does.
	Verify *Verify `yaml:"verify,omitempty" json:"verify,omitempty"`
	// Maintenance runs kopia maintenance on timers; defaults when nil.
	Maintenance *Maintenance `yaml:"maintenance,omitempty" json:"maintenance,omitempty"`
}

// Default retry policy of a run's activities.
var DefaultActivityRetry = ActivityRetry{
	Initial:     Duration(10 * time.Second),
	Backoff:     2,
	MaxInterval: Duration(5 * time.Minute),
	MaxAttempts: 5,
}

// WorkflowID returns the ID of the plan's workflow.
func WorkflowID(planID string) string { return "steward/plan/" + planID }

// Parse decodes a plan file, applies defaults and validates it. Unknown
// fields are errors, so a typo never silently drops a setting.
func Parse(data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("plans: the file is empty")
		}
		return nil, fmt.Errorf("plans file: %w", err)
	}
	for i := range f.Plans {
		f.Plans[i].SetDefaults()
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// SetDefaults fills in every setting the plan leaves out.
func (p *Plan) SetDefaults() {
	p.setFailureDefaults()
	if p.Preheat != nil {
		p.Preheat.SetDefaults()
	}
	if p.Backup != nil && p.Backup.Verify != nil {
		p.Backup.Verify.setDefaults()
	}
	if p.Backup != nil {
		if p.Backup.Maintenance == nil {
			p.Backup.Maintenance = &Maintenance{}
		}
		p.Backup.Maintenance.setDefaults()
	}
	if p.Schedule.Timezone == "" {
		p.Schedule.Timezone = "UTC"
	}
	if p.Schedule.Every != 0 && p.Schedule.Anchor == "" {
		p.Schedule.Anchor = string(schedule.AnchorWall)
	}
	s := &p.Schedule
	if s.CatchUp == "" {
		s.CatchUp = string(DefaultCatchUp)
	}
	if s.CatchUpWindow == 0 {
		s.CatchUpWindow = DefaultCatchUpWindow
	}
	if s.CatchUpMax == nil && s.CatchUp == string(schedule.PolicyAll) {
		n := DefaultCatchUpMax
		s.CatchUpMax = &n
	}
	if s.Overlap == "" {
		s.Overlap = DefaultOverlap
	}
	r := &p.Retry.Activity
	if r.Initial == 0 {
		r.Initial = DefaultActivityRetry.Initial
	}
	if r.Backoff == 0 {
		r.Backoff = DefaultActivityRetry.Backoff
	}
	if r.MaxInterval == 0 {
		r.MaxInterval = DefaultActivityRetry.MaxInterval
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultActivityRetry.MaxAttempts
	}
}

// ScheduleSpec returns the plan's schedule for package schedule.
func (p *Plan) ScheduleSpec() schedule.Spec { return p.Schedule.spec() }

func (s *Schedule) spec() schedule.Spec {
	return schedule.Spec{
		Every:    s.Every.D(),
		Cron:     s.Cron,
		Timezone: s.Timezone,
		Anchor:   schedule.Anchor(s.Anchor),
		Jitter:   s.Jitter.D(),
		Windows:  s.Windows,
		Blackout: s.Blackout,
	}
}

// CatchUp returns the plan's catch-up policy, with defaults for fields a
// spec leaves empty. Grace, how late a run still counts as on time, is the
// workflow's to set.
func (p *Plan) CatchUp() schedule.CatchUp {
	s := &p.Schedule
	c := schedule.CatchUp{
		Policy: schedule.Policy(s.CatchUp),
		Window: s.CatchUpWindow.D(),
		Max:    DefaultCatchUpMax,
	}
	if c.Policy == "" {
		c.Policy = DefaultCatchUp
	}
	if c.Window == 0 {
		c.Window = DefaultCatchUpWindow.D()
	}
	if s.CatchUpMax != nil {
		c.Max = *s.CatchUpMax
	}
	return c
}

// FieldError is a problem with one field of a plan file.
type FieldError struct {
	Path string // "plans[1].schedule.cron"
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Errors lists every problem found in a plan file.
type Errors []FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

var idPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks every plan and that plan IDs are unique.
func (f *File) Validate() error {
	var es Errors
	seen := map[string]int{}
	for i := range f.Plans {
		prefix := fmt.Sprintf("plans[%d]", i)
		es = append(es, f.Plans[i].validate(prefix)...)
		id := f.Plans[i].ID
		if j, dup := seen[id]; dup && id != "" {
			es = append(es, FieldError{prefix + ".id", fmt.Sprintf("%q is already used by plans[%d]", id, j)})
		} else {
			seen[id] = i
		}
	}
	if len(es) > 0 {
		return es
	}
	return nil
}

// Validate checks one plan on its own; errors are prefixed with "plan".
func (p *Plan) Validate() error {
	if es := p.validate("plan"); len(es) > 0 {
		return es
	}
	return nil
}

func (p *Plan) validate(prefix string) Errors {
	var es Errors
	add := func(field, format string, args ...any) {
		es = append(es, FieldError{prefix + "." + field, fmt.Sprintf(format, args...)})
	}
	switch {
	case p.ID == "":
		add("id", "is required")
	case !idPattern.MatchString(p.ID):
		add("id", "%q: use 1 to 63 lowercase letters, digits and dashes, starting and ending with a letter or digit", p.ID)
	}
	switch p.Kind {
	case KindBackup:
		if p.Backup == nil {
			add("backup", "is required for kind backup")
		} else {
			es = append(es, p.Backup.validate(prefix+".backup")...)
		}
	case KindPreheat:
		if p.Preheat == nil {
			add("preheat", "is required for kind preheat")
		} else {
			es = append(es, p.Preheat.validate(prefix+".preheat")...)
			if p.Host != "" && !p.Preheat.Hosts.IsZero() {
				add("preheat.hosts", "contradictory options: set host (one host) or preheat.hosts, not both")
			}
		}
	case "":
		add("kind", "is required (backup or preheat)")
	default:
		add("kind", "unknown kind %q (want backup or preheat)", p.Kind)
	}
	if p.Kind == KindPreheat && p.Backup != nil {
		add("backup", "is only valid for kind backup")
	}
	if p.Kind == KindBackup && p.Preheat != nil {
		add("preheat", "is only valid for kind preheat")
	}
	es = append(es, p.Schedule.validate(prefix+".schedule")...)
	es = append(es, p.Retry.Activity.validate(prefix+".retry.activity")...)
	es = append(es, p.validateFailure(prefix)...)
	es = append(es, validateNotify(prefix, p.Notify)...)
	return es
}

func (s *Schedule) validate(prefix string) Errors {
	var es Errors
	add := func(field, format string, args ...any) {
		es = append(es, FieldError{prefix + "." + field, fmt.Sprintf(format, args...)})
	}
	switch {
	case s.Every != 0 && s.Cron != "":
		add("every", "every and cron are exclusive: set one")
	case s.Every == 0 && s.Cron == "":
		es = append(es, FieldError{prefix, "set every (like 1h) or cron (like \"0 3 * * *\")"})
	case s.Cron != "":
		if err := schedule.ParseCron(s.Cron); err != nil {
			add("cron", "%q: %v", s.Cron, err)
		}
		if s.Anchor != "" && s.Anchor != string(schedule.AnchorWall) {
			add("anchor", "%q applies only to every; cron schedules follow the calendar", s.Anchor)
		}
	case s.Every < 0:
		add("every", "%v: must be positive", s.Every)
	case s.Every.D() < schedule.MinEvery:
		add("every", "%v: must be at least %v", s.Every, schedule.MinEvery)
	}
	switch {
	case s.Timezone == "Local":
		add("timezone", "%q: name an IANA zone like Europe/Berlin; steward never uses the host's zone", s.Timezone)
	case s.Timezone != "":
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			add("timezone", "%q: unknown time zone (use an IANA name like Europe/Berlin)", s.Timezone)
		}
	}
	switch schedule.Anchor(s.Anchor) {
	case "", schedule.AnchorWall, schedule.AnchorLastRun, schedule.AnchorLastSuccess:
	default:
		add("anchor", "unknown anchor %q (want wall, last-run or last-success)", s.Anchor)
	}
	es = append(es, s.validateStart(prefix)...)
	es = append(es, s.validateCatchUp(prefix)...)
	return es
}

// validateStart checks when runs may start: jitter, windows, blackout.
func (s *Schedule) validateStart(prefix string) Errors {
	var es Errors
	add := func(field, format string, args ...any) {
		es = append(es, FieldError{prefix + "." + field, fmt.Sprintf(format, args...)})
	}
	switch {
	case s.Jitter < 0:
		add("jitter", "%v: must not be negative", s.Jitter)
	case s.Every > 0 && s.Jitter >= s.Every:
		add("jitter", "%v: must be shorter than every (%v), or a run could start after the next one is due", s.Jitter, s.Every)
	}
	valid := true
	check := func(field string, list []string) {
		for i, w := range list {
			if _, err := schedule.ParseWindow(w); err != nil {
				add(fmt.Sprintf("%s[%d]", field, i), "%v", err)
				valid = false
			}
		}
	}
	check("windows", s.Windows)
	check("blackout", s.Blackout)
	if valid && (len(s.Windows) > 0 || len(s.Blackout) > 0) {
		spec := schedule.Spec{Every: time.Hour, Windows: s.Windows, Blackout: s.Blackout}
		if _, err := schedule.New(spec); errors.Is(err, schedule.ErrNeverOpen) {
			if len(s.Windows) == 0 {
				add("blackout", "contradictory options: the blackout covers the whole week, so no run could ever start")
			} else {
				add("blackout", "contradictory options: the blackout covers every window, so no run could ever start")
			}
		}
	}
	return es
}

// validateCatchUp checks catch-up, overlap and deadline.
func (s *Schedule) validateCatchUp(prefix string) Errors {
	var es Errors
	add := func(field, format string, args ...any) {
		es = append(es, FieldError{prefix + "." + field, fmt.Sprintf(format, args...)})
	}
	switch schedule.Policy(s.CatchUp) {
	case "", schedule.PolicySkip, schedule.PolicyLatest, schedule.PolicyAll:
	default:
		add("catchup", "unknown catchup %q (want skip, latest or all)", s.CatchUp)
	}
	if s.CatchUpWindow < 0 {
		add("catchup_window", "%v: must not be negative", s.CatchUpWindow)
	}
	if m := s.CatchUpMax; m != nil {
		switch {
		case s.CatchUp != string(schedule.PolicyAll):
			add("catchup_max", "contradictory options: catchup_max applies only to catchup: all, and catchup is %q", cmp.Or(s.CatchUp, string(DefaultCatchUp)))
		case *m < 1:
			add("catchup_max", "%d: must be at least 1 (to run no missed fire times, use catchup: skip)", *m)
		case *m > MaxCatchUpMax:
			add("catchup_max", "%d: must be at most %d", *m, MaxCatchUpMax)
		}
	}
	switch s.Overlap {
	case "", OverlapSkip, OverlapBufferOne:
	default:
		add("overlap", "unknown overlap %q (want skip or buffer-one)", s.Overlap)
	}
	switch {
	case s.Deadline < 0:
		add("deadline", "%v: must not be negative (0 means no freshness alert)", s.Deadline)
	case s.Deadline > 0 && s.Every > 0 && s.Deadline < s.Every:
		add("deadline", "%v: shorter than every (%v): the plan would always be stale", s.Deadline, s.Every)
	}
	return es
}

func (r *ActivityRetry) validate(prefix string) Errors {
	var es Errors
	add := func(field, format string, args ...any) {
		es = append(es, FieldError{prefix + "." + field, fmt.Sprintf(format, args...)})
	}
	if r.Initial < 0 {
		add("initial", "%v: must be positive", r.Initial)
	}
	if r.Backoff < 1 {
		add("backoff", "%v: must be at least 1", r.Backoff)
	}
	if r.MaxInterval < 0 {
		add("max_interval", "%v: must be positive", r.MaxInterval)
	} else if r.MaxInterval < r.Initial {
		add("max_interval", "%v: must not be shorter than initial (%v)", r.MaxInterval, r.Initial)
	}
	if r.MaxAttempts < 0 {
		add("max_attempts", "%d: must be positive (steward never retries without bound)", r.MaxAttempts)
	}
	return es
}

func (b *Backup) validate(prefix string) Errors {
	var es Errors
	add := func(field, format string, args ...any) {
		es = append(es, FieldError{prefix + "." + field, fmt.Sprintf(format, args...)})
	}
	switch {
	case b.Source == "":
		add("source", "is required")
	case !path.IsAbs(b.Source):
		add("source", "%q: must be an absolute path", b.Source)
	}
	loc := validateRepository(b.Ref, add)
	if b.Source != "" && loc.Scheme == "" && loc.Path != "" && path.IsAbs(b.Source) {
		src := path.Clean(b.Source)
		if loc.Path == src || strings.HasPrefix(loc.Path, strings.TrimSuffix(src, "/")+"/") {
			add("repository", "%q is inside the source %q: the backup would back itself up", b.Repository, b.Source)
		}
	}
	for i, e := range b.Exclude {
		if strings.TrimSpace(e) == "" {
			add(fmt.Sprintf("exclude[%d]", i), "is empty")
		}
	}
	if b.Keep != nil {
		es = append(es, b.Keep.validate(prefix+".keep")...)
	}
	if b.Verify != nil {
		es = append(es, b.Verify.validate(prefix+".verify")...)
	}
	if b.Maintenance != nil {
		es = append(es, b.Maintenance.validate(prefix+".maintenance")...)
	}
	return es
}
