package proc

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// CPUModel is the first "model name" of /proc/cpuinfo, or "".
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// MemTotal is the value of the MemTotal line that opens /proc/meminfo, as
// written there (e.g. "8131796 kB"), or "".
func MemTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	l, _, _ := strings.Cut(string(b), "\n")
	if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
		return strings.TrimSpace(v)
	}
	return ""
}

// FreeBytes is the space available to an unprivileged user on the file
// system that holds dir.
func FreeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space in %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}
