package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/restore"
	"github.com/kopia/kopia/snapshot/snapshotfs"
	"golang.org/x/sys/unix"
)

// RestoreRequest says what to restore and where.
type RestoreRequest struct {
	// ID is the snapshot's ID.
	ID string
	// Path is a slash-separated path inside the snapshot; "" or "/" is the
	// whole snapshot. A directory's contents are restored into Target; a
	// file or symbolic link as Target/<its name>.
	Path string
	// Target is the directory restored into; it is created with its
	// parents if missing.
	Target string
	// Resume keeps the files already in the target that have the
	// snapshot's size and modification time (what an interrupted restore
	// already wrote); without it every file is written.
	Resume bool
}

// RestoreProgress is the work done so far by a running restore, written or
// kept: files (symbolic links are not counted, as Entry.Files does not count
// them) and their bytes.
type RestoreProgress struct{ Files, Bytes int64 }

// RestoreStats describes a finished restore.
type RestoreStats struct {
	// Files, Dirs and Symlinks count what was restored, written or kept.
	// Dirs includes the directory restored into Target itself.
	Files, Dirs, Symlinks int64
	// Bytes is the file content written or kept.
	Bytes int64
	// Kept and KeptBytes count the files (and their bytes) kept by Resume.
	Kept, KeptBytes int64
}

// Entry describes a path of a snapshot.
type Entry struct {
	// Path is the path inside the snapshot, slash-separated and clean,
	// without a leading slash: "" is the snapshot's root.
	Path string
	// Name is the last element of Path ("" for the root).
	Name string
	Dir  bool
	// Files and Bytes are, for a directory, its summary's file count and
	// size; for a file, 1 and its size; for a symbolic link, 0 and 0.
	Files, Bytes int64
}

// Stat describes path (as RestoreRequest.Path takes it) of snapshot id. An
// unknown snapshot or path gives an error of kind ErrNotFound.
func (r *Repo) Stat(ctx context.Context, id, path string) (Entry, error) {
	e, clean, err := r.lookup(ctx, id, path)
	if err == nil {
		var en Entry
		en, err = describe(ctx, e, clean)
		if err == nil {
			return en, nil
		}
	}
	return Entry{}, fmt.Errorf("stat %q in snapshot %s in %s: %w", path, id, r.location, classify(err))
}

// Restore writes req.Path of snapshot req.ID into the directory req.Target,
// creating it if needed, and never writes outside it: an entry with a name
// that would leave the target (such as "../x" or "/etc/x"), or a directory
// to restore into that is a symbolic link in the target, fails the restore
// with ErrUnsafePath before anything is written for it.
//
// Existing files are overwritten (unless req.Resume keeps them), existing
// symbolic links and files in the way are replaced, never followed. Each
// file is written to a temporary name in its directory (".<name>.steward-
// restore") and renamed, so a killed restore leaves no partly written file
// under its real name, and the next one reuses the temporary name. Modes,
// modification times and symbolic links are restored; owners only where
// permitted.
//
// progress, if not nil, is called as work advances, never by two goroutines
// at once. Cancelling ctx stops the restore promptly and returns
// context.Cause(ctx).
func (r *Repo) Restore(ctx context.Context, req RestoreRequest, progress func(RestoreProgress)) (RestoreStats, error) {
	st, err := r.restore(ctx, req, progress)
	if err != nil {
		return RestoreStats{}, fmt.Errorf("restore snapshot %s from %s to %s: %w", req.ID, r.location, req.Target, classify(err))
	}
	return st, nil
}

// CheckTarget tells, before a restore, whether target may be restored into:
// a missing target or an empty directory may be; a non-empty directory only
// with overwrite (ErrTargetNotEmpty otherwise); anything but a directory
// never (ErrUnsafePath).
func CheckTarget(target string, overwrite bool) error {
	if target == "" {
		return errors.New("no restore target given")
	}
	fi, err := os.Stat(target)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("restore target %s: %w", target, err)
	case !fi.IsDir():
		return notDirectory(target)
	case overwrite:
		return nil
	}
	f, err := os.Open(target)
	if err != nil {
		return fmt.Errorf("restore target %s: %w", target, err)
	}
	defer f.Close() //nolint:errcheck // read only
	switch _, err := f.Readdirnames(1); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return fmt.Errorf("restore target %s: %w", target, err)
	}
	return fmt.Errorf("%w: %s holds files; use --overwrite to restore into it anyway", ErrTargetNotEmpty, target)
}

func notDirectory(target string) error {
	return &kindError{kind: ErrUnsafePath, err: fmt.Errorf("restore target %s exists and is not a directory", target)}
}

// lookup returns the entry at p in snapshot id, and p clean (as
// Entry.Path).
func (r *Repo) lookup(ctx context.Context, id, p string) (fs.Entry, string, error) {
	man, err := snapshot.LoadSnapshot(ctx, r.rep, manifest.ID(id))
	if err != nil {
		return nil, "", notFound(id, err)
	}
	root, err := snapshotfs.SnapshotRoot(r.rep, man)
	if err != nil {
		return nil, "", err
	}
	clean := strings.TrimPrefix(path.Clean("/"+p), "/")
	if clean == "" {
		return root, "", nil
	}
	noPath := &kindError{kind: ErrNotFound, err: fmt.Errorf("snapshot %s: no path %q", id, clean)}
	e := root
	for _, name := range strings.Split(clean, "/") {
		dir, ok := e.(fs.Directory)
		if !ok {
			return nil, "", noPath
		}
		child, err := dir.Child(ctx, name)
		switch {
		case errors.Is(err, fs.ErrEntryNotFound) || (err == nil && child == nil):
			return nil, "", noPath
		case err != nil:
			return nil, "", fmt.Errorf("snapshot %s: read %q: %w", id, clean, err)
		}
		e = child
	}
	return e, clean, nil
}

// describe returns the Entry of e, found at p.
func describe(ctx context.Context, e fs.Entry, p string) (Entry, error) {
	en := Entry{Path: p, Name: path.Base("/" + p)}
	if p == "" {
		en.Name = ""
	}
	switch e := e.(type) {
	case fs.Directory:
		en.Dir = true
		if d, ok := e.(fs.DirectoryWithSummary); ok {
			s, err := d.Summary(ctx)
			if err != nil {
				return Entry{}, fmt.Errorf("read %q: %w", p, err)
			}
			if s != nil {
				en.Files, en.Bytes = s.TotalFileCount, s.TotalFileSize
			}
		}
	case fs.File:
		en.Files, en.Bytes = 1, e.Size()
	}
	return en, nil
}

func (r *Repo) restore(ctx context.Context, req RestoreRequest, progress func(RestoreProgress)) (RestoreStats, error) {
	if req.Target == "" {
		return RestoreStats{}, errors.New("no restore target given")
	}
	if ctx.Err() != nil {
		return RestoreStats{}, context.Cause(ctx)
	}
	e, _, err := r.lookup(ctx, req.ID, req.Path)
	if err != nil {
		if ctx.Err() != nil {
			return RestoreStats{}, context.Cause(ctx)
		}
		return RestoreStats{}, err
	}
	if fi, err := os.Stat(req.Target); err == nil && !fi.IsDir() {
		return RestoreStats{}, notDirectory(req.Target)
	}
	if err := os.MkdirAll(req.Target, dirWriteMode); err != nil {
		return RestoreStats{}, err
	}
	root, err := os.OpenRoot(req.Target)
	if err != nil {
		return RestoreStats{}, err
	}
	defer root.Close() //nolint:errcheck // nothing is written through it any more
	out := &rootOutput{root: root, top: e, fresh: empty(root)}
	p := &restoreProgress{report: progress, out: out}

	var st RestoreStats
	switch e := e.(type) {
	case fs.Directory:
		st, err = out.restoreDir(ctx, r, e, req.Resume, p)
	case fs.File:
		st, err = out.restoreFile(ctx, e, req.Resume, p)
	case fs.Symlink:
		st, err = out.restoreSymlink(ctx, e, req.Resume)
	default:
		err = fmt.Errorf("snapshot entry %q is neither a file, a directory nor a symbolic link", e.Name())
	}
	if ctx.Err() != nil {
		// kopia's copier stops quietly when cancelled.
		return RestoreStats{}, context.Cause(ctx)
	}
	return st, err
}

// empty reports whether the directory root is empty.
func empty(root *os.Root) bool {
	d, err := root.Open(".")
	if err != nil {
		return false
	}
	defer d.Close() //nolint:errcheck // read only
	_, err = d.ReadDir(1)
	return errors.Is(err, io.EOF)
}

// restoreDir restores the contents of d into the target with kopia's
// parallel copier.
func (o *rootOutput) restoreDir(ctx context.Context, r *Repo, d fs.Directory, resume bool, p *restoreProgress) (RestoreStats, error) {
	cancel := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(cancel) })
	defer stop()
	ks, err := restore.Entry(ctx, r.rep, o, d, restore.Options{
		Incremental: resume,
		// Deep: kopia writes placeholders below this depth.
		RestoreDirEntryAtDepth: math.MaxInt32,
		Parallel:               restoreParallel,
		ProgressCallback:       p.stats,
		Cancel:                 cancel,
	})
	if err != nil {
		// kopia wraps the output's error in words of its own.
		if first := o.err(); first != nil {
			return RestoreStats{}, first
		}
		return RestoreStats{}, err
	}
	st := RestoreStats{
		Files:     int64(ks.RestoredFileCount) + o.keptFiles.Load(),
		Dirs:      int64(ks.RestoredDirCount),
		Symlinks:  int64(ks.RestoredSymlinkCount) + o.keptLinks.Load(),
		Bytes:     ks.RestoredTotalFileSize + o.keptBytes.Load(),
		Kept:      o.keptFiles.Load(),
		KeptBytes: o.keptBytes.Load(),
	}
	p.update(st.Files, st.Bytes)
	return st, nil
}

// restoreFile restores the file f as Target/<its name>.
func (o *rootOutput) restoreFile(ctx context.Context, f fs.File, resume bool, p *restoreProgress) (RestoreStats, error) {
	st := RestoreStats{Files: 1, Bytes: f.Size()}
	if resume && o.FileExists(ctx, f.Name(), f) {
		st.Kept, st.KeptBytes = 1, f.Size()
	} else {
		var written int64
		err := o.WriteFile(ctx, f.Name(), f, func(n int64) {
			written += n
			p.update(0, written)
		})
		if err != nil {
			return RestoreStats{}, err
		}
	}
	p.update(st.Files, st.Bytes)
	return st, nil
}

// restoreSymlink restores the symbolic link l as Target/<its name>.
func (o *rootOutput) restoreSymlink(ctx context.Context, l fs.Symlink, resume bool) (RestoreStats, error) {
	if !resume || !o.SymlinkExists(ctx, l.Name(), l) {
		if err := o.CreateSymlink(ctx, l.Name(), l); err != nil {
			return RestoreStats{}, err
		}
	}
	return RestoreStats{Symlinks: 1}, nil
}

// restoreProgress turns the copier's statistics into RestoreProgress
// reports, one at a time and never going back.
type restoreProgress struct {
	report func(RestoreProgress)
	out    *rootOutput

	mu   sync.Mutex
	last RestoreProgress
}

// stats is the copier's ProgressCallback, called by its workers at once.
func (p *restoreProgress) stats(_ context.Context, s restore.Stats) {
	p.update(int64(s.RestoredFileCount)+p.out.keptFiles.Load(), s.RestoredTotalFileSize+p.out.keptBytes.Load())
}

func (p *restoreProgress) update(files, bytes int64) {
	if p.report == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := RestoreProgress{Files: max(files, p.last.Files), Bytes: max(bytes, p.last.Bytes)}
	if n == p.last {
		return
	}
	p.last = n
	p.report(n)
}

const (
	// dirWriteMode is the mode of directories while their contents are
	// written; FinishDirectory gives them the snapshot's.
	dirWriteMode = 0o700
	// sameTime is how far apart modification times may be for Resume to
	// keep a file, kopia's maxTimeDeltaToConsiderFileTheSame.
	sameTime = 2 * time.Second
	// tempSuffix marks the temporary names files and links are written to.
	tempSuffix = ".steward-restore"
	// nameMax is the longest file name most file systems take.
	nameMax = 255
	// copyBuffer is the size of the buffers file contents are copied
	// with, pooled: a buffer made per file would be gigabytes of garbage
	// over a restore of many files.
	copyBuffer = 256 << 10
	// restoreParallel is how many files are restored at once, as the kopia
	// CLI's default: more than the CPUs, so that one file's writes overlap
	// another's reads and decompression.
	restoreParallel = 8
)

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBuffer); return &b }}

// rootOutput is kopia's restore.Output over an os.Root: every path it is
// handed is checked to stay inside the target, and os.Root refuses any
// path that would leave it anyway, through ".." or a symbolic link.
//
// Paths are the copier's: slash-separated, relative to the target, made of
// the snapshot's entry names with path.Join; "" is the target itself, the
// top entry restored.
type rootOutput struct {
	root *os.Root
	top  fs.Entry // the entry restored into the target itself
	// fresh says the target was empty when the restore began, so that no
	// temporary file of an interrupted restore can be in it.
	fresh bool

	keptFiles, keptBytes, keptLinks atomic.Int64

	mu    sync.Mutex
	first error // the first error returned to the copier
}

var _ restore.Output = (*rootOutput)(nil)

// keep records *err, if it is the first error, for restoreDir to return
// without kopia's wrapping.
func (o *rootOutput) keep(err *error) {
	if *err == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.first == nil {
		o.first = *err
	}
}

func (o *rootOutput) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.first
}

// local checks the copier's path rel of snapshot entry e and returns it as
// a local path for the root ("." for the target itself). It refuses, with
// ErrUnsafePath, an entry whose name is not a single path element and any
// path that is not local.
func (o *rootOutput) local(rel string, e fs.Entry) (string, error) {
	if rel == "" && e == o.top {
		if !e.IsDir() {
			// Files are restored as Target/<name>, never as the target.
			return "", unsafeEntry(e.Name(), rel)
		}
		return ".", nil
	}
	name := e.Name()
	p := filepath.FromSlash(rel)
	if !safeName(name) || !filepath.IsLocal(p) || filepath.Base(p) != name {
		return "", unsafeEntry(name, rel)
	}
	return p, nil
}

// safeName reports whether name is a single path element.
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." &&
		!strings.ContainsAny(name, "/\x00") && filepath.Base(name) == name && !filepath.IsAbs(name)
}

func unsafeEntry(name, rel string) error {
	return &kindError{kind: ErrUnsafePath, err: fmt.Errorf(
		"snapshot entry %q is not a plain file name: restored as %q it could land outside the restore target, so it is refused", name, rel)}
}

// fsErr gives os.Root's refusal of a path that leaves the target (an
// unexported error of package os, "path escapes from parent") the kind
// ErrUnsafePath.
func fsErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *os.PathError
	var le *os.LinkError
	if errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent" ||
		errors.As(err, &le) && le.Err.Error() == "path escapes from parent" {
		return &kindError{kind: ErrUnsafePath, err: err}
	}
	return err
}

// tempName is the temporary name in the same directory of the file or
// symbolic link p, deterministic so that a resumed restore reuses (and so
// removes) what an interrupted one left. (A snapshot holding both "x" and
// ".x.steward-restore" in a directory, which steward never makes, may see
// the second replaced; either way nothing is written outside the target.)
func tempName(p string) string {
	dir, name := filepath.Split(p)
	t := "." + name + tempSuffix
	if len(t) > nameMax {
		sum := sha256.Sum256([]byte(name))
		t = tempSuffix + "-" + hex.EncodeToString(sum[:])[:16]
	}
	return filepath.Join(dir, t)
}

// Parallelizable implements restore.Output.
func (o *rootOutput) Parallelizable() bool { return true }

// BeginDirectory implements restore.Output: it makes the directory, or
// checks the one already there is a directory and not a symbolic link.
func (o *rootOutput) BeginDirectory(ctx context.Context, rel string, d fs.Directory) (err error) {
	defer o.keep(&err)
	p, err := o.start(ctx, rel, d)
	if err != nil {
		return err
	}
	fi, err := o.root.Lstat(p)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return fsErr(o.root.Mkdir(p, dirWriteMode))
	case err != nil:
		return fsErr(err)
	case fi.Mode()&iofs.ModeSymlink != 0:
		return &kindError{kind: ErrUnsafePath, err: fmt.Errorf(
			"%q is a symbolic link in the target; refusing to restore through it", rel)}
	case !fi.IsDir():
		return fmt.Errorf("%q exists in the target and is not a directory", rel)
	case fi.Mode().Perm()&dirWriteMode != dirWriteMode:
		// Left read-only by an earlier restore: writable until finished.
		return fsErr(o.root.Chmod(p, fi.Mode().Perm()|dirWriteMode))
	}
	return nil
}

// start begins every restore.Output call on the entry e at rel: nothing
// more once ctx is done, else e's checked local path.
func (o *rootOutput) start(ctx context.Context, rel string, e fs.Entry) (string, error) {
	if ctx.Err() != nil {
		return "", context.Cause(ctx)
	}
	return o.local(rel, e)
}

// FinishDirectory implements restore.Output: once its contents are
// written, the directory gets the snapshot's owner, mode and time. The
// copier also calls it for a directory whose contents it skipped when
// cancelled; that one is left as it is.
func (o *rootOutput) FinishDirectory(ctx context.Context, rel string, d fs.Directory) (err error) {
	defer o.keep(&err)
	p, err := o.start(ctx, rel, d)
	if err != nil {
		return err
	}
	return o.attributes(p, d)
}

// WriteDirEntry implements restore.Output; it is only called for
// placeholders of shallow restores, which Restore does not make.
func (o *rootOutput) WriteDirEntry(_ context.Context, rel string, _ *snapshot.DirEntry, _ fs.Directory) (err error) {
	defer o.keep(&err)
	return fmt.Errorf("%q: shallow restore placeholders are not supported", rel)
}

// Close implements restore.Output; the caller closes the root.
func (o *rootOutput) Close(context.Context) error { return nil }

// WriteFile implements restore.Output: it writes f (see create for where),
// gives it the snapshot's owner, mode and time, and, if it was written to
// its temporary name, renames it over whatever is at its real name (a
// symbolic link there is replaced, not followed).
func (o *rootOutput) WriteFile(ctx context.Context, rel string, f fs.File, progress restore.FileWriteProgress) (err error) {
	defer o.keep(&err)
	p, err := o.start(ctx, rel, f)
	if err != nil {
		return err
	}
	w, tmp, err := o.create(p)
	if err != nil {
		return err
	}
	err = o.copy(ctx, w, rel, f, progress)
	if err == nil {
		// On the open file: every call by name through os.Root walks
		// the path from the target down again.
		err = fileAttributes(w, f)
	}
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %q: %w", rel, cerr)
	}
	if err == nil && tmp != "" {
		err = o.replace(tmp, p, rel)
	}
	// Removals are best effort: a resumed restore reuses the names.
	switch {
	case err != nil && tmp == "":
		o.root.Remove(p) //nolint:errcheck // made here: nothing was there before
	case err != nil:
		o.root.Remove(tmp) //nolint:errcheck
	case tmp == "" && !o.fresh:
		// What an interrupted restore of this file may have left.
		o.root.Remove(tempName(p)) //nolint:errcheck // usually not there
	}
	return err
}

// create makes the file p, empty, and returns it with the temporary name
// it is written to: "" when p was made itself, which is when nothing was at
// p (the usual restore, into an empty target; O_EXCL never follows a link).
// Otherwise the file is made at p's temporary name and renamed over p once
// written, so that what was at p stays whole until then. A file already at
// the temporary name (left by an interrupted restore) is removed rather than
// truncated: it may be a hard link to a file elsewhere, or a symbolic link.
func (o *rootOutput) create(p string) (w *os.File, tmp string, err error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL | os.O_TRUNC
	w, err = o.root.OpenFile(p, flags, 0o600)
	if !errors.Is(err, iofs.ErrExist) {
		return w, "", fsErr(err)
	}
	tmp = tempName(p)
	w, err = o.root.OpenFile(tmp, flags, 0o600)
	if errors.Is(err, iofs.ErrExist) {
		if err := o.root.Remove(tmp); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return nil, "", fsErr(err)
		}
		w, err = o.root.OpenFile(tmp, flags, 0o600)
	}
	return w, tmp, fsErr(err)
}

// fileAttributes gives the open file w the owner, mode and time of e, as
// attributes does by name.
func fileAttributes(w *os.File, e fs.Entry) error {
	own := e.Owner()
	if err := w.Chown(int(own.UserID), int(own.GroupID)); err != nil &&
		!errors.Is(err, iofs.ErrPermission) && !errors.Is(err, unix.EINVAL) {
		return fsErr(err)
	}
	// After chown, which clears set-user-ID bits.
	if err := w.Chmod(e.Mode() & fs.ModBits); err != nil {
		return fsErr(err)
	}
	return fsErr(futimens(w, e.ModTime()))
}

// futimens sets the access and modification times of the open file f to
// t, to the nanosecond: futimens(3), which is utimensat(2) with no path.
func futimens(f *os.File, t time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall6(unix.SYS_UTIMENSAT, fd, 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	}); err != nil {
		return err
	}
	if errno != 0 {
		return &iofs.PathError{Op: "futimens", Path: f.Name(), Err: errno}
	}
	return nil
}

// copy writes the contents of f to w, reporting progress.
func (o *rootOutput) copy(ctx context.Context, w io.Writer, rel string, f fs.File, progress restore.FileWriteProgress) error {
	r, err := f.Open(ctx)
	if err != nil {
		return fmt.Errorf("open %q in the snapshot: %w", rel, err)
	}
	defer r.Close() //nolint:errcheck // read only
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	n, err := io.CopyBuffer(struct{ io.Writer }{w}, &ctxReader{ctx: ctx, r: r, progress: progress}, *buf)
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case err != nil:
		return fmt.Errorf("write %q: %w", rel, err)
	case n != f.Size():
		return fmt.Errorf("write %q: the snapshot holds %d bytes of it, its entry says %d", rel, n, f.Size())
	}
	return nil
}

// replace renames tmp to p, over any file or symbolic link there; a
// directory there is refused (rename(2) says EISDIR, or EEXIST or
// ENOTEMPTY when it holds something: a file never meets those).
func (o *rootOutput) replace(tmp, p, rel string) error {
	err := o.root.Rename(tmp, p)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("%q exists in the target and is a directory", rel)
	}
	return fsErr(err)
}

// ctxReader reads r until ctx is done, reporting what it read.
type ctxReader struct {
	ctx      context.Context
	r        io.Reader
	progress restore.FileWriteProgress
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	n, err := c.r.Read(b)
	if n > 0 && c.progress != nil {
		c.progress(int64(n))
	}
	return n, err
}

// FileExists implements restore.Output for Resume: p is a regular file
// (not a symbolic link) with the snapshot's size and modification time.
func (o *rootOutput) FileExists(_ context.Context, rel string, f fs.File) bool {
	p, err := o.local(rel, f)
	if err != nil {
		return false // WriteFile refuses it
	}
	fi, err := o.root.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != f.Size() {
		return false
	}
	if d := fi.ModTime().Sub(f.ModTime()); d <= -sameTime || d >= sameTime {
		return false
	}
	// What an interrupted restore of this file may have left.
	o.root.Remove(tempName(p)) //nolint:errcheck // usually not there
	o.keptFiles.Add(1)
	o.keptBytes.Add(f.Size())
	return true
}

// SymlinkExists implements restore.Output for Resume: p is a symbolic link
// with the snapshot's link text.
func (o *rootOutput) SymlinkExists(ctx context.Context, rel string, l fs.Symlink) bool {
	p, err := o.local(rel, l)
	if err != nil {
		return false
	}
	got, err := o.root.Readlink(p)
	if err != nil {
		return false
	}
	want, err := l.Readlink(ctx)
	if err != nil || got != want {
		return false
	}
	o.keptLinks.Add(1)
	return true
}

// CreateSymlink implements restore.Output: the link is made at its
// temporary name and renamed over any file or link at its real name.
func (o *rootOutput) CreateSymlink(ctx context.Context, rel string, l fs.Symlink) (err error) {
	defer o.keep(&err)
	p, err := o.start(ctx, rel, l)
	if err != nil {
		return err
	}
	text, err := l.Readlink(ctx)
	if err != nil {
		return fmt.Errorf("read symbolic link %q in the snapshot: %w", rel, err)
	}
	tmp := tempName(p)
	if err := o.root.Remove(tmp); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fsErr(err)
	}
	// The link's text is stored as it was; os.Root never follows it.
	if err := o.root.Symlink(text, tmp); err != nil {
		return fsErr(err)
	}
	if err := o.linkAttributes(tmp, l); err != nil {
		o.root.Remove(tmp) //nolint:errcheck // best effort
		return err
	}
	if err := o.replace(tmp, p, rel); err != nil {
		o.root.Remove(tmp) //nolint:errcheck // best effort
		return err
	}
	return nil
}

// attributes gives the file or directory p (never a symbolic link: p was
// made by this restore or checked) the owner, mode and modification time
// of e. Owners are best effort: only root may give files to others.
func (o *rootOutput) attributes(p string, e fs.Entry) error {
	if err := o.chown(p, e); err != nil {
		return err
	}
	// After chown, which clears set-user-ID bits.
	if err := o.root.Chmod(p, e.Mode()&fs.ModBits); err != nil {
		return fsErr(err)
	}
	return fsErr(o.root.Chtimes(p, e.ModTime(), e.ModTime()))
}

// linkAttributes gives the symbolic link p the owner and modification time
// of l. os.Root has no Lchtimes (its Chtimes follows links), so the time is
// set with utimensat(AT_SYMLINK_NOFOLLOW) relative to p's directory,
// opened through the root. Links have no mode of their own on Linux.
func (o *rootOutput) linkAttributes(p string, l fs.Symlink) error {
	if err := o.chown(p, l); err != nil {
		return err
	}
	dir, err := o.root.Open(filepath.Dir(p))
	if err != nil {
		return fsErr(err)
	}
	defer dir.Close() //nolint:errcheck // read only
	t := unix.NsecToTimespec(l.ModTime().UnixNano())
	if err := unix.UtimesNanoAt(int(dir.Fd()), filepath.Base(p), []unix.Timespec{t, t}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: p, Err: err}
	}
	return nil
}

// chown gives p (not following a link) e's owner where permitted.
func (o *rootOutput) chown(p string, e fs.Entry) error {
	own := e.Owner()
	err := o.root.Lchown(p, int(own.UserID), int(own.GroupID))
	if err == nil || errors.Is(err, iofs.ErrPermission) || errors.Is(err, unix.EINVAL) {
		// EINVAL: an ID this user namespace does not map.
		return nil
	}
	return fsErr(err)
}
