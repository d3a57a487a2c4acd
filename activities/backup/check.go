package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/precheck"
	"github.com/steward-ops/steward/internal/repository"
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

	var guards []precheck.Guard
	for _, g := range req.Guards {
		guards = append(guards, precheck.Guard{Path: g.Path, Mounted: g.Mounted})
	}
	note := func(field, path string, g precheck.Guard, why string) {
		res.Notes = append(res.Notes, activities.GuardNote(req.Path+"."+field, path, g.Kind(), g.Path, why))
	}
	if g, why, waiting := precheck.Waiting(guards, req.Source); waiting {
		note(fieldSource, req.Source, g, why)
	} else if err := readableDir(req.Source); err != nil {
		add(fieldSource, err)
	}
	opts, problems := a.options(req.Ref)
	for _, p := range problems {
		add(p.field, p.err)
	}
	if g, why, waiting := precheck.Waiting(guards, req.Repository); waiting {
		note(fieldRepository, req.Repository, g, why)
		return res, ctx.Err()
	}
	for _, p := range problems {
		if p.field != fieldPasswordEnv && p.field != fieldPasswordFile {
			// Without its credentials the storage cannot be reached;
			// the problems above say why.
			return res, ctx.Err()
		}
	}
	// An unknown password (empty) makes the check skip it.
	opts.Create = true
	cctx, cancel := context.WithTimeout(ctx, a.CheckTimeout)
	defer cancel()
	err := snapshot.Check(cctx, opts)
	switch {
	case err == nil:
	case errors.Is(err, snapshot.ErrWrongPassword):
		field, from := fieldPasswordEnv, "the password in environment variable "+req.PasswordEnv
		if req.PasswordEnv == "" {
			field, from = fieldPasswordFile, "the password in "+req.PasswordFile
		}
		add(field, fmt.Errorf("%s does not open repository %s", from, repository.Redact(req.Repository)))
	default:
		add(fieldRepository, err)
	}
	return res, ctx.Err()
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
