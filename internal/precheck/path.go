package precheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// PathExists says Proceed when path exists (a file, a directory or
// anything else; a symbolic link counts when its target exists), Wait when
// it does not.
func PathExists(path string) Result {
	if _, err := os.Stat(path); err != nil {
		return Result{Verdict: Wait, Reason: pathReason(path, err)}
	}
	return Result{Verdict: Proceed}
}

// MinFree says Proceed when the file system holding path has at least
// bytes available to unprivileged users (what df shows as available), Wait
// when it has less or when path cannot be examined.
func MinFree(path string, bytes int64) Result {
	var st unix.Statfs_t
	err := ignoringEINTR(func() error { return unix.Statfs(path, &st) })
	if err != nil {
		return Result{Verdict: Wait, Reason: pathReason(path, err)}
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	if bytes > 0 && free < uint64(bytes) {
		have, want := formatBytes(free), formatBytes(uint64(bytes))
		if have == want { // 9.99 GiB free, want 10 GiB: both read "9.9 GiB"
			have += " (" + strconv.FormatUint(free, 10) + " bytes)"
			want += " (" + strconv.FormatInt(bytes, 10) + " bytes)"
		}
		return Result{Verdict: Wait, Reason: fmt.Sprintf("%s: %s free, want %s", path, have, want)}
	}
	return Result{Verdict: Proceed}
}

// pathReason says why path could not be examined, naming path rather than
// whatever component of it the system call stumbled on:
// "/mnt/backup: no such file or directory".
func pathReason(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Sprintf("%s: %v", path, err)
}

// ignoringEINTR calls f again while it is interrupted by a signal, as
// network and FUSE file systems may do.
func ignoringEINTR(f func() error) error {
	for {
		if err := f(); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// formatBytes writes n in binary units with at most one decimal, rounded
// down so that free space is never overstated: "3.2 GiB", "10 GiB", "512 B".
func formatBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i, unit := 0, uint64(1)
	for i < len(units)-1 && n >= unit<<10 {
		i, unit = i+1, unit<<10
	}
	whole, tenths := n/unit, n%unit*10/unit
	if i == 0 || tenths == 0 {
		return fmt.Sprintf("%d %s", whole, units[i])
	}
	return fmt.Sprintf("%d.%d %s", whole, tenths, units[i])
}
