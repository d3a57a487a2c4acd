package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kinds of file content.
const (
	kindText   = iota // log lines: highly compressible
	kindRandom        // incompressible
	kindHalf          // text, then random
	numKinds
)

var kindNames = [numKinds]string{"text", "random", "half"}

// Small files are spread over directories of filesPerDir, dirsPerGroup of
// them in each top-level group.
const (
	smallMin     = 1 << 10
	smallMax     = 64 << 10
	filesPerDir  = 100
	dirsPerGroup = 20
)

// file is one file of the data set; its content follows from the seed and
// its id alone.
type file struct {
	rel  string
	size int64
	kind int
	id   uint64
}

// dataset is the synthetic source tree all tools back up.
type dataset struct {
	root  string
	seed  uint64
	files []file
	bytes int64
	small int // files[:small] are the small ones
	// changed lists the files change rewrote in part, added the files it
	// created; revert undoes both.
	changed []int
	added   []file
}

// planData lays out the data set: small files of random sizes, then large
// ones sharing what is left of size, with ±50% spread.
func planData(root string, seed uint64, small, large int, size int64) (*dataset, error) {
	d := &dataset{root: root, seed: seed, small: small}
	rng := rand.New(rand.NewPCG(seed, 1))
	var smallBytes int64
	for i := range small {
		n := smallMin + rng.Int64N(smallMax-smallMin+1)
		k := rng.IntN(numKinds)
		dir := i / filesPerDir
		d.files = append(d.files, file{
			rel:  fmt.Sprintf("small/g%03d/d%02d/f%06d.%s", dir/dirsPerGroup, dir%dirsPerGroup, i, ext(k)),
			size: n, kind: k, id: uint64(len(d.files)),
		})
		smallBytes += n
	}
	if large > 0 {
		left := size - smallBytes
		if left < int64(large)<<20 {
			return nil, fmt.Errorf("the %d small files take %s of -size %s: not enough left for %d large files of at least 1 MiB (raise -size, or lower -small or -large)",
				small, mib(smallBytes), mib(size), large)
		}
		weights := make([]float64, large)
		var sum float64
		for j := range weights {
			weights[j] = 0.5 + rng.Float64()
			sum += weights[j]
		}
		for j, wt := range weights {
			n := int64(float64(left) * wt / sum)
			k := j % numKinds
			d.files = append(d.files, file{rel: fmt.Sprintf("large/big%03d.%s", j, ext(k)), size: n, kind: k, id: uint64(len(d.files))})
		}
	}
	for _, f := range d.files {
		d.bytes += f.size
	}
	return d, nil
}

// ext names a file by its kind; none is on steward's never-compress list.
func ext(kind int) string { return [numKinds]string{"log", "bin", "dat"}[kind] }

// dataInfo describes the data set in the results.
type dataInfo struct {
	Files      int              `json:"files"`
	Small      int              `json:"small_files"`
	Large      int              `json:"large_files"`
	Bytes      int64            `json:"bytes"`
	SmallBytes int64            `json:"small_bytes"`
	ByKind     map[string]int64 `json:"bytes_by_kind"`
	Change     *changeInfo      `json:"change,omitempty"`
}

func (d *dataset) info() dataInfo {
	in := dataInfo{Files: len(d.files), Small: d.small, Large: len(d.files) - d.small, Bytes: d.bytes, ByKind: map[string]int64{}}
	for i, f := range d.files {
		if i < d.small {
			in.SmallBytes += f.size
		}
		in.ByKind[kindNames[f.kind]] += f.size
	}
	return in
}

// write writes every file of the data set.
func (d *dataset) write() error {
	for _, f := range d.files {
		if err := d.writeFile(f); err != nil {
			return err
		}
	}
	return nil
}

func (d *dataset) writeFile(f file) error {
	p := filepath.Join(d.root, f.rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	out, err := os.Create(p)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	if err := fill(w, f.size, f.kind, d.stream(f.id)); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	return out.Close()
}

// stream is the content generator of stream id.
func (d *dataset) stream(id uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], d.seed)
	binary.LittleEndian.PutUint64(key[8:], id)
	copy(key[16:], "steward-backup")
	return rand.NewChaCha8(key)
}

// changeStream numbers the content streams of change, apart from the
// files' own.
const changeStream = 1 << 62

// changeInfo says what change did.
type changeInfo struct {
	Files        int   `json:"changed_files"`
	BytesWritten int64 `json:"changed_bytes"`
	Added        int   `json:"added_files"`
	AddedBytes   int64 `json:"added_bytes"`
}

// change rewrites part of 5% of the files (at least one large one when
// there are some) and adds small files, 0.5% of their number: the same
// change in every round, for a given seed.
func (d *dataset) change() (changeInfo, error) {
	var ci changeInfo
	rng := rand.New(rand.NewPCG(d.seed, 2))
	pick := func(n int) []int { return rng.Perm(n)[:(n*5+99)/100] }
	d.changed = append(d.changed, pick(d.small)...)
	for _, j := range pick(len(d.files) - d.small) {
		d.changed = append(d.changed, d.small+j)
	}
	slices.Sort(d.changed)
	for _, i := range d.changed {
		f := d.files[i]
		n := min(max(f.size/4, 1<<10), 4<<20, f.size)
		off := rng.Int64N(f.size - n + 1)
		if err := d.overwrite(f.rel, off, n, changeStream+f.id); err != nil {
			return ci, err
		}
		ci.Files++
		ci.BytesWritten += n
	}
	if d.small > 0 {
		for i := range max(1, d.small/200) {
			near := d.files[rng.IntN(d.small)]
			f := file{
				rel:  filepath.Join(filepath.Dir(near.rel), fmt.Sprintf("added%04d.%s", i, ext(kindText))),
				size: smallMin + rng.Int64N(smallMax-smallMin+1),
				kind: kindText,
				id:   changeStream + uint64(len(d.files)+i),
			}
			if err := d.writeFile(f); err != nil {
				return ci, err
			}
			d.added = append(d.added, f)
			ci.Added++
			ci.AddedBytes += f.size
		}
	}
	return ci, nil
}

// overwrite writes n random bytes of stream id at off into rel.
func (d *dataset) overwrite(rel string, off, n int64, id uint64) error {
	p := filepath.Join(d.root, rel)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.NewOffsetWriter(f, off), io.LimitReader(d.stream(id), n)); err != nil {
		f.Close()
		return fmt.Errorf("change %s: %w", p, err)
	}
	return f.Close()
}

// revert gives the changed files their original content back and removes
// the added ones.
func (d *dataset) revert() error {
	for _, i := range d.changed {
		if err := d.writeFile(d.files[i]); err != nil {
			return err
		}
	}
	for _, f := range d.added {
		if err := os.Remove(filepath.Join(d.root, f.rel)); err != nil {
			return err
		}
	}
	d.changed, d.added = nil, nil
	return nil
}

// fill writes n bytes of content of kind from rng to w.
func fill(w io.Writer, n int64, kind int, rng *rand.ChaCha8) error {
	switch kind {
	case kindRandom:
		_, err := io.CopyN(w, rng, n)
		return err
	case kindHalf:
		if err := writeText(w, n/2, rng); err != nil {
			return err
		}
		_, err := io.CopyN(w, rng, n-n/2)
		return err
	default:
		return writeText(w, n, rng)
	}
}

var (
	logLevels     = []string{"DEBUG", "INFO", "INFO", "INFO", "INFO", "WARN", "ERROR"}
	logComponents = []string{"api", "auth", "cache", "db", "http", "queue", "scheduler", "storage", "worker", "backup"}
	logWords      = strings.Fields(`request served started finished retry connection closed opened user
		session token expired refreshed upload download chunk index flush commit rollback
		timeout slow query cache hit miss evicted lease renewed acquired released snapshot
		manifest blob pack written read verified failed ok done pending queued`)
)

// writeText writes n bytes of log lines from rng to w.
func writeText(w io.Writer, n int64, rng *rand.ChaCha8) error {
	r := rand.New(rng)
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	buf := make([]byte, 0, 64<<10)
	for n > 0 {
		for len(buf) < 63<<10 {
			t = t.Add(time.Duration(r.IntN(5000)) * time.Millisecond)
			buf = t.AppendFormat(buf, "2006-01-02T15:04:05.000Z ")
			buf = append(buf, logLevels[r.IntN(len(logLevels))]...)
			buf = append(buf, " component="...)
			buf = append(buf, logComponents[r.IntN(len(logComponents))]...)
			buf = append(buf, " request_id="...)
			buf = strconv.AppendUint(buf, r.Uint64()>>44, 16)
			buf = append(buf, ` msg="`...)
			for i := range 3 + r.IntN(8) {
				if i > 0 {
					buf = append(buf, ' ')
				}
				buf = append(buf, logWords[r.IntN(len(logWords))]...)
			}
			buf = append(buf, `" duration_ms=`...)
			buf = strconv.AppendInt(buf, int64(r.IntN(2000)), 10)
			buf = append(buf, '\n')
		}
		k := min(int64(len(buf)), n)
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
		buf = buf[:0]
	}
	return nil
}

// entry is what the comparison of a restore knows of one path.
type entry struct {
	dir  bool
	size int64
	sum  [sha256.Size]byte
}

// manifest describes every directory and regular file under root (by path
// relative to it): sizes and sha256 of the files. Anything else is an
// error: the data set has nothing else.
func manifest(root string) (map[string]entry, error) {
	m := map[string]entry{}
	h := sha256.New()
	buf := make([]byte, 1<<20)
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		switch {
		case de.IsDir():
			m[rel] = entry{dir: true}
			return nil
		case !de.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file or directory (%v)", p, de.Type())
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h.Reset()
		n, err := io.CopyBuffer(h, f, buf)
		if err != nil {
			return err
		}
		e := entry{size: n}
		h.Sum(e.sum[:0])
		m[rel] = e
		return nil
	})
	return m, err
}

// compareTrees reports how got differs from want, naming up to 10
// differences.
func compareTrees(want, got map[string]entry) error {
	var diffs []string
	for _, rel := range slices.Sorted(maps.Keys(want)) {
		w, g := want[rel], got[rel]
		if _, ok := got[rel]; !ok {
			diffs = append(diffs, rel+": missing")
		} else if w.dir != g.dir || w.size != g.size || w.sum != g.sum {
			diffs = append(diffs, fmt.Sprintf("%s: %s, want %s", rel, g.describe(), w.describe()))
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[rel]; !ok {
			diffs = append(diffs, rel+": not in the source")
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	n := len(diffs)
	if n > 10 {
		diffs = append(diffs[:10], "...")
	}
	return fmt.Errorf("%d differences: %s", n, strings.Join(diffs, "; "))
}

func (e entry) describe() string {
	if e.dir {
		return "a directory"
	}
	return fmt.Sprintf("%d bytes, sha256 %x", e.size, e.sum[:8])
}

// duBytes is the apparent size of the regular files under dir.
func duBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if de.Type().IsRegular() {
			fi, err := de.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
