package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/precheck"
	"github.com/steward-ops/steward/internal/snapshot"
)

// CheckBackup checks, on the host that will run a backup plan and without
// changing anything there, what only that host can tell: that the source
// is a readable directory, that the password is available and opens the
// repository, and that the repository exists or can be created. Each
// problem names its field under req.Path.
func (a *Activities) CheckBackup(ctx context.Context, req activities.CheckBackupRequest) (activities.CheckBackupResult, error) {
	res := activities.CheckBackupResult{Problems: []string{}}
	add := func(field string, err error) {
		path := req.Path
		if field != "" {
			if path != "" {
				path += "."
			}
			path += field
		}
		if path == "" {
			res.Problems = append(res.Problems, err.Error())
			return
		}
		res.Problems = append(res.Problems, path+": "+err.Error())
	}

	note := func(field, path string, g activities.Guard, why string) {
		kind := "path_exists"
		if g.Mounted {
			kind = "mounted"
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%s.%s: %s is not checked now: it lies under precondition %s %s, and %s; runs wait until it holds",
			req.Path, field, path, kind, g.Path, why))
	}
	if g, why, waiting := waitingGuard(req.Guards, req.Source); waiting {
		note(fieldSource, req.Source, g, why)
	} else if err := readableDir(req.Source); err != nil {
		add(fieldSource, err)
	}
	password, field, err := a.resolvePassword(req.PasswordEnv, req.PasswordFile)
	if err != nil {
		add(field, err)
	}
	if g, why, waiting := waitingGuard(req.Guards, req.Repository); waiting {
		note(fieldRepository, req.Repository, g, why)
		return res, ctx.Err()
	}
	err = snapshot.Check(ctx, snapshot.Options{
		Repository: req.Repository,
		Password:   password, // empty when unknown: the check skips it
		Create:     true,
		ConfigDir:  a.ConfigDir,
	})
	switch {
	case err == nil:
	case errors.Is(err, snapshot.ErrWrongPassword):
		field, from := fieldPasswordEnv, "the password in environment variable "+req.PasswordEnv
		if req.PasswordEnv == "" {
			field, from = fieldPasswordFile, "the password in "+req.PasswordFile
		}
		add(field, fmt.Errorf("%s does not open repository %s", from, req.Repository))
	default:
		add(fieldRepository, err)
	}
	return res, ctx.Err()
}

// waitingGuard returns the guard that path lies under and that does not
// hold now, with the reason it does not.
func waitingGuard(guards []activities.Guard, path string) (activities.Guard, string, bool) {
	for _, g := range guards {
		if !under(path, g.Path) {
			continue
		}
		r := precheck.PathExists(g.Path)
		if r.Verdict == precheck.Proceed && g.Mounted {
			r = precheck.Mounted(g.Path)
		}
		if r.Verdict != precheck.Proceed {
			return g, r.Reason, true
		}
	}
	return activities.Guard{}, "", false
}

// under reports whether path is dir or lies below it. Both are clean
// absolute paths in a validated plan; a repository URL lies under none.
func under(path, dir string) bool {
	if !filepath.IsAbs(path) || !filepath.IsAbs(dir) {
		return false
	}
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// readableDir reports why dir cannot be snapshotted, if it cannot.
func readableDir(dir string) error {
	if dir == "" {
		return errors.New("not set")
	}
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such directory", dir)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if _, err := f.ReadDir(1); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
