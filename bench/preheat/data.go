package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// data is what the server serves, by URL path.
type data struct {
	Tiny      string // 1 KiB, for the overhead case and the warm-up
	TinyWarm  string // another one, for the warm-up only
	Big       string
	BigDigest string // sha256:HEX
	BigSize   int64
	Many      []string
	ManySize  int64 // each
}

// writeData writes the served files under root: content from a seeded
// PRNG, so it is neither compressible nor deduplicated (steward's cache
// stores one blob per digest: identical files would not be written twice).
func writeData(root string, size int64, files int, fileSize int64) (data, error) {
	d := data{Tiny: "/tiny.bin", TinyWarm: "/tiny-warm.bin", Big: "/big.bin", BigSize: size, ManySize: fileSize}
	if err := os.MkdirAll(filepath.Join(root, "many"), 0o755); err != nil {
		return d, err
	}
	rng := rand.NewChaCha8([32]byte{'s', 't', 'e', 'w', 'a', 'r', 'd'})
	for _, p := range []string{d.Tiny, d.TinyWarm} {
		if _, err := writeRandom(filepath.Join(root, p), 1<<10, rng); err != nil {
			return d, err
		}
	}
	digest, err := writeRandom(filepath.Join(root, d.Big), size, rng)
	if err != nil {
		return d, err
	}
	d.BigDigest = digest
	for i := range files {
		p := fmt.Sprintf("/many/f%05d.bin", i)
		if _, err := writeRandom(filepath.Join(root, p), fileSize, rng); err != nil {
			return d, err
		}
		d.Many = append(d.Many, p)
	}
	return d, nil
}

// writeRandom writes size bytes from rng to path and returns their digest.
func writeRandom(path string, size int64, rng io.Reader) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, rng, size); err != nil {
		return "", err
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// server serves root on a loopback port.
type server struct {
	base string // http://127.0.0.1:PORT
	srv  *http.Server
}

// serve serves root with net/http's FileServer: Range, Last-Modified and
// If-Modified-Since (so a repeat is answered 304), sendfile for the bodies.
func serve(root string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{base: "http://" + l.Addr().String(), srv: &http.Server{Handler: http.FileServer(http.Dir(root))}}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *server) url(path string) string { return s.base + path }

func (s *server) urls(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = s.url(p)
	}
	return out
}

func (s *server) Close() error { return s.srv.Close() }

// writeLines writes one line per element.
func writeLines(path string, lines []string) error {
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
