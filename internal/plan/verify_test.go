package plan

import (
	"strings"
	"testing"
	"time"
)

// withVerify returns the good file with a verify line in its first plan.
func withVerify(v string) string {
	const line = "      password_env: STEWARD_REPO_PASSWORD\n"
	return replace(line, line+"      verify: "+v+"\n")
}

func TestParseVerify(t *testing.T) {
	for _, tc := range []struct {
		in      string
		every   time.Duration
		percent float64
	}{
		{"{every: 24h, percent: 10}", 24 * time.Hour, 10},
		{"{}", 7 * 24 * time.Hour, 5},
		{"{every: 30d}", 30 * 24 * time.Hour, 5},
		{"{percent: 0}", 7 * 24 * time.Hour, 0},
		{"{percent: 100}", 7 * 24 * time.Hour, 100},
	} {
		f, err := Parse([]byte(withVerify(tc.in)))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		p := f.Plans[0]
		p.SetDefaults()
		v := p.Backup.Verify
		if v == nil || v.Every.D() != tc.every || v.Share() != tc.percent {
			t.Errorf("%s: verify %+v (share %v), want every %v percent %v", tc.in, v, v.Share(), tc.every, tc.percent)
		}
	}
	f, err := Parse([]byte(withVerify("{}")))
	if err != nil {
		t.Fatal(err)
	}
	if f.Plans[1].Backup.Verify != nil {
		t.Errorf("a plan without verify has %+v, want nil (never verified on a timer)", f.Plans[1].Backup.Verify)
	}
}

func TestParseRejectsBadVerify(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{percent: 150}", "plans[0].backup.verify.percent: 150: must be 0 to 100"},
		{"{percent: -1}", "plans[0].backup.verify.percent: -1: must be 0 to 100"},
		{"{every: 10s}", "plans[0].backup.verify.every: 10s: must be at least 1m0s"},
		{"{evrey: 1h}", "field evrey not found"},
	} {
		if f, err := Parse([]byte(withVerify(tc.in))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (%+v), want %q", tc.in, err, f, tc.want)
		}
	}
}

func TestParseMaintenance(t *testing.T) {
	const line = "      password_env: STEWARD_REPO_PASSWORD\n"
	f, err := Parse([]byte(replace(line, line+"      maintenance: {quick: 2h}\n")))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][2]time.Duration{{2 * time.Hour, 24 * time.Hour}, {time.Hour, 24 * time.Hour}} {
		p := f.Plans[i]
		p.SetDefaults()
		if m := p.Backup.Maintenance; m == nil || m.Quick.D() != want[0] || m.Full.D() != want[1] {
			t.Errorf("plan %d: maintenance %+v, want quick %v full %v", i, m, want[0], want[1])
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"{quick: 10s}", "plans[0].backup.maintenance.quick: 10s: must be at least 1m0s"},
		{"{full: -1h}", "plans[0].backup.maintenance.full: -1h0m0s: must be at least 1m0s"},
		{"{fast: 1h}", "field fast not found"},
	} {
		if _, err := Parse([]byte(replace(line, line+"      maintenance: "+tc.in+"\n"))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
}
