package precheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWaiting(t *testing.T) {
	dir := t.TempDir()
	drive := filepath.Join(dir, "usb")
	for _, tc := range []struct {
		name    string
		guards  []Guard
		path    string
		waiting bool
		reason  string
	}{
		{"no guard", nil, drive + "/repo", false, ""},
		{"guard missing", []Guard{{Path: drive}}, drive + "/repo", true, "no such file or directory"},
		{"path is the guard", []Guard{{Path: drive}}, drive, true, "no such file or directory"},
		{"other guard", []Guard{{Path: drive + "2"}}, drive + "/repo", false, ""},
		{"prefix is not a parent", []Guard{{Path: drive}}, drive + "-old/repo", false, ""},
		{"URL", []Guard{{Path: "/"}}, "s3://bucket/repo", false, ""},
		{"holding guard", []Guard{{Path: dir}}, dir + "/repo", false, ""},
		{"mounted guard, no mount", []Guard{{Path: dir, Mounted: true}}, dir + "/repo", true, "is not a mount point"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, why, waiting := Waiting(tc.guards, tc.path)
			if waiting != tc.waiting || !strings.Contains(why, tc.reason) {
				t.Fatalf("Waiting = %v %q %v, want waiting %v with %q", g, why, waiting, tc.waiting, tc.reason)
			}
		})
	}
	if _, err := os.Stat(drive); !os.IsNotExist(err) {
		t.Fatalf("Waiting created %s", drive)
	}
}
