package plan

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const preheatFile = `
plans:
  - id: models
    kind: preheat
    schedule: {cron: "30 7 * * 1-5", timezone: UTC}
    preheat:
      urls:
        - https://files.example.com/model.bin
        - {url: "https://files.example.com/b.bin", digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
      headers: {Authorization: "Bearer ${MODEL_TOKEN}", Accept: "*/*"}
      filtered_query_params: [X-Amz-Signature, X-Amz-Date]
      hosts: all
      cache: {dir: /var/cache/steward, ttl: 168h, max_size: 50GiB}
  - id: app
    kind: preheat
    schedule: {every: 1h}
    preheat:
      image: registry.example.com:5000/team/app:1.4
      platforms: [linux/amd64, linux/arm64/v8]
      hosts: [a, b]
`

func TestPreheatPlan(t *testing.T) {
	f, err := Parse([]byte(preheatFile))
	if err != nil {
		t.Fatal(err)
	}
	m := f.Plans[0].Preheat
	if m.Type != PreheatFile || len(m.URLs) != 2 || m.URLs[1].Digest == "" || !m.Hosts.All ||
		m.Concurrency != DefaultConcurrency || m.Cache.MaxSize != 50<<30 || m.Cache.TTL.D().Hours() != 168 {
		t.Errorf("models = %+v", m)
	}
	if f.Plans[0].History.Keep != DefaultPreheatKeep {
		t.Errorf("history.keep = %v, want the preheat default %v", f.Plans[0].History.Keep, DefaultPreheatKeep)
	}
	a := f.Plans[1].Preheat
	if a.Type != PreheatImage || !reflect.DeepEqual(a.Hosts.Names, []string{"a", "b"}) || a.FilteredQueryParams != nil {
		t.Errorf("app = %+v", a)
	}

	// The spec travels in workflow history as JSON and round-trips; an
	// explicit empty filter list stays distinct from the default.
	m.FilteredQueryParams = []string{}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Preheat
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, m) {
		t.Errorf("JSON round trip:\n%s\ngave %+v\nwant %+v", b, back, *m)
	}
	// And YAML round-trips through the short forms.
	y, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(y); err != nil {
		t.Errorf("YAML round trip: %v\n%s", err, y)
	}
}

func TestPreheatPlanErrors(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(preheatFile, old) {
			t.Fatalf("test bug: %q not in the file", old)
		}
		return strings.Replace(preheatFile, old, new, 1)
	}
	cases := []struct{ name, file, want string }{
		{"file URL", replace("https://files.example.com/model.bin", "file:///etc/passwd"),
			`plans[0].preheat.urls[0]: "file:///etc/passwd": file:// URLs are refused: only http and https are fetched`},
		{"metadata address", replace("https://files.example.com/model.bin", "http://169.254.169.254/latest/meta-data/"),
			`plans[0].preheat.urls[0]: "http://169.254.169.254/latest/meta-data/": link-local and cloud metadata addresses are always refused`},
		{"metadata IPv6", replace("https://files.example.com/model.bin", "http://[fd00:ec2::254]/"),
			"link-local and cloud metadata addresses are always refused"},
		{"loopback not allowed", replace("https://files.example.com/model.bin", "http://127.0.0.1:8080/x"),
			"loopback addresses are refused unless allow_loopback is true"},
		{"localhost not allowed", replace("https://files.example.com/model.bin", "http://localhost/x"),
			"loopback addresses are refused unless allow_loopback is true"},
		{"private not allowed", replace("https://files.example.com/model.bin", "http://10.1.2.3/x"),
			"private addresses are refused unless allow_private is true"},
		{"credentials in URL", replace("https://files.example.com/model.bin", "https://bob:hunter2@files.example.com/x"),
			"holds credentials"},
		{"bad digest", replace("sha256:0123", "md5:0123"), `plans[0].preheat.urls[1].digest: "md5:0123`},
		{"duplicate URL", replace("https://files.example.com/b.bin", "https://files.example.com/model.bin"),
			`plans[0].preheat.urls[1]: "https://files.example.com/model.bin" is already listed as urls[0]`},
		{"literal secret header", replace("Bearer ${MODEL_TOKEN}", "Bearer abc123"),
			"plans[0].preheat.headers.Authorization: holds a literal credential"},
		{"bad env reference", replace("Bearer ${MODEL_TOKEN}", "Bearer ${MODEL-TOKEN}"),
			"${MODEL-TOKEN} is not an environment variable reference"},
		{"unterminated reference", replace("Bearer ${MODEL_TOKEN}", "Bearer ${MODEL_TOKEN"), "unterminated ${"},
		{"urls and image", replace("      hosts: all\n", "      hosts: all\n      image: r.example.com/x:1\n"),
			"plans[0].preheat.urls: contradictory options: urls are for type file, and type is image"},
		{"no urls", replace("      urls:\n        - https://files.example.com/model.bin\n        - {url: \"https://files.example.com/b.bin\", digest: \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}\n", ""),
			"plans[0].preheat.urls: is required for type file"},
		{"unknown type", replace("      image: registry", "      type: torrent\n      image: registry"), `plans[1].preheat.type: unknown type "torrent"`},
		{"image with scheme", replace("registry.example.com:5000/team/app:1.4", "https://registry.example.com/app:1.4"),
			"write an image reference without a scheme"},
		{"bad image", replace("registry.example.com:5000/team/app:1.4", "Registry/App:1.4"), "is not an image reference"},
		{"bad platform", replace("linux/arm64/v8", "arm64"), `plans[1].preheat.platforms[1]: "arm64": want os/arch`},
		{"hosts word", replace("hosts: all", "hosts: every"), `hosts is all or a list of host names, not "every"`},
		{"duplicate host", replace("hosts: [a, b]", "hosts: [a, a]"), `plans[1].preheat.hosts[1]: "a" is listed twice`},
		{"host and hosts", replace("  - id: app\n    kind: preheat\n", "  - id: app\n    kind: preheat\n    host: a\n"),
			"plans[1].preheat.hosts: contradictory options: set host (one host) or preheat.hosts, not both"},
		{"concurrency", replace("hosts: [a, b]", "hosts: [a, b]\n      concurrency: 1000"), "plans[1].preheat.concurrency: 1000: at most 64"},
		{"relative cache dir", replace("dir: /var/cache/steward", "dir: cache"), `plans[0].preheat.cache.dir: "cache": must be an absolute path`},
		{"negative ttl", replace("ttl: 168h", "ttl: -1h"), "plans[0].preheat.cache.ttl: -1h0m0s: must not be negative"},
		{"bad size", replace("max_size: 50GiB", "max_size: lots"), `"lots" is not a size`},
		{"unknown URL field", replace(`{url: "https://files.example.com/b.bin", digest:`, `{url: "https://files.example.com/b.bin", sha: x, digest:`),
			"field sha not found in a URL"},
		{"preheat on a backup plan", replace("  - id: app\n    kind: preheat\n", "  - id: app\n    kind: backup\n"),
			"plans[1].preheat: is only valid for kind preheat"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.file))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", f)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestPreheatAllowedAddresses(t *testing.T) {
	p := Preheat{URLs: []URL{{URL: "http://127.0.0.1:9/a"}, {URL: "http://10.0.0.1/b"}, {URL: "http://[::1]/c"}}, AllowLoopback: true, AllowPrivate: true}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		t.Errorf("allowed loopback and private: %v", err)
	}
	p.URLs = append(p.URLs, URL{URL: "http://169.254.169.254/"})
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "preheat.urls[3]") {
		t.Errorf("metadata address with everything allowed: %v", err)
	}
}
