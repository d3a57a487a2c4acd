package plan

import (
	"fmt"
	"time"
)

// Verify is a backup plan's periodic verification (backup.verify): every
// Every, read back all of the repository's metadata and Percent of its
// file contents, the way `kopia snapshot verify --verify-files-percent`
// does. A plan without it is never verified on a timer; `steward
// snapshots verify` verifies it on demand either way.
//
// It travels in workflow history as JSON: add fields, never rename or
// retype one.
type Verify struct {
	Every Duration `yaml:"every,omitempty" json:"every,omitempty"`
	// Percent is a share of file contents, 0 to 100; nil means the default.
	Percent *float64 `yaml:"percent,omitempty" json:"percent,omitempty"`
}

// Defaults of backup.verify.
const (
	DefaultVerifyEvery   = Duration(7 * 24 * time.Hour)
	DefaultVerifyPercent = 5.0
)

// minVerifyEvery keeps verification from running back to back.
const minVerifyEvery = Duration(time.Minute)

func (v *Verify) setDefaults() {
	if v.Every == 0 {
		v.Every = DefaultVerifyEvery
	}
	if v.Percent == nil {
		pc := DefaultVerifyPercent
		v.Percent = &pc
	}
}

// Share is the percent of file contents to read back.
func (v *Verify) Share() float64 {
	if v == nil || v.Percent == nil {
		return DefaultVerifyPercent
	}
	return *v.Percent
}

func (v *Verify) validate(prefix string) Errors {
	var es Errors
	if v.Every != 0 && v.Every < minVerifyEvery {
		es = append(es, FieldError{prefix + ".every", fmt.Sprintf("%v: must be at least %v", v.Every, minVerifyEvery)})
	}
	if pc := v.Percent; pc != nil && (*pc < 0 || *pc > 100) {
		es = append(es, FieldError{prefix + ".percent", fmt.Sprintf("%v: must be 0 to 100", *pc)})
	}
	return es
}
