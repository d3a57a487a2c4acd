package plan

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"90s", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"0", 0},
		{"1.5h", 90 * time.Minute},
		{"300ms", 300 * time.Millisecond},
		{"2µs", 2 * time.Microsecond},
		{"7d", 7 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"12h1d", 36 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{".5d", 12 * time.Hour},
		{"1.d", 24 * time.Hour},
		{"0.1d", 144 * time.Minute},
		{"-2d", -48 * time.Hour},
		{"-1d12h", -36 * time.Hour},
		{"+1d", 24 * time.Hour},
		{"1d1d", 48 * time.Hour},
		{"0d", 0},
		{"1d2h3m4s5ms", 26*time.Hour + 3*time.Minute + 4*time.Second + 5*time.Millisecond},
		{"0.000000000000000000001d", 0}, // past the 19th digit: under a nanosecond
		{"106751d", 106751 * 24 * time.Hour},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseDurationRejects(t *testing.T) {
	for _, in := range []string{
		"", "often", "7", "d", ".d", "7D", "7days", "1dh", "1d-2h", "1..5d", "1.2.3d", "--1d", "d7",
		"106752d",    // past the largest time.Duration
		"106751d24h", // the sum overflows
		"213505d",    // times a day, wraps around a uint64 to about 1d
		"99999999999999999999d",
	} {
		got, err := ParseDuration(in)
		if err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
			continue
		}
		if want := `"` + in + `" is not a duration (like 90s, 30m, 2h or 7d)`; err.Error() != want {
			t.Errorf("ParseDuration(%q) error = %q, want %q", in, err, want)
		}
	}
}

// TestDurationDaysRoundTrip checks that days are read from YAML and JSON but
// written back in time.Duration's form, which workflow histories hold.
func TestDurationDaysRoundTrip(t *testing.T) {
	var y struct {
		Every Duration `yaml:"every"`
	}
	if err := yaml.Unmarshal([]byte("every: 7d\n"), &y); err != nil || y.Every.D() != 168*time.Hour {
		t.Fatalf("YAML 7d = %v, %v; want 168h", y.Every, err)
	}
	out, err := yaml.Marshal(y)
	if err != nil || string(out) != "every: 168h0m0s\n" {
		t.Fatalf("YAML marshal = %q, %v", out, err)
	}
	b, err := json.Marshal(y.Every)
	if err != nil || string(b) != `"168h0m0s"` {
		t.Fatalf("JSON marshal = %s, %v", b, err)
	}

	var j Duration
	if err := json.Unmarshal([]byte(`"1d12h"`), &j); err != nil || j.D() != 36*time.Hour {
		t.Fatalf("JSON 1d12h = %v, %v; want 36h", j, err)
	}
	if b, _ := json.Marshal(j); string(b) != `"36h0m0s"` {
		t.Fatalf("JSON marshal = %s, want \"36h0m0s\"", b)
	}
}

func TestDurationErrors(t *testing.T) {
	var y struct {
		Every Duration `yaml:"every"`
	}
	for in, want := range map[string]string{
		"every: often\n": `line 1: "often" is not a duration (write it with a unit, like 90s or 1h)`,
		"every: 7\n":     `line 1: "7" is not a duration (write it with a unit, like 90s or 1h)`,
		"every: 7 d\n":   `line 1: "7 d" is not a duration (write it with a unit, like 90s or 1h)`,
	} {
		err := yaml.Unmarshal([]byte(in), &y)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("YAML %q: err = %v, want %q", in, err, want)
		}
	}
	var j Duration
	err := json.Unmarshal([]byte(`"often"`), &j)
	if want := `duration: "often" is not a duration (like 90s, 30m, 2h or 7d)`; err == nil || err.Error() != want {
		t.Errorf("JSON err = %v, want %q", err, want)
	}
}
