package precheck

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMountPoints(t *testing.T) {
	const mountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
36 22 98:0 /mnt1 /mnt/my\040disk rw,noatime master:1 - ext3 /dev/root rw,errors=continue
37 22 0:32 / /mnt/back\134slash rw - tmpfs tmpfs rw
38 22 0:33 / /mnt/tab\011and\012newline rw - tmpfs tmpfs rw
39 22 0:34 / /mnt/not\999octal rw - tmpfs tmpfs rw
`
	got, err := mountPoints(strings.NewReader(mountinfo))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/", "/mnt/my disk", `/mnt/back\slash`, "/mnt/tab\tand\nnewline", `/mnt/not\999octal`}
	slices.Sort(want)
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("mount points = %q, want %q", keys, want)
	}

	for _, bad := range []string{"", "36 22 98:0 /mnt1\n"} {
		if _, err := mountPoints(strings.NewReader(bad)); err == nil {
			t.Errorf("mountPoints(%q): no error", bad)
		}
	}
}

// TestMountFallback checks the device comparison used where the mount
// table cannot be read.
func TestMountFallback(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	noTable := filepath.Join(dir, "no-mountinfo")
	for path, want := range map[string]bool{"/": true, dir: false, file: false} {
		got, err := isMountPoint(path, noTable)
		if err != nil || got != want {
			t.Errorf("isMountPoint(%s) without a mount table = %v, %v; want %v", path, got, err, want)
		}
	}
	if _, err := isMountPoint(filepath.Join(dir, "missing"), noTable); err == nil {
		t.Errorf("isMountPoint of a missing path: no error")
	}
	// /proc is a file system of its own on Linux.
	if _, err := os.Stat(mountinfoPath); err == nil {
		if got, err := isMountPoint("/proc", noTable); err != nil || !got {
			t.Errorf("isMountPoint(/proc) without a mount table = %v, %v; want true", got, err)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[uint64]string{
		0:                       "0 B",
		512:                     "512 B",
		1023:                    "1023 B",
		1024:                    "1 KiB",
		1536:                    "1.5 KiB",
		10 << 30:                "10 GiB",
		3435973836:              "3.1 GiB", // 3.2 GiB less a byte: rounded down
		3435973837:              "3.2 GiB",
		10<<30 - 1:              "9.9 GiB",
		1<<64 - 1:               "15.9 EiB",
		uint64(7.5 * (1 << 40)): "7.5 TiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
