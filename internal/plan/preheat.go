package plan

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Preheat describes what a preheat plan (or a one-off preheat) downloads
// into the caches of its target hosts.
//
// It travels in workflow history as JSON: add fields, never rename or
// retype one.
type Preheat struct {
	// Type is file (URLs) or image (an OCI image); empty means image when
	// Image is set, else file.
	Type      string   `yaml:"type,omitempty" json:"type,omitempty"`
	URLs      []URL    `yaml:"urls,omitempty" json:"urls,omitempty"`
	Image     string   `yaml:"image,omitempty" json:"image,omitempty"`
	Platforms []string `yaml:"platforms,omitempty" json:"platforms,omitempty"`
	// Headers are sent with every file request. Secret values are only
	// written as ${ENV} references, resolved by the activity on each host.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// FilteredQueryParams are left out of the cache key; nil means the
	// usual S3/GCS signature parameters, an empty list filters nothing.
	FilteredQueryParams []string `yaml:"filtered_query_params" json:"filtered_query_params"`
	// Hosts are the worker hosts whose caches are warmed; empty means the
	// plan's host (or any worker).
	Hosts       Hosts `yaml:"hosts,omitempty" json:"hosts"`
	Concurrency int   `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	Cache       Cache `yaml:"cache,omitempty" json:"cache"`
	// MaxFileSize rejects any larger file or blob (0: unlimited).
	MaxFileSize Size `yaml:"max_file_size,omitempty" json:"max_file_size,omitempty"`
	// AllowLoopback and AllowPrivate let fetches reach loopback and private
	// (RFC 1918, ULA, CGNAT) addresses; link-local and cloud metadata
	// addresses are always refused.
	AllowLoopback bool `yaml:"allow_loopback,omitempty" json:"allow_loopback,omitempty"`
	AllowPrivate  bool `yaml:"allow_private,omitempty" json:"allow_private,omitempty"`
}

// Preheat types.
const (
	PreheatFile  = "file"
	PreheatImage = "image"
)

// Preheat defaults and bounds.
const (
	DefaultConcurrency = 8
	MaxConcurrency     = 64
	// MaxURLs bounds one preheat's file list (each URL travels in history).
	MaxURLs = 10000
)

// URL is one file to preheat, with its expected digest if known. In YAML it
// is either the URL alone or {url: ..., digest: sha256:...}.
type URL struct {
	URL    string `json:"url"`
	Digest string `json:"digest,omitempty"`
}

// UnmarshalYAML accepts "https://..." or {url: ..., digest: ...}.
func (u *URL) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*u = URL{URL: n.Value}
		return nil
	case yaml.MappingNode:
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k := range m {
			if k != "url" && k != "digest" {
				return fmt.Errorf("line %d: field %s not found in a URL (want url and digest)", n.Line, k)
			}
		}
		*u = URL{URL: m["url"], Digest: m["digest"]}
		return nil
	}
	return fmt.Errorf("line %d: a URL is a string or {url: ..., digest: sha256:...}", n.Line)
}

// MarshalYAML writes a URL without a digest as a plain string.
func (u URL) MarshalYAML() (any, error) {
	if u.Digest == "" {
		return u.URL, nil
	}
	return map[string]string{"url": u.URL, "digest": u.Digest}, nil
}

// Hosts names the hosts a preheat warms: a list, or every registered host.
type Hosts struct {
	All   bool     `json:"all,omitempty"`
	Names []string `json:"names,omitempty"`
}

// UnmarshalYAML accepts "all" or a list of host names.
func (h *Hosts) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value != "all" {
			return fmt.Errorf("line %d: hosts is all or a list of host names, not %q", n.Line, n.Value)
		}
		*h = Hosts{All: true}
		return nil
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		*h = Hosts{Names: names}
		return nil
	}
	return fmt.Errorf("line %d: hosts is all or a list of host names", n.Line)
}

// MarshalYAML writes "all" or the list.
func (h Hosts) MarshalYAML() (any, error) {
	if h.All {
		return "all", nil
	}
	return h.Names, nil
}

// IsZero reports whether no hosts are named (for omitempty).
func (h Hosts) IsZero() bool { return !h.All && len(h.Names) == 0 }

// Cache is where and how long a host keeps preheated content.
type Cache struct {
	// Dir is the cache directory on each host; empty means the worker's
	// --cache-dir.
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty"`
	// TTL evicts entries not used for this long (0: never).
	TTL Duration `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	// MaxSize evicts least recently used entries above this size (0: none).
	MaxSize Size `yaml:"max_size,omitempty" json:"max_size,omitempty"`
}

// SetDefaults fills in what a preheat leaves out.
func (p *Preheat) SetDefaults() {
	if p.Type == "" {
		p.Type = PreheatFile
		if p.Image != "" {
			p.Type = PreheatImage
		}
	}
	if p.Concurrency == 0 {
		p.Concurrency = DefaultConcurrency
	}
}

var (
	hostNamePattern   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)
	headerNamePattern = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	envRefPattern     = regexp.MustCompile(`\$\{([^}]*)\}`)
	digestPattern     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	platformPattern   = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
	imageRefPattern   = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$`)
)

// secretHeader reports whether a header usually carries a credential, so its
// value must be an ${ENV} reference rather than be written into the plan.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	for _, w := range []string{"token", "secret", "key", "auth", "password", "signature", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Validate checks a preheat on its own (a one-off request); errors are
// prefixed with "preheat".
func (p *Preheat) Validate() error {
	if es := p.validate("preheat"); len(es) > 0 {
		return es
	}
	return nil
}

func (p *Preheat) validate(prefix string) Errors {
	var es Errors
	add := func(field, format string, args ...any) {
		es = append(es, FieldError{prefix + "." + field, fmt.Sprintf(format, args...)})
	}
	switch p.Type {
	case PreheatFile, "":
		switch {
		case p.Image != "":
			add("image", "contradictory options: image is for type image, and type is file (set urls or image, not both)")
		case len(p.URLs) == 0:
			add("urls", "is required for type file (or set image for an OCI image)")
		case len(p.URLs) > MaxURLs:
			add("urls", "%d URLs: at most %d per preheat", len(p.URLs), MaxURLs)
		}
		if len(p.Platforms) > 0 {
			add("platforms", "applies only to type image")
		}
		seen := map[string]int{}
		for i, u := range p.URLs {
			field := fmt.Sprintf("urls[%d]", i)
			if msg := p.checkURL(u.URL); msg != "" {
				add(field, "%s", msg)
			}
			if u.Digest != "" && !digestPattern.MatchString(u.Digest) {
				add(field+".digest", "%q: want sha256: and 64 lowercase hex digits", u.Digest)
			}
			if j, dup := seen[u.URL]; dup {
				add(field, "%q is already listed as urls[%d]", u.URL, j)
			} else {
				seen[u.URL] = i
			}
		}
	case PreheatImage:
		switch {
		case len(p.URLs) > 0:
			add("urls", "contradictory options: urls are for type file, and type is image")
		case p.Image == "":
			add("image", "is required for type image (like registry.example.com/app:1.4)")
		case strings.Contains(p.Image, "://"):
			add("image", "%q: write an image reference without a scheme (registry.example.com/app:1.4)", p.Image)
		case !imageRefPattern.MatchString(p.Image):
			add("image", "%q is not an image reference (like registry.example.com/app:1.4 or ...@sha256:<hex>)", p.Image)
		}
		for i, pl := range p.Platforms {
			if !platformPattern.MatchString(pl) {
				add(fmt.Sprintf("platforms[%d]", i), "%q: want os/arch or os/arch/variant, like linux/amd64 or linux/arm64/v8", pl)
			}
		}
	default:
		add("type", "unknown type %q (want file or image)", p.Type)
	}
	for name, v := range p.Headers {
		field := "headers." + name
		if !headerNamePattern.MatchString(name) {
			add(field, "%q is not a valid header name", name)
			continue
		}
		refs := envRefPattern.FindAllStringSubmatch(v, -1)
		for _, r := range refs {
			if !envNamePattern.MatchString(r[1]) {
				add(field, "${%s} is not an environment variable reference (like ${MODEL_TOKEN})", r[1])
			}
		}
		if strings.Count(v, "${") != len(refs) {
			add(field, "unterminated ${ (write ${NAME})")
		}
		if secretHeader(name) && len(refs) == 0 {
			add(field, "holds a literal credential: it would be written into workflow history; reference an environment variable of the workers instead, like \"Bearer ${MODEL_TOKEN}\"")
		}
	}
	for i, q := range p.FilteredQueryParams {
		if strings.TrimSpace(q) == "" {
			add(fmt.Sprintf("filtered_query_params[%d]", i), "is empty")
		}
	}
	if p.Hosts.All && len(p.Hosts.Names) > 0 {
		add("hosts", "is all or a list, not both")
	}
	seenHost := map[string]bool{}
	for i, h := range p.Hosts.Names {
		switch {
		case !hostNamePattern.MatchString(h):
			add(fmt.Sprintf("hosts[%d]", i), "%q is not a host name (letters, digits, dots, dashes, underscores)", h)
		case h == "all":
			add(fmt.Sprintf("hosts[%d]", i), "write hosts: all (not inside a list) for every host")
		case seenHost[h]:
			add(fmt.Sprintf("hosts[%d]", i), "%q is listed twice", h)
		}
		seenHost[h] = true
	}
	switch {
	case p.Concurrency < 0:
		add("concurrency", "%d: must be positive", p.Concurrency)
	case p.Concurrency > MaxConcurrency:
		add("concurrency", "%d: at most %d", p.Concurrency, MaxConcurrency)
	}
	if p.Cache.Dir != "" && !strings.HasPrefix(p.Cache.Dir, "/") {
		add("cache.dir", "%q: must be an absolute path", p.Cache.Dir)
	}
	if p.Cache.TTL < 0 {
		add("cache.ttl", "%v: must not be negative (0 keeps entries until max_size evicts them)", p.Cache.TTL)
	}
	if p.Cache.MaxSize < 0 {
		add("cache.max_size", "must not be negative")
	}
	if p.MaxFileSize < 0 {
		add("max_file_size", "must not be negative")
	}
	return es
}

// checkURL returns why a file URL cannot be preheated, or "". Addresses
// written literally are checked here so a plan is refused at once; names are
// checked by the fetcher when it dials.
func (p *Preheat) checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "is empty"
	case err != nil:
		return fmt.Sprintf("%q is not a URL: %v", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q: %s:// URLs are refused: only http and https are fetched", raw, u.Scheme)
	case u.Host == "":
		return fmt.Sprintf("%q has no host", raw)
	case u.User != nil:
		return fmt.Sprintf("%q holds credentials: they would be written into workflow history; send them in a header with an ${ENV} reference", u.Redacted())
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]"))
	if err != nil {
		if strings.EqualFold(u.Hostname(), "localhost") && !p.AllowLoopback {
			return fmt.Sprintf("%q: loopback addresses are refused unless allow_loopback is true", raw)
		}
		return ""
	}
	ip = ip.Unmap()
	switch {
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || metadataAddrs[ip]:
		return fmt.Sprintf("%q: link-local and cloud metadata addresses are always refused", raw)
	case ip.IsUnspecified():
		return fmt.Sprintf("%q: the unspecified address is refused", raw)
	case ip.IsLoopback() && !p.AllowLoopback:
		return fmt.Sprintf("%q: loopback addresses are refused unless allow_loopback is true", raw)
	case (ip.IsPrivate() || cgnat.Contains(ip)) && !p.AllowPrivate:
		return fmt.Sprintf("%q: private addresses are refused unless allow_private is true", raw)
	}
	return ""
}

var (
	cgnat         = netip.MustParsePrefix("100.64.0.0/10")
	metadataAddrs = map[netip.Addr]bool{
		netip.MustParseAddr("100.100.100.200"): true, // Alibaba Cloud
		netip.MustParseAddr("fd00:ec2::254"):   true, // AWS over IPv6
	}
)
