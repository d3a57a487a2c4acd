package precheck

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// mountinfoPath lists this process's mounts (Linux, proc(5)).
const mountinfoPath = "/proc/self/mountinfo"

// Mounted says Proceed when path, after resolving symbolic links, is itself
// a mount point: the root of a mounted file system or of a bind mount, not
// merely a directory on one. It says Wait when path is not a mount point
// (the backup drive is not plugged in: backups would fill the root file
// system) or cannot be examined.
//
// It reads the mount table in /proc/self/mountinfo. Where that is not
// available it compares the device of path with its parent's, which cannot
// see a bind mount of a directory of the same file system.
func Mounted(path string) Result {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return Result{Verdict: Wait, Reason: pathReason(path, err)}
	}
	if real, err = filepath.Abs(real); err != nil {
		return Result{Verdict: Wait, Reason: pathReason(path, err)}
	}
	name := path
	if real != filepath.Clean(path) {
		name = fmt.Sprintf("%s (%s)", path, real)
	}
	ok, err := isMountPoint(real, mountinfoPath)
	if err != nil {
		return Result{Verdict: Wait, Reason: pathReason(name, err)}
	}
	if !ok {
		return Result{Verdict: Wait, Reason: name + " is not a mount point"}
	}
	return Result{Verdict: Proceed}
}

// isMountPoint reports whether the absolute, symlink-free path is a mount
// point listed in the mountinfo file, or, when that file cannot be read,
// whether it sits on another device than its parent.
func isMountPoint(path, mountinfo string) (bool, error) {
	f, err := os.Open(mountinfo)
	if err == nil {
		defer f.Close()
		points, err := mountPoints(f)
		if err == nil {
			_, ok := points[path]
			return ok, nil
		}
	}
	return deviceBoundary(path)
}

// mountPoints returns the mount points (field 5) of a mountinfo file.
func mountPoints(r io.Reader) (map[string]bool, error) {
	points := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 5 {
			return nil, fmt.Errorf("%s: malformed line %q", mountinfoPath, sc.Text())
		}
		points[unescapeOctal(string(fields[4]))] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", mountinfoPath, err)
	}
	if len(points) == 0 {
		return nil, fmt.Errorf("%s lists no mounts", mountinfoPath)
	}
	return points, nil
}

// unescapeOctal undoes the kernel's escaping of space, tab, newline and
// backslash in mountinfo paths ("/mnt/my\040disk").
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && '0' <= s[i+1] && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// deviceBoundary reports whether path is on another device than the
// directory holding it, or is the root directory.
func deviceBoundary(path string) (bool, error) {
	var st, parent syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Stat(path, &st) }); err != nil {
		return false, err
	}
	if err := ignoringEINTR(func() error { return syscall.Stat(filepath.Dir(path), &parent) }); err != nil {
		return false, err
	}
	if st.Dev != parent.Dev {
		return true, nil
	}
	return st.Ino == parent.Ino, nil
}
