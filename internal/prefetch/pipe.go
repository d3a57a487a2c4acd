package prefetch

import (
	"hash"
	"io"
	"os"
	"sync"
)

// Receiving a body costs three passes over it: the copy from the socket, the
// copy into the page cache, and the sha256. One goroutine doing all three
// runs at about half the speed of curl on loopback; these helpers overlap
// the hash with the other two and start writeback early, so the fsync
// before commit finds little left to write.

const (
	pipeBuffers = 4
	pipeBuffer  = 1 << 20
	// writebackEvery is how many written bytes start their writeback.
	writebackEvery = 16 << 20
)

// bufPool keeps receive buffers across downloads: a preheat of many small
// files would otherwise allocate pipeBuffers of them per file.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, pipeBuffer)
	return &b
}}

// hasher hashes buffers on its own goroutine, in order.
type hasher struct {
	h    hash.Hash
	in   chan []byte
	free chan []byte
	done chan struct{}
	once sync.Once
}

func newHasher(h hash.Hash) *hasher {
	x := &hasher{h: h, in: make(chan []byte, pipeBuffers), free: make(chan []byte, pipeBuffers), done: make(chan struct{})}
	for range pipeBuffers {
		x.free <- *bufPool.Get().(*[]byte)
	}
	go func() {
		defer close(x.done)
		for b := range x.in {
			x.h.Write(b)
			x.free <- b[:cap(b)]
		}
	}()
	return x
}

// buffer returns a buffer to read into; it is the hasher's again after add.
func (x *hasher) buffer() []byte { return <-x.free }

// add hashes b (a buffer from buffer) after everything added before.
func (x *hasher) add(b []byte) { x.in <- b }

// recycle gives back a buffer that holds nothing to hash.
func (x *hasher) recycle(b []byte) { x.free <- b[:cap(b)] }

// sum waits for every added buffer and returns the hash. It may be called
// more than once (and is, by deferred cleanup on error paths).
func (x *hasher) sum() hash.Hash {
	x.once.Do(func() {
		close(x.in)
		<-x.done
		for {
			select {
			case b := <-x.free:
				bufPool.Put(&b)
			default:
				return
			}
		}
	})
	return x.h
}

// fill reads into buf until it is full or r fails; a short final read comes
// back with r's error (io.EOF at the end of the body).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeback starts writing a file's dirty pages to disk as it grows, so that
// the final fsync waits for the tail only.
type writeback struct {
	f           *os.File
	off, queued int64
}

func (w *writeback) wrote(n int) {
	w.off += int64(n)
	if w.off-w.queued >= writebackEvery {
		startWriteback(w.f, w.queued, w.off-w.queued)
		w.queued = w.off
	}
}
