package activities

import "time"

// Preheat activity names.
const (
	// PreheatResolve turns a preheat into the items every target host
	// fetches (an image tag is pinned to its digest once, so all hosts get
	// the same content) and names the target hosts.
	PreheatResolve = "PreheatResolve"
	// PreheatFetch fetches items into the cache of the host whose queue
	// runs it, heartbeating PreheatProgress.
	PreheatFetch = "PreheatFetch"
	// PreheatEvict evicts a host's cache entries past their TTL, then the
	// least recently used ones above the cache's maximum size.
	PreheatEvict = "PreheatEvict"
	// CheckPreheat checks on a target host, before a preheat plan is
	// applied, that its header references resolve and its cache is usable.
	CheckPreheat = "CheckPreheat"
)

// CheckPreheatRequest names what only a target host can check. Path is the
// field path of the plan's preheat section ("plans[0].preheat").
type CheckPreheatRequest struct {
	Path    string     `json:"path"`
	Headers HeaderRefs `json:"headers,omitempty"`
	Cache   CacheSpec  `json:"cache"`
	// Guards are the plan's path_exists and mounted preconditions: a cache
	// under one that does not hold now is not checked (nor created), and a
	// note says so.
	Guards []Guard `json:"guards,omitempty"`
}

// CheckPreheatResult lists the problems found, each naming its field path
// and the host. Empty means usable. Notes are what was left unchecked.
type CheckPreheatResult struct {
	Problems []string `json:"problems"`
	Notes    []string `json:"notes,omitempty"`
}

// Preheat error types. A refused URL, a digest mismatch or content above the
// size limit will not change by retrying the same activity; a run-level
// retry (a later run) may still succeed.
const (
	// ErrRefused: the SSRF guard refused a URL or an address it resolved or
	// redirected to.
	ErrRefused = "StewardRefused"
	// ErrDigestMismatch: the content does not match its expected digest;
	// nothing was cached.
	ErrDigestMismatch = "StewardDigestMismatch"
	// ErrTooLarge: the content is larger than the preheat's max_file_size.
	ErrTooLarge = "StewardTooLarge"
	// ErrPreheatFailed: some items failed for reasons a retry may fix
	// (network errors, truncated bodies, server errors).
	ErrPreheatFailed = "StewardPreheatFailed"
)

// HostsWorkflowID is the workflow that keeps the registry of worker hosts:
// every worker signals it at start, and `hosts: all` means every host in it.
const HostsWorkflowID = "steward/hosts"

// Hosts registry signal and query names.
const (
	SignalRegisterHost = "register"
	QueryHosts         = "hosts"
)

// HostRegistration is the signal a worker sends at start.
type HostRegistration struct {
	Host    string    `json:"host"`
	Version string    `json:"version,omitempty"`
	At      time.Time `json:"at"`
}

// Host is one registered worker host.
type Host struct {
	Host      string    `json:"host"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Online is filled in by readers that ask the server whether a worker
	// polls the host's queue now; the registry itself does not know.
	Online *bool `json:"online,omitempty"`
}

// PreheatSource is what to preheat: files (URLs) or one OCI image.
type PreheatSource struct {
	Files []PreheatFile `json:"files,omitempty"`
	// Image is an image reference; after PreheatResolve it is pinned
	// (registry/repo@sha256:...) and Blobs lists what to fetch.
	Image     string     `json:"image,omitempty"`
	Platforms []string   `json:"platforms,omitempty"`
	Blobs     []OCIBlob  `json:"blobs,omitempty"`
	Headers   HeaderRefs `json:"headers,omitempty"`
	// FilteredQueryParams are left out of cache keys; nil means the
	// defaults, empty filters nothing.
	FilteredQueryParams []string `json:"filtered_query_params"`
	MaxFileSize         int64    `json:"max_file_size,omitempty"`
	AllowLoopback       bool     `json:"allow_loopback,omitempty"`
	AllowPrivate        bool     `json:"allow_private,omitempty"`
}

// HeaderRefs are request headers whose values may hold ${ENV} references,
// resolved by the activity on its own host; secrets never travel in history.
type HeaderRefs map[string]string

// PreheatFile is one URL, with its expected digest if known.
type PreheatFile struct {
	URL    string `json:"url"`
	Digest string `json:"digest,omitempty"`
}

// OCIBlob is one blob of a resolved image.
type OCIBlob struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Size       int64  `json:"size"`
	MediaType  string `json:"media_type,omitempty"`
}

// CacheSpec says where a host's cache is and how it is evicted. An empty Dir
// is the worker's --cache-dir.
type CacheSpec struct {
	Dir     string        `json:"dir,omitempty"`
	TTL     time.Duration `json:"ttl,omitempty"`
	MaxSize int64         `json:"max_size,omitempty"`
}

// PreheatResolveRequest asks for the items and hosts of one preheat run.
type PreheatResolveRequest struct {
	Source PreheatSource `json:"source"`
	// AllHosts asks for every registered host with a worker polling now;
	// Hosts lists hosts by name. Neither: no host (any worker).
	AllHosts bool     `json:"all_hosts,omitempty"`
	Hosts    []string `json:"hosts,omitempty"`
}

// PreheatResolveResult is the source with the image pinned and its blobs
// listed, and the hosts to fetch on.
type PreheatResolveResult struct {
	Source PreheatSource `json:"source"`
	// ImageDigest is what the image reference pointed to when resolved.
	ImageDigest string `json:"image_digest,omitempty"`
	// Platforms are the chosen manifests, "linux/amd64 sha256:...".
	Platforms []string `json:"platforms,omitempty"`
	Hosts     []string `json:"hosts"`
	// Offline are registered hosts skipped because no worker polls their
	// queue (hosts: all only).
	Offline []string `json:"offline,omitempty"`
}

// PreheatFetchRequest fetches a resolved source on one host.
type PreheatFetchRequest struct {
	PlanID      string        `json:"plan_id,omitempty"`
	RunID       string        `json:"run_id"`
	Source      PreheatSource `json:"source"`
	Concurrency int           `json:"concurrency"`
	Cache       CacheSpec     `json:"cache"`
}

// PreheatFetchResult is one host's report.
type PreheatFetchResult struct {
	Host     string `json:"host"`
	CacheDir string `json:"cache_dir"`
	Items    int    `json:"items"`
	// Bytes is the size of all items; Downloaded the bytes transferred by
	// this run (0 when everything was cached already).
	Bytes      int64 `json:"bytes"`
	Downloaded int64 `json:"downloaded"`
	Cached     int   `json:"cached"`
	Resumed    int   `json:"resumed"`
	Failed     int   `json:"failed"`
	// Errors are the failed items' errors (the first few).
	Errors []string `json:"errors,omitempty"`
	// NextExpiry is when the host's next cache entry expires under the TTL.
	NextExpiry *time.Time `json:"next_expiry,omitempty"`
}

// PreheatProgress is the heartbeat detail of a running PreheatFetch.
type PreheatProgress struct {
	Host       string `json:"host"`
	Items      int    `json:"items"`
	Done       int    `json:"done"`
	Bytes      int64  `json:"bytes"` // -1 while some sizes are unknown
	BytesDone  int64  `json:"bytes_done"`
	Downloaded int64  `json:"downloaded"`
}

// PreheatEvictRequest evicts one host's cache.
type PreheatEvictRequest struct {
	Cache CacheSpec `json:"cache"`
}

// PreheatEvictResult says what an eviction removed and what is left.
type PreheatEvictResult struct {
	Host       string     `json:"host"`
	Evicted    int        `json:"evicted"`
	Freed      int64      `json:"freed"`
	Entries    int        `json:"entries"`
	Size       int64      `json:"size"`
	NextExpiry *time.Time `json:"next_expiry,omitempty"`
}
