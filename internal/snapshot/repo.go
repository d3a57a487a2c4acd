// Package snapshot is steward's backup engine: deduplicated, compressed,
// encrypted snapshots of a directory in a kopia repository, made with the
// kopia library.
//
// A repository made here has kopia's default format, so the kopia CLI opens
// it with the same password. Snapshots carry user tags the way `kopia
// snapshot create --tags key:value` writes them, so `kopia snapshot list
// --tags` shows them. The package knows nothing of Temporal; the activities
// in activities/backup adapt it.
package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/blob/filesystem"
	"github.com/kopia/kopia/repo/content"
	"github.com/kopia/kopia/repo/format"
	"github.com/kopia/kopia/repo/maintenance"
	"github.com/kopia/kopia/snapshot/policy"
	"golang.org/x/sys/unix"

	"github.com/steward-ops/steward/internal/repository"
)

// DefaultUsername is the user name of the kopia source identity
// (user@host:path) of steward's snapshots unless Options.Username says
// otherwise. It keeps them apart from snapshots a person takes with the kopia
// CLI on the same host.
const DefaultUsername = "steward"

// Options say which repository to open and how.
type Options struct {
	// Repository is the repository's location: a local directory path
	// (kopia's filesystem storage), s3://bucket/prefix, sftp://user@host/path,
	// webdav://host/path or rclone://remote:path. Other kopia storages give
	// ErrUnsupported.
	Repository string
	// Password encrypts the repository. It is never written anywhere by
	// this package and never appears in its errors.
	Password string
	// Create makes a new repository when the location holds none yet (a
	// missing or empty directory).
	Create bool
	// Hostname and Username name the kopia source of snapshots taken through
	// this Repo (user@host:path). Defaults: the host name as kopia
	// normalizes it, and DefaultUsername.
	Hostname, Username string
	// ConfigDir holds, in one subdirectory per repository location, kopia's
	// connection config and local cache. Default: steward/kopia under
	// os.UserCacheDir().
	ConfigDir string
	// S3, SFTP, WebDAV and RClone say how to reach a repository of their
	// scheme (nil for a local path).
	S3     *S3Options
	SFTP   *SFTPOptions
	WebDAV *WebDAVOptions
	RClone *RCloneOptions
	// Uncached makes every read go to the repository's storage, never to
	// the local cache: what a verification needs, since a cached copy of
	// data hides damage to the stored one.
	Uncached bool
}

// Repo is an open repository. It is safe for concurrent use; Close it when
// done.
type Repo struct {
	rep       repo.Repository
	location  string // the repository's absolute path or URL, for messages
	configDir string // kopia's connection config and cache
	host      string
	user      string
}

// Cache sizes for the local kopia cache. Data of a local repository is not
// worth caching twice on the same machine; metadata (directory listings,
// manifests) makes unchanged snapshots fast. (A data cache of 0 bytes is
// not "none": kopia v0.22.3 then fails on the first read of file data.)
const (
	contentCacheBytes  = 64 << 20
	metadataCacheBytes = 512 << 20
)

// Open opens the repository opts.Repository names, creating it first if
// opts.Create is set and the location holds no repository yet.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	loc, parsed, err := location(opts.Repository)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", repository.Redact(opts.Repository), err)
	}
	fail := func(err error) error {
		return fmt.Errorf("open repository %s: %w", loc, classify(err))
	}
	if opts.Hostname == "" {
		opts.Hostname = repo.GetDefaultHostName(ctx)
	}
	if opts.Username == "" {
		opts.Username = DefaultUsername
	}
	configDir, err := connectionDir(opts.ConfigDir, loc)
	if err != nil {
		return nil, fail(err)
	}

	var st blob.Storage
	if parsed.Scheme != "" {
		st, err = remoteStorage(ctx, parsed, opts)
	} else {
		st, err = storage(ctx, loc, opts.Create, opts.Password)
	}
	if err != nil {
		return nil, fail(err)
	}
	defer st.Close(ctx) //nolint:errcheck // only used to create and describe the repository

	configFile := filepath.Join(configDir, "repository.config")
	if opts.Uncached {
		configFile = filepath.Join(configDir, "repository-uncached.config")
	}
	if err := writeConfig(configFile, st.ConnectionInfo(), filepath.Join(configDir, "cache"), opts, loc); err != nil {
		return nil, fail(err)
	}
	rep, err := repo.Open(ctx, configFile, opts.Password, &repo.Options{
		// kopia's default exits the process; the error is returned anyway.
		OnFatalError: func(error) {},
		// Fail (and let the caller retry later) rather than wait without
		// end while another client upgrades the repository format.
		DoNotWaitForUpgrade: true,
	})
	if err != nil {
		return nil, fail(err)
	}
	if err := populate(ctx, rep); err != nil {
		rep.Close(ctx) //nolint:errcheck // the populate error says more
		return nil, fail(err)
	}
	return &Repo{rep: rep, location: loc, configDir: configDir, host: opts.Hostname, user: opts.Username}, nil
}

// Close releases the repository; writes were flushed by the calls that made
// them.
func (r *Repo) Close(ctx context.Context) error {
	if err := r.rep.Close(ctx); err != nil {
		return fmt.Errorf("close repository %s: %w", r.location, classify(err))
	}
	return nil
}

// Refresh makes what other clients wrote since the repository was opened
// (snapshots, maintenance) visible to this Repo, so that an open
// repository can serve many requests over time.
func (r *Repo) Refresh(ctx context.Context) error {
	if err := r.rep.Refresh(ctx); err != nil {
		return fmt.Errorf("refresh repository %s: %w", r.location, classify(err))
	}
	return nil
}

// Location is the repository's absolute path or URL.
func (r *Repo) Location() string { return r.location }

// location checks that s names a supported repository location and returns
// it as messages show it (a clean absolute path, or the URL) and parsed.
// A relative local path is taken from the working directory.
func location(s string) (string, repository.Location, error) {
	if s != "" && !strings.Contains(s, "://") {
		abs, err := filepath.Abs(s)
		return abs, repository.Location{Path: abs}, err
	}
	loc, err := repository.Parse(s)
	if err != nil {
		return "", loc, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	if loc.Scheme == "" {
		return loc.Path, loc, nil
	}
	return repository.Redact(s), loc, nil
}

// connectionDir returns the directory of loc's kopia connection config and
// cache under base (or the default base).
func connectionDir(base, loc string) (string, error) {
	if base == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find a directory for the kopia config (set Options.ConfigDir): %w", err)
		}
		base = filepath.Join(d, "steward", "kopia")
	}
	sum := sha256.Sum256([]byte(loc))
	return filepath.Join(base, hex.EncodeToString(sum[:8])), nil
}

// creating serializes the creation of repositories in this process, so that
// two plans whose first runs start together with a new repository do not
// both create it.
var creating sync.Mutex

// storage returns kopia's storage for the repository at loc, creating the
// repository first if there is none and create is set.
func storage(ctx context.Context, loc string, create bool, password string) (blob.Storage, error) {
	creating.Lock()
	defer creating.Unlock()
	found, err := probe(loc, create)
	if err != nil {
		return nil, err
	}
	st, err := filesystem.New(ctx, &filesystem.Options{Path: loc}, !found)
	if err != nil {
		return nil, err
	}
	if !found {
		if err := initialize(ctx, st, password); err != nil {
			st.Close(ctx) //nolint:errcheck // the creation error says more
			return nil, err
		}
	}
	return st, nil
}

// formatFile is the file of kopia's format blob ("kopia.repository") in a
// filesystem repository: its presence tells a repository.
const formatFile = "kopia.repository.f"

// probe reports whether the directory loc holds a kopia repository. When it
// does not, it returns an error unless create is set and a repository can be
// made there: loc is missing but its parent directory exists (a missing
// parent is often an unmounted disk), or loc is an empty directory (a
// misspelt location must never turn a directory of other files into a
// repository). probe changes nothing.
func probe(loc string, create bool) (bool, error) {
	fi, err := os.Stat(loc)
	if errors.Is(err, os.ErrNotExist) {
		if !create {
			return false, fmt.Errorf("%w: the directory does not exist", ErrNoRepository)
		}
		parent := filepath.Dir(loc)
		pfi, err := os.Stat(parent)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return false, fmt.Errorf("%w: parent directory %s does not exist", ErrNoRepository, parent)
		case err != nil:
			return false, err
		case !pfi.IsDir():
			return false, fmt.Errorf("%w: %s is not a directory", ErrNoRepository, parent)
		}
		return false, writable(parent)
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%w: not a directory", ErrNoRepository)
	}
	if _, err := os.Stat(filepath.Join(loc, formatFile)); err == nil {
		return true, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	entries, err := os.ReadDir(loc)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		// kopia writes its sharding parameters on first access.
		if e.Name() != ".shards" {
			return false, fmt.Errorf("%w: the directory holds other files", ErrNoRepository)
		}
	}
	if !create {
		return false, fmt.Errorf("%w: the directory is empty", ErrNoRepository)
	}
	return false, writable(loc)
}

// writable reports whether this process may create files in dir.
func writable(dir string) error {
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	return nil
}

// Hash is the content hash of the repositories steward creates. BLAKE3
// hashes about four times as fast as kopia's default, BLAKE2b, on x86-64
// with AVX2 (3.2 GB/s against 0.8 GB/s on the machine bench/backup ran
// on), which is most of what takes steward's initial backup below the
// kopia CLI's CPU. The kopia CLI reads such repositories like any other
// (`kopia repository create --block-hash=BLAKE3-256-128` makes the same).
const Hash = "BLAKE3-256-128"

// initialize creates a repository in st the way `kopia repository create
// --block-hash=BLAKE3-256-128` does, its other flags left at their
// defaults.
func initialize(ctx context.Context, st blob.Storage, password string) error {
	if password == "" {
		return errors.New("create repository: empty password")
	}
	err := repo.Initialize(ctx, st, &repo.NewRepositoryOptions{
		BlockFormat:                       format.ContentFormat{Hash: Hash},
		FormatBlockKeyDerivationAlgorithm: format.DefaultKeyDerivationAlgorithm,
	}, password)
	if err != nil && !errors.Is(err, repo.ErrAlreadyInitialized) {
		return fmt.Errorf("create repository: %w", err)
	}
	return nil
}

// populate gives a repository what `kopia repository create` writes after
// initializing it: the global policy and maintenance parameters. It writes
// only what is missing, so an interrupted creation is completed next time.
func populate(ctx context.Context, rep repo.Repository) error {
	_, err := policy.GetDefinedPolicy(ctx, rep, policy.GlobalPolicySourceInfo)
	needPolicy := errors.Is(err, policy.ErrPolicyNotFound)
	if err != nil && !needPolicy {
		return fmt.Errorf("read global policy: %w", err)
	}
	hasParams, err := maintenance.HasParams(ctx, rep)
	if err != nil {
		return fmt.Errorf("read maintenance parameters: %w", err)
	}
	if !needPolicy && hasParams {
		return nil
	}
	return repo.WriteSession(ctx, rep, repo.WriteSessionOptions{Purpose: "steward: populate repository"},
		func(ctx context.Context, w repo.RepositoryWriter) error {
			if needPolicy {
				if err := policy.SetPolicy(ctx, w, policy.GlobalPolicySourceInfo, policy.DefaultPolicy); err != nil {
					return fmt.Errorf("set global policy: %w", err)
				}
			}
			if !hasParams {
				p := maintenance.DefaultParams()
				p.Owner = w.ClientOptions().UsernameAtHost()
				if err := maintenance.SetParams(ctx, w, &p); err != nil {
					return fmt.Errorf("set maintenance parameters: %w", err)
				}
			}
			return nil
		})
}

// writeConfig writes the kopia connection config for the repository at loc,
// as `kopia repository connect` would but without a stored password, so that
// opening it takes one key derivation rather than two. It is rewritten on
// every Open so that it always matches opts.
func writeConfig(file string, ci blob.ConnectionInfo, cacheDir string, opts Options, loc string) error {
	caching := &content.CachingOptions{
		CacheDirectory:         cacheDir,
		ContentCacheSizeBytes:  contentCacheBytes,
		MetadataCacheSizeBytes: metadataCacheBytes,
	}
	if opts.Uncached {
		// No cache directory: kopia reads everything from storage.
		caching = &content.CachingOptions{}
	}
	lc := repo.LocalConfig{
		Storage: &ci,
		Caching: caching,
		ClientOptions: repo.ClientOptions{
			Hostname:    opts.Hostname,
			Username:    opts.Username,
			Description: "steward: " + loc,
			// Read the format blob from storage on open, not from a cache
			// that may describe an earlier repository at the same path.
			FormatBlobCacheDuration: -1,
		},
	}
	b, err := json.MarshalIndent(lc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode kopia config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("write kopia config: %w", err)
	}
	if old, err := os.ReadFile(file); err == nil && bytes.Equal(old, b) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".repository.config-*")
	if err != nil {
		return fmt.Errorf("write kopia config: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close() //nolint:errcheck // the write error says more
		return fmt.Errorf("write kopia config %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write kopia config %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("write kopia config %s: %w", file, err)
	}
	return nil
}
