package plan

import (
	"fmt"
	"path"
	"time"
)

// Precondition is one check made on the plan's host before each run.
// Exactly one of PathExists, Mounted, MinFree and Command is set.
type Precondition struct {
	PathExists string `yaml:"path_exists,omitempty" json:"path_exists,omitempty"`
	Mounted    string `yaml:"mounted,omitempty" json:"mounted,omitempty"`
	MinFree    Size   `yaml:"min_free,omitempty" json:"min_free,omitempty"`
	// Path is where MinFree is measured; default: the backup repository.
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Command is an argv, never a shell string: exit 0 proceed, 1 skip,
	// 75 wait, anything else fail.
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// RunRetry retries a failed run on a durable workflow timer: Interval, then
// Interval*Backoff, ... at most MaxRetries times.
type RunRetry struct {
	Interval   Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	Backoff    float64  `yaml:"backoff,omitempty" json:"backoff,omitempty"`
	MaxRetries *int     `yaml:"max_retries,omitempty" json:"max_retries,omitempty"`
}

// History says how long run records are kept, keyed on when each run
// finished: Keep for succeeded ones, Failed for the others; never fewer than
// Min records, never more than Max.
type History struct {
	Keep   Duration `yaml:"keep,omitempty" json:"keep,omitempty"`
	Failed Duration `yaml:"failed,omitempty" json:"failed,omitempty"`
	Min    *int     `yaml:"min,omitempty" json:"min,omitempty"`
	Max    int      `yaml:"max,omitempty" json:"max,omitempty"`
}

// Defaults of run retries and run-record retention.
const (
	DefaultRunRetryInterval = Duration(10 * time.Minute)
	DefaultRunRetries       = 2
	// DefaultBackupKeep is 7 days, DefaultPreheatKeep 6 hours (Dragonfly's
	// default); failed records are kept four times as long.
	DefaultBackupKeep  = Duration(7 * 24 * time.Hour)
	DefaultPreheatKeep = Duration(6 * time.Hour)
	DefaultHistoryMin  = 3
	DefaultHistoryMax  = 200
	// MaxHistory bounds run records kept in a plan's workflow state.
	MaxHistory = 1000
	// DefaultCommandTimeout bounds a precondition command.
	DefaultCommandTimeout = Duration(30 * time.Second)
)

func (p *Plan) setFailureDefaults() {
	for i := range p.Preconditions {
		c := &p.Preconditions[i]
		if len(c.Command) > 0 && c.Timeout == 0 {
			c.Timeout = DefaultCommandTimeout
		}
		if c.MinFree > 0 && c.Path == "" && p.Backup != nil {
			c.Path = p.Backup.Repository
		}
	}
	r := &p.Retry.Run
	if r.Interval == 0 {
		r.Interval = DefaultRunRetryInterval
	}
	if r.Backoff == 0 {
		r.Backoff = 1
	}
	if r.MaxRetries == nil {
		n := DefaultRunRetries
		r.MaxRetries = &n
	}
	h := &p.History
	if h.Keep == 0 {
		h.Keep = DefaultBackupKeep
		if p.Kind == KindPreheat {
			h.Keep = DefaultPreheatKeep
		}
	}
	if h.Failed == 0 {
		h.Failed = 4 * h.Keep
	}
	if h.Min == nil {
		n := DefaultHistoryMin
		h.Min = &n
	}
	if h.Max == 0 {
		h.Max = DefaultHistoryMax
	}
}

func (p *Plan) validateFailure(prefix string) Errors {
	var es Errors
	add := func(field, format string, args ...any) {
		es = append(es, FieldError{prefix + "." + field, fmt.Sprintf(format, args...)})
	}
	for i, c := range p.Preconditions {
		f := fmt.Sprintf("preconditions[%d]", i)
		kinds := 0
		for _, set := range []bool{c.PathExists != "", c.Mounted != "", c.MinFree != 0, len(c.Command) > 0} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			add(f, "set exactly one of path_exists, mounted, min_free and command")
			continue
		}
		for field, v := range map[string]string{"path_exists": c.PathExists, "mounted": c.Mounted, "path": c.Path} {
			if v != "" && !path.IsAbs(v) {
				add(f+"."+field, "%q: must be an absolute path", v)
			}
		}
		if c.MinFree < 0 {
			add(f+".min_free", "must be positive")
		}
		if c.MinFree > 0 && c.Path == "" {
			add(f+".path", "is required: where to measure free space")
		}
		if len(c.Command) > 0 && c.Command[0] == "" {
			add(f+".command", "the program (first element) is empty")
		}
		if c.Timeout < 0 {
			add(f+".timeout", "%v: must be positive", c.Timeout)
		}
		if c.Timeout != 0 && len(c.Command) == 0 {
			add(f+".timeout", "applies only to command")
		}
	}
	r := p.Retry.Run
	if r.Interval < 0 {
		add("retry.run.interval", "%v: must be positive", r.Interval)
	}
	if r.Backoff != 0 && r.Backoff < 1 {
		add("retry.run.backoff", "%v: must be at least 1", r.Backoff)
	}
	if r.MaxRetries != nil && (*r.MaxRetries < 0 || *r.MaxRetries > 100) {
		add("retry.run.max_retries", "%d: want 0 to 100", *r.MaxRetries)
	}
	if p.Retry.PauseAfterFailures < 0 {
		add("retry.pause_after_failures", "%d: must be 0 (off) or more", p.Retry.PauseAfterFailures)
	}
	h := p.History
	if h.Keep < 0 {
		add("history.keep", "%v: must be positive", h.Keep)
	}
	if h.Failed < 0 {
		add("history.failed", "%v: must be positive", h.Failed)
	}
	if h.Min != nil && *h.Min < 0 {
		add("history.min", "%d: must be 0 or more", *h.Min)
	}
	if h.Max < 0 || h.Max > MaxHistory {
		add("history.max", "%d: want 1 to %d", h.Max, MaxHistory)
	}
	if h.Min != nil && h.Max > 0 && *h.Min > h.Max {
		add("history.min", "%d is more than history.max %d", *h.Min, h.Max)
	}
	return es
}
