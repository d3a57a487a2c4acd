package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/steward-ops/steward/internal/repository"
	"github.com/steward-ops/steward/internal/snapshot"
)

// Field names of a plan's backup section, as problems name them.
const (
	fieldSource       = "source"
	fieldRepository   = "repository"
	fieldPasswordEnv  = "password_env"
	fieldPasswordFile = "password_file"
)

// problem is what is wrong with one field of a backup section.
type problem struct {
	field string
	err   error
}

// options resolves ref on this host into the engine's options: the
// repository password and every secret its remote section references, read
// from the environment variables and files named there. Problems name the
// field at fault and the variable or file, never a secret's value.
func (a *Activities) options(ref repository.Ref) (snapshot.Options, []problem) {
	opts := snapshot.Options{Repository: ref.Repository, Hostname: a.Hostname, ConfigDir: a.ConfigDir}
	var ps []problem
	get := func(s repository.Secret) string {
		if !s.Given() {
			return ""
		}
		v, err := a.resolve(s)
		if err != nil {
			ps = append(ps, problem{s.Field, err})
		}
		return v
	}
	// read reads a file the plan names (not a secret's reference: a CA,
	// an SSH key, a config), reporting it under field when it cannot.
	read := func(field, file string) []byte {
		if file == "" {
			return nil
		}
		b, err := a.ReadFile(file)
		if err != nil {
			ps = append(ps, problem{field, a.fileError(file, err)})
		}
		return b
	}
	if pw := ref.Password(); pw.Given() {
		opts.Password = get(pw)
	} else {
		ps = append(ps, problem{fieldPasswordEnv, errors.New("neither password_env nor password_file is set")})
	}
	if s := ref.S3; s != nil {
		opts.S3 = &snapshot.S3Options{
			Endpoint: s.Endpoint, Region: s.Region,
			DisableTLS: s.DisableTLS, InsecureSkipVerify: s.InsecureSkipVerify,
			AccessKeyID: get(s.AccessKeyID()), SecretAccessKey: get(s.SecretAccessKey()), SessionToken: get(s.SessionToken()),
		}
		opts.S3.RootCA = read("s3.root_ca_file", s.RootCAFile)
	}
	if s := ref.SFTP; s != nil {
		opts.SFTP = &snapshot.SFTPOptions{KeyFile: s.KeyFile, KnownHostsFile: s.KnownHostsFile, Password: get(s.Password())}
		if opts.SFTP.KnownHostsFile == "" {
			// ssh's default, which kopia would take too.
			home, _ := os.UserHomeDir()
			opts.SFTP.KnownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
		}
		// kopia reads them itself; read here so that a missing one is a
		// problem of its field.
		read("sftp.key_file", opts.SFTP.KeyFile)
		read("sftp.known_hosts_file", opts.SFTP.KnownHostsFile)
	}
	if r := ref.RClone; r != nil {
		opts.RClone = &snapshot.RCloneOptions{ConfigFile: r.ConfigFile, Executable: r.Executable}
		read("rclone.config_file", r.ConfigFile)
	}
	if w := ref.WebDAV; w != nil {
		opts.WebDAV = &snapshot.WebDAVOptions{Username: w.Username, Password: get(w.Password()), DisableTLS: w.DisableTLS}
	}
	return opts, ps
}

// optionsOrError is options, or a bad-config error naming the first field
// at fault.
func (a *Activities) optionsOrError(ref repository.Ref) (snapshot.Options, error) {
	opts, ps := a.options(ref)
	if len(ps) > 0 {
		return opts, badConfig("%s: %v", ps[0].field, ps[0].err)
	}
	return opts, nil
}

// resolve reads one secret on this host: the environment variable, else
// the file, it names.
func (a *Activities) resolve(s repository.Secret) (string, error) {
	if s.Env != "" {
		v, ok := a.LookupEnv(s.Env)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set on host %s", s.Env, a.Hostname)
		}
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty on host %s", s.Env, a.Hostname)
		}
		return v, nil
	}
	b, err := a.ReadFile(s.File)
	if err != nil {
		return "", a.fileError(s.File, err)
	}
	// A trailing newline, as editors and `echo` leave, is not part of the
	// secret.
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%s is empty", s.File)
	}
	return v, nil
}

// fileError says why file could not be read on this host.
func (a *Activities) fileError(file string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such file on host %s", file, a.Hostname)
	}
	// *fs.PathError names the file and says why.
	return fmt.Errorf("%w (on host %s)", err, a.Hostname)
}
