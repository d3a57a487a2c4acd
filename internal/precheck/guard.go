package precheck

import (
	"path/filepath"
	"strings"
)

// Guard is a path_exists (Mounted false) or mounted precondition: a plan
// whose data lies under it waits for it before each run.
type Guard struct {
	Path    string
	Mounted bool
}

// Waiting returns the guard that path lies under and that does not hold
// now (the external drive is not plugged in), with the reason. Apply-time
// checks skip such a path instead of refusing the plan, and must not
// create anything there.
func Waiting(guards []Guard, path string) (Guard, string, bool) {
	for _, g := range guards {
		if !under(path, g.Path) {
			continue
		}
		r := PathExists(g.Path)
		if r.Verdict == Proceed && g.Mounted {
			r = Mounted(g.Path)
		}
		if r.Verdict != Proceed {
			return g, r.Reason, true
		}
	}
	return Guard{}, "", false
}

// under reports whether path is dir or lies below it. A repository URL or a
// relative path lies under none.
func under(path, dir string) bool {
	if !filepath.IsAbs(path) || !filepath.IsAbs(dir) {
		return false
	}
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// Kind names the guard's precondition as a plan writes it.
func (g Guard) Kind() string {
	if g.Mounted {
		return "mounted"
	}
	return "path_exists"
}
