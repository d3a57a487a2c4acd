package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// password resolves a backup's password on this host: from the environment
// variable env if one is named, else from the file file. Its errors name the
// variable or file, never a password, and carry the field they concern so
// CheckBackup can report them under that field's path.
func (a *Activities) password(env, file string) (string, error) {
	p, field, err := a.resolvePassword(env, file)
	if err != nil {
		if field != "" {
			return "", badConfig("%s: %v", field, err)
		}
		return "", badConfig("%v", err)
	}
	return p, nil
}

// Field names of a plan's backup section, as problems name them.
const (
	fieldSource       = "source"
	fieldRepository   = "repository"
	fieldPasswordEnv  = "password_env"
	fieldPasswordFile = "password_file"
)

// resolvePassword returns the password, or the field at fault and why.
func (a *Activities) resolvePassword(env, file string) (password, field string, err error) {
	switch {
	case env != "":
		v, ok := a.LookupEnv(env)
		if !ok {
			return "", fieldPasswordEnv, fmt.Errorf("environment variable %s is not set on host %s", env, a.Hostname)
		}
		if v == "" {
			return "", fieldPasswordEnv, fmt.Errorf("environment variable %s is empty on host %s", env, a.Hostname)
		}
		return v, "", nil
	case file != "":
		b, err := a.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			return "", fieldPasswordFile, fmt.Errorf("%s: no such file on host %s", file, a.Hostname)
		}
		if err != nil {
			// *fs.PathError names the file and says why.
			return "", fieldPasswordFile, fmt.Errorf("%w (on host %s)", err, a.Hostname)
		}
		// A trailing newline, as editors and `echo` leave, is not part of
		// the password.
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fieldPasswordFile, fmt.Errorf("%s is empty", file)
		}
		return v, "", nil
	default:
		return "", "", errors.New("neither password_env nor password_file is set")
	}
}
