package plan

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/retention"
)

// withKeep returns the good file with a keep line in its first plan.
func withKeep(keep string) string {
	const line = "      password_env: STEWARD_REPO_PASSWORD\n"
	return replace(line, line+"      keep: "+keep+"\n")
}

func TestParseKeep(t *testing.T) {
	f, err := Parse([]byte(withKeep("{last: 10, hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 3, within: 48h, within_daily: 30d}")))
	if err != nil {
		t.Fatal(err)
	}
	want := retention.Policy{
		Last: 10, Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, Yearly: 3,
		Within: 48 * time.Hour, WithinDaily: 30 * 24 * time.Hour,
	}
	if got := f.Plans[0].Backup.Keep.Policy(); got != want {
		t.Errorf("policy = %+v\nwant %+v", got, want)
	}
	if f.Plans[1].Backup.Keep != nil || !f.Plans[1].Backup.Keep.Policy().Empty() {
		t.Errorf("a plan without keep has keep %+v, want nil and the empty policy", f.Plans[1].Backup.Keep)
	}
}

func TestParseRejectsBadKeep(t *testing.T) {
	cases := []struct {
		name, keep string
		want       []string
	}{
		{"unknown rule", "{dayly: 7}", []string{"field dayly not found"}},
		{"negative count", "{daily: -1}", []string{"plans[0].backup.keep.daily: -1: must be zero or positive"}},
		{"negative duration", "{within_daily: -30d}", []string{"plans[0].backup.keep.within_daily: -720h0m0s: must be zero or positive"}},
		{"every problem at once", "{last: -1, within: -1h}", []string{
			"plans[0].backup.keep.last: -1: must be zero or positive",
			"plans[0].backup.keep.within: -1h0m0s: must be zero or positive",
		}},
		{"duration without a unit", "{within: 48}", []string{`"48" is not a duration`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(withKeep(tc.keep)))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", f.Plans[0].Backup.Keep)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestKeepRoundTripsThroughJSON checks keep as it travels in workflow
// history: unchanged through JSON, in snake_case, and absent from the specs
// of plans without one, so histories recorded before keep existed decode as
// they were.
func TestKeepRoundTripsThroughJSON(t *testing.T) {
	f, err := Parse([]byte(withKeep("{last: 2, weekly: 4, within_daily: 30d, within_yearly: 1000d}")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(f.Plans[0].Backup)
	if err != nil {
		t.Fatal(err)
	}
	const wire = `"keep":{"last":2,"weekly":4,"within_daily":"720h0m0s","within_yearly":"24000h0m0s"}`
	if !strings.Contains(string(b), wire) {
		t.Errorf("JSON = %s\nwant it to contain %s", b, wire)
	}
	var back Backup
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, f.Plans[0].Backup) {
		t.Errorf("round trip = %+v\nwant %+v", back.Keep, f.Plans[0].Backup.Keep)
	}

	b, err = json.Marshal(f.Plans[1].Backup)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "keep") {
		t.Errorf("a backup without keep marshals as %s", b)
	}
}
