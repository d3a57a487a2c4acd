package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/internal/schedule"
	"github.com/steward-ops/steward/workflows/api"
)

// Limits on signal fields, so one signal cannot bloat the carried state.
const (
	maxTextLen  = 1024
	maxPauseFor = 10 * 365 * 24 * time.Hour
)

var leaseIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// decodeSignal decodes a raw signal payload strictly: no payload or a JSON
// null is the zero value; anything but a JSON object with known fields is an
// error. Decoding ourselves, instead of letting the SDK do it, means a bad
// payload is counted and reported instead of silently dropped.
func decodeSignal(raw converter.RawValue, v any) error {
	p := raw.Payload()
	if p == nil {
		return nil
	}
	switch enc := string(p.GetMetadata()[converter.MetadataEncoding]); enc {
	case converter.MetadataEncodingNil:
		return nil
	case converter.MetadataEncodingJSON:
		data := bytes.TrimSpace(p.GetData())
		if len(data) == 0 || string(data) == "null" {
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("payload %s: %w", clip(string(data), 80), err)
		}
		if dec.More() {
			return fmt.Errorf("payload %s: trailing data after the JSON object", clip(string(data), 80))
		}
		return nil
	default:
		return fmt.Errorf("payload encoding %q: want JSON", enc)
	}
}

// validatePause turns a pause request into the lease it adds. With strict
// (executions on versionTruth and every Update), for takes days too and
// until is bounded like for; without it a signal recorded by older code is
// judged as that code judged it.
func validatePause(s api.PauseSignal, now time.Time, strict bool) (api.Lease, error) {
	l := api.Lease{ID: s.ID, Reason: s.Reason, By: s.By, Mode: s.Mode, Since: now, UntilNextRun: s.UntilNextRun}
	set := 0
	for _, b := range []bool{s.For != "", s.Until != "", s.UntilNextRun} {
		if b {
			set++
		}
	}
	if set > 1 {
		return api.Lease{}, fmt.Errorf("for, until and until_next_run are exclusive: set at most one")
	}
	switch {
	case s.For != "":
		parse := time.ParseDuration
		if strict {
			parse = plan.ParseDuration
		}
		d, err := parse(s.For)
		if err != nil {
			return api.Lease{}, fmt.Errorf("for %q: not a duration (like 30m, 2h or 7d)", s.For)
		}
		if d <= 0 {
			return api.Lease{}, fmt.Errorf("for %q: must be positive", s.For)
		}
		if d > maxPauseFor {
			return api.Lease{}, fmt.Errorf("for %q: longer than 10 years; pause without for/until for an indefinite pause", s.For)
		}
		u := now.Add(d).UTC()
		l.Until = &u
	case s.Until != "":
		u, err := time.Parse(time.RFC3339, s.Until)
		if err != nil {
			return api.Lease{}, fmt.Errorf("until %q: not an RFC 3339 time (like 2026-11-24T14:00:00Z)", s.Until)
		}
		if !u.After(now) {
			return api.Lease{}, fmt.Errorf("until %q: is not in the future", s.Until)
		}
		if strict && u.Sub(now) > maxPauseFor {
			return api.Lease{}, fmt.Errorf("until %q: more than 10 years ahead; pause without for/until for an indefinite pause", s.Until)
		}
		u = u.UTC()
		l.Until = &u
	}
	switch s.Mode {
	case "":
		l.Mode = api.ModeNewRuns
	case api.ModeNewRuns, api.ModeAll:
	default:
		return api.Lease{}, fmt.Errorf("mode %q: want new-runs or all", s.Mode)
	}
	if s.ID != "" && !leaseIDPattern.MatchString(s.ID) {
		return api.Lease{}, fmt.Errorf("id %q: use up to 64 letters, digits, '.', '_', ':' or '-'", clip(s.ID, 80))
	}
	if err := checkText("reason", s.Reason); err != nil {
		return api.Lease{}, err
	}
	if err := checkText("by", s.By); err != nil {
		return api.Lease{}, err
	}
	return l, nil
}

func validateUnpause(s api.UnpauseSignal) error {
	switch s.CatchUp {
	case "", string(schedule.PolicySkip), string(schedule.PolicyLatest), string(schedule.PolicyAll):
	default:
		return fmt.Errorf("catchup %q: want skip, latest or all", s.CatchUp)
	}
	if err := checkText("reason", s.Reason); err != nil {
		return err
	}
	return checkText("by", s.By)
}

func validateTrigger(s api.TriggerSignal) error {
	if err := checkText("reason", s.Reason); err != nil {
		return err
	}
	return checkText("by", s.By)
}

func checkText(field, s string) error {
	if len(s) > maxTextLen {
		return fmt.Errorf("%s: %d bytes, longer than %d", field, len(s), maxTextLen)
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
