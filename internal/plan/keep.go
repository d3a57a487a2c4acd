package plan

import (
	"fmt"

	"github.com/steward-ops/steward/internal/retention"
)

// Keep is a backup plan's snapshot retention (backup.keep), with the rules
// of restic's forget: a snapshot is kept when any rule keeps it, and
// periods are counted in the plan's time zone back from the newest
// snapshot. Leaving every rule out keeps every snapshot.
//
// It travels in workflow history as JSON: add fields, never rename or
// retype one.
type Keep struct {
	// Last keeps the newest N snapshots.
	Last int `yaml:"last,omitempty" json:"last,omitempty"`
	// Hourly to Yearly keep the newest snapshot of each of the last N
	// hours, days, ISO weeks, months and years that have one.
	Hourly  int `yaml:"hourly,omitempty" json:"hourly,omitempty"`
	Daily   int `yaml:"daily,omitempty" json:"daily,omitempty"`
	Weekly  int `yaml:"weekly,omitempty" json:"weekly,omitempty"`
	Monthly int `yaml:"monthly,omitempty" json:"monthly,omitempty"`
	Yearly  int `yaml:"yearly,omitempty" json:"yearly,omitempty"`
	// Within keeps every snapshot taken less than this before the newest.
	Within Duration `yaml:"within,omitempty" json:"within,omitempty"`
	// WithinHourly to WithinYearly keep the newest snapshot of each period
	// among those taken less than the duration before the newest.
	WithinHourly  Duration `yaml:"within_hourly,omitempty" json:"within_hourly,omitempty"`
	WithinDaily   Duration `yaml:"within_daily,omitempty" json:"within_daily,omitempty"`
	WithinWeekly  Duration `yaml:"within_weekly,omitempty" json:"within_weekly,omitempty"`
	WithinMonthly Duration `yaml:"within_monthly,omitempty" json:"within_monthly,omitempty"`
	WithinYearly  Duration `yaml:"within_yearly,omitempty" json:"within_yearly,omitempty"`
}

// Policy returns k for package retention; a nil Keep is the empty policy,
// which keeps every snapshot.
func (k *Keep) Policy() retention.Policy {
	if k == nil {
		return retention.Policy{}
	}
	return retention.Policy{
		Last:          k.Last,
		Hourly:        k.Hourly,
		Daily:         k.Daily,
		Weekly:        k.Weekly,
		Monthly:       k.Monthly,
		Yearly:        k.Yearly,
		Within:        k.Within.D(),
		WithinHourly:  k.WithinHourly.D(),
		WithinDaily:   k.WithinDaily.D(),
		WithinWeekly:  k.WithinWeekly.D(),
		WithinMonthly: k.WithinMonthly.D(),
		WithinYearly:  k.WithinYearly.D(),
	}
}

// validate refuses negative counts and durations: restic reads a count of
// -1 as "unlimited", steward has no such value and refuses to guess.
func (k *Keep) validate(prefix string) Errors {
	var es Errors
	for _, c := range []struct {
		field string
		n     int
	}{
		{"last", k.Last}, {"hourly", k.Hourly}, {"daily", k.Daily},
		{"weekly", k.Weekly}, {"monthly", k.Monthly}, {"yearly", k.Yearly},
	} {
		if c.n < 0 {
			es = append(es, FieldError{prefix + "." + c.field, fmt.Sprintf("%d: must be zero or positive", c.n)})
		}
	}
	for _, d := range []struct {
		field string
		d     Duration
	}{
		{"within", k.Within}, {"within_hourly", k.WithinHourly}, {"within_daily", k.WithinDaily},
		{"within_weekly", k.WithinWeekly}, {"within_monthly", k.WithinMonthly}, {"within_yearly", k.WithinYearly},
	} {
		if d.d < 0 {
			es = append(es, FieldError{prefix + "." + d.field, fmt.Sprintf("%v: must be zero or positive", d.d)})
		}
	}
	return es
}
