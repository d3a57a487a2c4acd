package plan

import (
	"fmt"
	"time"
)

// Maintenance is a backup plan's kopia maintenance (backup.maintenance):
// quick maintenance every Quick and full maintenance every Full, each
// counted from the last one, with kopia's safety margins. Every backup
// plan has it; the defaults apply when it is not set.
//
// It travels in workflow history as JSON: add fields, never rename or
// retype one.
type Maintenance struct {
	Quick Duration `yaml:"quick,omitempty" json:"quick,omitempty"`
	Full  Duration `yaml:"full,omitempty" json:"full,omitempty"`
}

// Defaults of backup.maintenance: kopia's own intervals.
const (
	DefaultMaintenanceQuick = Duration(time.Hour)
	DefaultMaintenanceFull  = Duration(24 * time.Hour)
)

// minMaintenanceEvery keeps maintenance from running back to back.
const minMaintenanceEvery = Duration(time.Minute)

func (m *Maintenance) setDefaults() {
	if m.Quick == 0 {
		m.Quick = DefaultMaintenanceQuick
	}
	if m.Full == 0 {
		m.Full = DefaultMaintenanceFull
	}
}

func (m *Maintenance) validate(prefix string) Errors {
	var es Errors
	for _, f := range []struct {
		name string
		d    Duration
	}{{"quick", m.Quick}, {"full", m.Full}} {
		if f.d != 0 && f.d < minMaintenanceEvery {
			es = append(es, FieldError{prefix + "." + f.name, fmt.Sprintf("%v: must be at least %v", f.d, minMaintenanceEvery)})
		}
	}
	return es
}
