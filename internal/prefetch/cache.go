package prefetch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// CacheOptions configure a Cache.
type CacheOptions struct {
	// TTL evicts entries not used for this long (0: never).
	TTL time.Duration
	// MaxSize evicts least recently used entries while the blobs take more
	// bytes than this (0: unlimited).
	MaxSize int64
	// Now is the clock; it stamps fetched and last-used times.
	Now func() time.Time
}

// Cache is a content-addressed blob store on the local disk.
//
// Layout under its directory (0700; files 0600):
//
//	blobs/sha256/<hex>     the content, named by its sha256 digest
//	index/<sha256(key)>    one JSON Entry per cache key
//	tmp/                   files being written; never listed
//	locks/                 flock(2) lock files (see below)
//
// Every file reaches its final name by temp → fsync → rename → fsync of the
// directory, so a blob or index file is either absent or complete. Several
// keys may share a blob; a blob goes when no entry refers to it any more.
//
// A Cache is safe for concurrent use, and several processes (or Cache values)
// may share a directory: every change to the index or removal of a blob
// (Put's and a download's commit, Path's and Fetch's marking an entry used,
// Remove, Evict) holds a cache-wide advisory lock, locks/cache, so an
// eviction never deletes a blob that another process is committing an entry
// for. A download holds its key's lock, locks/key-<sha256(key)>, from start
// to commit, so two processes never write the same partial file and the
// second finds the first one's entry. Lookup, List and NextExpiry take no
// lock: every file they read appears by rename.
type Cache struct {
	dir  string
	opts CacheOptions
	mu   sync.Mutex // in-process half of the cache-wide lock; see exclusive

	// onLockWait, if set, is called when a lock (cacheLockName or a key)
	// is held elsewhere and the caller starts waiting; tests only.
	onLockWait func(what string)
	// beforeIndexWrite, if set, runs in commit between the blob's rename
	// and the index write, with the cache-wide lock held; tests only.
	beforeIndexWrite func()
}

// Entry is one cache key's record in the index.
type Entry struct {
	Key          string    `json:"key"`
	Digest       string    `json:"digest"` // "sha256:<hex>"
	Size         int64     `json:"size"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Fetched      time.Time `json:"fetched"`
	LastUsed     time.Time `json:"last_used"`
}

// Meta is what a store records besides the content: the HTTP validators used
// to revalidate the entry later.
type Meta struct {
	ETag         string
	LastModified string
}

const (
	dirPerm  = 0o700
	filePerm = 0o600
)

// OpenCache opens (creating if needed) the cache in dir.
func OpenCache(dir string, opts CacheOptions) (*Cache, error) {
	if opts.Now == nil {
		return nil, errors.New("open cache: no clock")
	}
	for _, d := range []string{dir, filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "index"), filepath.Join(dir, "tmp"), filepath.Join(dir, "locks")} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("open cache %s: %w", dir, err)
		}
		// MkdirAll leaves existing directories and the umask alone.
		if err := os.Chmod(d, dirPerm); err != nil {
			return nil, fmt.Errorf("open cache %s: %w", dir, err)
		}
	}
	return &Cache{dir: dir, opts: opts}, nil
}

// Dir returns the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Lookup returns the entry for key, without marking it used.
func (c *Cache) Lookup(key string) (Entry, error) {
	return c.lookup(key)
}

// Path returns the blob file holding key's content and marks the entry used.
// (Marking writes the index, so Path takes the cache-wide lock.)
func (c *Cache) Path(key string) (string, error) {
	unlock, err := c.exclusive()
	if err != nil {
		return "", err
	}
	defer unlock()
	e, err := c.lookup(key)
	if err != nil {
		return "", err
	}
	if err := c.touch(e, false); err != nil {
		return "", err
	}
	return c.blobPath(e.Digest), nil
}

// List returns every entry, sorted by key.
func (c *Cache) List() ([]Entry, error) {
	return c.list()
}

// NextExpiry returns the earliest time an entry expires under the TTL (its
// LastUsed + TTL; Evict at or after that time removes it): when to run Evict
// next. ok is false when there is no TTL, no entry, or the index cannot be
// read. Using an entry meanwhile only makes its expiry later.
func (c *Cache) NextExpiry() (t time.Time, ok bool) {
	if c.opts.TTL <= 0 {
		return time.Time{}, false
	}
	entries, err := c.list()
	if err != nil {
		return time.Time{}, false
	}
	for _, e := range entries {
		if exp := e.LastUsed.Add(c.opts.TTL); !ok || exp.Before(t) {
			t, ok = exp, true
		}
	}
	return t, ok
}

// Remove deletes key's entry, and its blob unless another entry uses it.
func (c *Cache) Remove(key string) error {
	unlock, err := c.exclusive()
	if err != nil {
		return fmt.Errorf("remove %s: %w", key, err)
	}
	defer unlock()
	e, err := c.lookup(key)
	if err != nil {
		return err
	}
	entries, err := c.list()
	if err != nil {
		return err
	}
	return c.remove(e, entries)
}

// Put stores r's content under key. If expectDigest ("sha256:<hex>") is not
// empty the content must match it, or nothing is stored. Storing content whose
// blob is already present only updates the index.
func (c *Cache) Put(key string, r io.Reader, expectDigest string, meta Meta) (Entry, error) {
	f, err := os.CreateTemp(c.tmpDir(), "put-*")
	if err != nil {
		return Entry{}, fmt.Errorf("store %s: %w", key, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Entry{}, fmt.Errorf("store %s: %w", key, err)
	}
	return c.commit(key, tmp, h, n, expectDigest, meta)
}

// adopt records key for a blob already in the cache (stored under another
// key), so that known content is never downloaded twice. ok is false when
// the blob is absent.
func (c *Cache) adopt(key, digest string) (e Entry, ok bool, err error) {
	unlock, err := c.exclusive()
	if err != nil {
		return Entry{}, false, err
	}
	defer unlock()
	fi, err := os.Stat(c.blobPath(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, err
	}
	now := c.opts.Now()
	e = Entry{Key: key, Digest: digest, Size: fi.Size(), Fetched: now, LastUsed: now}
	if err := c.writeEntry(e); err != nil {
		return Entry{}, false, err
	}
	return e, true, nil
}

// commit moves the complete, fsynced file tmp (n bytes hashed by h) into the
// cache under key. tmp is consumed (renamed or left for the caller to delete).
func (c *Cache) commit(key, tmp string, h hash.Hash, n int64, expectDigest string, meta Meta) (Entry, error) {
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if expectDigest != "" && !strings.EqualFold(expectDigest, digest) {
		return Entry{}, fmt.Errorf("store %s: %w: expected %s, got %s", key, ErrDigestMismatch, expectDigest, digest)
	}
	unlock, err := c.exclusive()
	if err != nil {
		return Entry{}, fmt.Errorf("store %s: %w", key, err)
	}
	defer unlock()
	blob := c.blobPath(digest)
	if _, err := os.Stat(blob); errors.Is(err, fs.ErrNotExist) {
		if err := os.Chmod(tmp, filePerm); err != nil {
			return Entry{}, fmt.Errorf("store %s: %w", key, err)
		}
		if err := os.Rename(tmp, blob); err != nil {
			return Entry{}, fmt.Errorf("store %s: %w", key, err)
		}
		if err := syncDir(filepath.Dir(blob)); err != nil {
			return Entry{}, fmt.Errorf("store %s: %w", key, err)
		}
	} else if err != nil {
		return Entry{}, fmt.Errorf("store %s: %w", key, err)
	}
	if c.beforeIndexWrite != nil {
		c.beforeIndexWrite()
	}
	now := c.opts.Now()
	e := Entry{Key: key, Digest: digest, Size: n, ETag: meta.ETag, LastModified: meta.LastModified, Fetched: now, LastUsed: now}
	if err := c.writeEntry(e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Evict removes entries unused for the TTL or longer (see NextExpiry), then
// least recently used entries while the blobs exceed MaxSize, then blobs no
// entry refers to, leftover temporary files older than the TTL and idle lock
// files. It returns the removed entries, oldest use first. Evict holds the
// cache-wide lock throughout, so it may run in another process than the
// downloads (a partial download in progress is never removed).
func (c *Cache) Evict(now time.Time) ([]Entry, error) {
	unlock, err := c.exclusive()
	if err != nil {
		return nil, fmt.Errorf("evict: %w", err)
	}
	defer unlock()
	entries, err := c.list()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		if r := a.LastUsed.Compare(b.LastUsed); r != 0 {
			return r
		}
		return strings.Compare(a.Key, b.Key)
	})
	sizes := map[string]int64{}
	for _, e := range entries {
		sizes[e.Digest] = e.Size
	}
	var total int64
	for _, s := range sizes {
		total += s
	}
	var removed []Entry
	for len(entries) > 0 {
		e := entries[0]
		expired := c.opts.TTL > 0 && !now.Before(e.LastUsed.Add(c.opts.TTL))
		over := c.opts.MaxSize > 0 && total > c.opts.MaxSize
		if !expired && !over {
			// Entries are in use order: if the oldest is neither expired
			// nor needed for space, nothing later is.
			break
		}
		if err := c.remove(e, entries); err != nil {
			return removed, err
		}
		entries = entries[1:]
		if !slices.ContainsFunc(entries, func(o Entry) bool { return o.Digest == e.Digest }) {
			total -= e.Size
		}
		removed = append(removed, e)
	}
	if err := c.removeOrphans(entries); err != nil {
		return removed, err
	}
	if err := c.removeStaleTmp(now); err != nil {
		return removed, err
	}
	if err := c.removeIdleLocks(); err != nil {
		return removed, err
	}
	return removed, nil
}

// removeOrphans deletes blobs that no entry refers to (left by a crash between
// a blob's rename and its index write).
func (c *Cache) removeOrphans(entries []Entry) error {
	used := map[string]bool{}
	for _, e := range entries {
		used[e.Digest] = true
	}
	dir := filepath.Join(c.dir, "blobs", "sha256")
	names, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("evict: %w", err)
	}
	for _, n := range names {
		if !used["sha256:"+n.Name()] {
			if err := os.Remove(filepath.Join(dir, n.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("evict: %w", err)
			}
		}
	}
	return nil
}

// removeStaleTmp deletes temporary and partial files not modified within the
// TTL (or a day without one), except the partial files of a download in
// progress (one whose key lock is held: the server may just be slow).
func (c *Cache) removeStaleTmp(now time.Time) error {
	ttl := c.opts.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	names, err := os.ReadDir(c.tmpDir())
	if err != nil {
		return fmt.Errorf("evict: %w", err)
	}
	for _, n := range names {
		info, err := n.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if now.Sub(info.ModTime()) <= ttl {
			continue
		}
		var held *fileLock
		if hash, ok := partialKeyHash(n.Name()); ok {
			l, ok, err := c.tryLockKeyHash(hash)
			if err != nil {
				return fmt.Errorf("evict: %w", err)
			}
			if !ok {
				continue // being downloaded
			}
			held = l
		}
		err = os.Remove(filepath.Join(c.tmpDir(), n.Name()))
		if held != nil {
			held.unlock()
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("evict: %w", err)
		}
	}
	return nil
}

// remove deletes e's index file and its blob unless another of entries uses it.
func (c *Cache) remove(e Entry, entries []Entry) error {
	if err := os.Remove(c.indexPath(e.Key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", e.Key, err)
	}
	for _, o := range entries {
		if o.Key != e.Key && o.Digest == e.Digest {
			return nil
		}
	}
	if err := os.Remove(c.blobPath(e.Digest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", e.Key, err)
	}
	return nil
}

// touch marks e used now (and revalidated now, if revalidated).
func (c *Cache) touch(e Entry, revalidated bool) error {
	now := c.opts.Now()
	e.LastUsed = now
	if revalidated {
		e.Fetched = now
	}
	return c.writeEntry(e)
}

// errGone says that a cache entry went (evicted, perhaps by another process)
// or changed between a download's lookup and its use: the download starts
// over.
var errGone = errors.New("cache entry removed or replaced while in use")

// markUsed marks key's entry used now (and revalidated now, if revalidated)
// and returns it, provided the entry still holds digest and its blob is
// there; errGone otherwise. It never brings back an entry removed meanwhile.
func (c *Cache) markUsed(key, digest string, revalidated bool) (Entry, error) {
	unlock, err := c.exclusive()
	if err != nil {
		return Entry{}, err
	}
	defer unlock()
	e, err := c.lookup(key)
	if errors.Is(err, ErrNotFound) || (err == nil && e.Digest != digest) {
		return Entry{}, fmt.Errorf("%s: %w", key, errGone)
	}
	if err != nil {
		return Entry{}, err
	}
	now := c.opts.Now()
	e.LastUsed = now
	if revalidated {
		e.Fetched = now
	}
	if err := c.writeEntry(e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

func (c *Cache) lookup(key string) (Entry, error) {
	e, err := readEntry(c.indexPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Entry{}, err
	}
	if _, err := os.Stat(c.blobPath(e.Digest)); err != nil {
		// The blob went (removed by hand?): the entry is useless.
		return Entry{}, fmt.Errorf("%s: blob %s: %w", key, e.Digest, ErrNotFound)
	}
	return e, nil
}

func (c *Cache) list() ([]Entry, error) {
	dir := filepath.Join(c.dir, "index")
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list cache %s: %w", c.dir, err)
	}
	entries := []Entry{}
	for _, n := range names {
		e, err := readEntry(filepath.Join(dir, n.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return entries, nil
}

func readEntry(path string) (Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Entry{}, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, fmt.Errorf("read cache index %s: %w", path, err)
	}
	return e, nil
}

func (c *Cache) writeEntry(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("write index for %s: %w", e.Key, err)
	}
	if err := c.writeFile(c.indexPath(e.Key), b); err != nil {
		return fmt.Errorf("write index for %s: %w", e.Key, err)
	}
	return nil
}

// writeFile writes b to path atomically: temp file in tmp/, fsync, rename,
// fsync of path's directory.
func (c *Cache) writeFile(path string, b []byte) error {
	f, err := os.CreateTemp(c.tmpDir(), "write-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *Cache) tmpDir() string { return filepath.Join(c.dir, "tmp") }

func (c *Cache) blobPath(digest string) string {
	return filepath.Join(c.dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func (c *Cache) indexPath(key string) string {
	return filepath.Join(c.dir, "index", keyHash(key))
}

// keyHash names a key's files: keys are URLs, too long and too free-form to
// be file names.
func keyHash(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}
