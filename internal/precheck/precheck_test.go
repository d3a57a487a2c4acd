package precheck_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-ops/steward/internal/precheck"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	touch := precheck.Spec{Kind: precheck.KindCommand, Argv: []string{"touch", marker}}
	sh := lookPath(t, "sh")
	exit := func(code string) precheck.Spec {
		return precheck.Spec{Kind: precheck.KindCommand, Argv: []string{"sh", "-c", "exit " + code}, Timeout: 10 * time.Second}
	}
	for _, tc := range []struct {
		name   string
		specs  []precheck.Spec
		want   precheck.Result
		ranCmd bool // touch ran
	}{
		{"none", nil, precheck.Result{Verdict: precheck.Proceed, Index: -1}, false},
		{"all hold", []precheck.Spec{
			{Kind: precheck.KindPathExists, Path: dir},
			{Kind: precheck.KindMounted, Path: "/"},
			{Kind: precheck.KindMinFree, Path: dir, Bytes: 1},
			touch,
		}, precheck.Result{Verdict: precheck.Proceed, Index: -1}, true},
		{"first that does not hold decides", []precheck.Spec{
			{Kind: precheck.KindPathExists, Path: dir},
			{Kind: precheck.KindMounted, Path: dir},
			exit("1"),
			touch,
		}, precheck.Result{Verdict: precheck.Wait, Index: 1, Reason: dir + " is not a mount point"}, false},
		{"skip", []precheck.Spec{exit("0"), exit("1"), exit("3")},
			precheck.Result{Verdict: precheck.Skip, Index: 1, Reason: "command " + sh + " exited 1"}, false},
		{"missing path", []precheck.Spec{{Kind: precheck.KindPathExists, Path: "/mnt/steward-backup"}, touch},
			precheck.Result{Verdict: precheck.Wait, Reason: "/mnt/steward-backup: no such file or directory"}, false},
		{"unusable spec", []precheck.Spec{{Kind: precheck.KindMounted, Path: "mnt/backup"}, touch},
			precheck.Result{Verdict: precheck.Fail, Reason: `mounted: "mnt/backup" is not an absolute path`}, false},
		{"unknown kind", []precheck.Spec{{Path: "/"}},
			precheck.Result{Verdict: precheck.Fail, Reason: "unknown kind of check Kind(0)"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(marker)
			if got := precheck.Check(t.Context(), tc.specs); got != tc.want {
				t.Errorf("Check = %+v, want %+v", got, tc.want)
			}
			_, err := os.Stat(marker)
			if ran := err == nil; ran != tc.ranCmd {
				t.Errorf("the command after the deciding check ran: %v, want %v", ran, tc.ranCmd)
			}
		})
	}
}

func TestCheckCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got := precheck.Check(ctx, []precheck.Spec{{Kind: precheck.KindPathExists, Path: "/"}})
	want := precheck.Result{Verdict: precheck.Fail, Index: 0, Reason: "path_exists cancelled: context canceled"}
	if got != want {
		t.Errorf("Check = %+v, want %+v", got, want)
	}
}
