package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/steward-ops/steward/internal/snapshot"
)

// pool keeps repositories open between activities, so that a run does not
// pay every time for opening its repository (key derivation, reading the
// format, index and manifests: half a second of a no-change backup).
//
// An entry is keyed by everything that opened it, resolved secrets
// included: a changed password file or credential opens the repository
// anew, so it is checked against the repository again. A reused entry is
// refreshed first, so it sees what other clients (the kopia CLI, another
// host) wrote since. An entry a request found broken is closed rather than
// reused; an idle one is closed after idle, and at most max stay open.
// When no repository is in use for a while, the pool hands the memory the
// runs used back to the operating system.
type pool struct {
	open func(ctx context.Context, opts snapshot.Options) (Repository, error)
	idle time.Duration
	max  int

	mu      sync.Mutex
	entries map[string]*pooled
	users   int         // requests holding an entry, over all entries
	trim    *time.Timer // returns memory once the pool has been unused a while
	closed  bool
}

// pooled is one open repository and who uses it.
type pooled struct {
	key   string
	ready chan struct{} // closed once r or err is set
	r     Repository
	err   error
	users int
	used  time.Time
	timer *time.Timer // closes the entry when idle
	gone  bool        // removed from the pool: the last user closes r
}

// Pool defaults: how long an unused repository stays open, how many stay
// open, and how long the pool waits, unused, before returning memory.
const (
	defaultPoolIdle = 2 * time.Minute
	defaultPoolMax  = 8
	trimAfter       = 10 * time.Second
)

func newPool(open func(ctx context.Context, opts snapshot.Options) (Repository, error)) *pool {
	return &pool{open: open, idle: defaultPoolIdle, max: defaultPoolMax, entries: map[string]*pooled{}}
}

// poolKey identifies what opens a repository: every option, secrets
// included (hashed, never kept). Create is left out: an open repository
// exists.
func poolKey(opts snapshot.Options) string {
	opts.Create = false
	b, err := json.Marshal(opts)
	if err != nil {
		panic(err) // Options holds strings, bools and byte slices only
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// acquire returns the open repository opts name, opening it if the pool
// has none. release gives it back; broken says the request found it
// unusable, so it is closed rather than reused.
func (p *pool) acquire(ctx context.Context, opts snapshot.Options) (r Repository, release func(broken bool), err error) {
	key := poolKey(opts)
	p.mu.Lock()
	e, found := p.entries[key]
	if !found {
		e = &pooled{key: key, ready: make(chan struct{})}
		p.entries[key] = e
	}
	e.users++
	p.users++
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	if p.trim != nil {
		p.trim.Stop()
		p.trim = nil
	}
	p.mu.Unlock()

	if !found {
		e.r, e.err = p.open(ctx, opts)
		if e.err != nil {
			e.r = nil // not a typed nil for closeLater
		}
		close(e.ready)
		if e.err != nil {
			p.release(e, true)
			return nil, nil, e.err
		}
		p.evict()
	} else {
		select {
		case <-e.ready:
		case <-ctx.Done():
			p.release(e, false)
			return nil, nil, ctx.Err()
		}
		if e.err != nil {
			p.release(e, true)
			return nil, nil, e.err
		}
		if err := e.r.Refresh(ctx); err != nil {
			// Not worth keeping: the next request opens it anew.
			p.release(e, true)
			return nil, nil, err
		}
	}
	return e.r, func(broken bool) { p.release(e, broken) }, nil
}

// release ends one use of e.
func (p *pool) release(e *pooled, broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e.users--
	p.users--
	e.used = time.Now()
	if (broken || p.closed) && !e.gone {
		p.remove(e)
	}
	if e.users == 0 {
		if e.gone {
			p.closeLater(e)
		} else {
			e.timer = time.AfterFunc(p.idle, func() { p.expire(e) })
		}
	}
	if p.users == 0 && !p.closed {
		p.trim = time.AfterFunc(trimAfter, debug.FreeOSMemory)
	}
}

// remove takes e out of the pool; its last user closes it. p.mu is held.
func (p *pool) remove(e *pooled) {
	e.gone = true
	if p.entries[e.key] == e {
		delete(p.entries, e.key)
	}
}

// closeLater closes e's repository, if it opened, without holding p.mu.
func (p *pool) closeLater(e *pooled) {
	if e.r == nil {
		return
	}
	go e.r.Close(context.Background()) //nolint:errcheck // nothing left to tell
}

// expire closes e if nobody used it since its idle timer started.
func (p *pool) expire(e *pooled) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.users == 0 && !e.gone {
		p.remove(e)
		p.closeLater(e)
	}
}

// evict closes the least recently used idle entries beyond max.
func (p *pool) evict() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var idle []*pooled
	for _, e := range p.entries {
		if e.users == 0 {
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(a, b *pooled) int { return a.used.Compare(b.used) })
	for n := len(p.entries); n > p.max && len(idle) > 0; n-- {
		e := idle[0]
		idle = idle[1:]
		if e.timer != nil {
			e.timer.Stop()
		}
		p.remove(e)
		p.closeLater(e)
	}
}

// close closes every idle repository and makes those in use close when
// released.
func (p *pool) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	var idle []*pooled
	for _, e := range p.entries {
		if e.timer != nil {
			e.timer.Stop()
		}
		p.remove(e)
		if e.users == 0 && e.r != nil {
			idle = append(idle, e)
		}
	}
	if p.trim != nil {
		p.trim.Stop()
	}
	p.mu.Unlock()
	for _, e := range idle {
		e.r.Close(ctx) //nolint:errcheck // shutting down
	}
}
