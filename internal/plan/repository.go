package plan

import (
	"path"
	"strings"

	"github.com/steward-ops/steward/internal/repository"
)

// validateRepository checks a backup's repository reference: a supported
// location, the section of its scheme and no other, and references (never
// values) for every secret. add reports a problem under a field of the
// backup section.
func validateRepository(r repository.Ref, add func(field, format string, args ...any)) repository.Location {
	var loc repository.Location
	if r.Repository == "" {
		add("repository", "is required")
	} else {
		var err error
		if loc, err = repository.Parse(r.Repository); err != nil {
			add("repository", "%v", err)
		}
	}
	sections := []struct {
		scheme string
		set    bool
	}{
		{repository.SchemeS3, r.S3 != nil},
		{repository.SchemeSFTP, r.SFTP != nil},
		{repository.SchemeWebDAV, r.WebDAV != nil},
		{repository.SchemeRClone, r.RClone != nil},
	}
	for _, s := range sections {
		if s.set && r.Repository != "" && loc.Scheme != s.scheme {
			add(s.scheme, "is only for a %s:// repository; this one is %s", s.scheme, repository.Redact(r.Repository))
		}
	}
	pw := r.Password()
	if !pw.Given() {
		add("password_env", "set password_env (an environment variable of the worker) or password_file")
	}
	for _, s := range append([]repository.Secret{pw}, r.Secrets()...) {
		validateSecret(s, add)
	}
	if s := r.S3; s != nil {
		if s.AccessKeyIDEnv+s.AccessKeyIDFile != "" && s.SecretAccessKeyEnv+s.SecretAccessKeyFile == "" {
			add("s3.secret_access_key_env", "set it (or secret_access_key_file) with access_key_id_*")
		}
		if s.SecretAccessKeyEnv+s.SecretAccessKeyFile != "" && s.AccessKeyIDEnv+s.AccessKeyIDFile == "" {
			add("s3.access_key_id_env", "set it (or access_key_id_file) with secret_access_key_*")
		}
		if strings.Contains(s.Endpoint, "/") {
			add("s3.endpoint", "%q: give host[:port] only, without a scheme or path (disable_tls: true for plain HTTP)", s.Endpoint)
		}
		absolute(add, "s3.root_ca_file", s.RootCAFile)
	}
	if s := r.SFTP; s != nil {
		absolute(add, "sftp.key_file", s.KeyFile)
		absolute(add, "sftp.known_hosts_file", s.KnownHostsFile)
	}
	if s := r.RClone; s != nil {
		absolute(add, "rclone.config_file", s.ConfigFile)
		absolute(add, "rclone.executable", s.Executable)
	}
	if loc.Scheme == repository.SchemeSFTP && (r.SFTP == nil || r.SFTP.KeyFile == "" && r.SFTP.PasswordEnv == "" && r.SFTP.PasswordFile == "") {
		add("sftp.key_file", "set the SSH key file (or sftp.password_env / sftp.password_file) of an sftp:// repository")
	}
	return loc
}

// validateSecret checks one reference: a variable name or an absolute file,
// not both.
func validateSecret(s repository.Secret, add func(field, format string, args ...any)) {
	base := strings.TrimSuffix(strings.TrimSuffix(s.Field, "_env"), "_file")
	name := base[strings.LastIndexByte(base, '.')+1:]
	switch {
	case s.Env != "" && s.File != "":
		add(base+"_file", "%s_env and %s_file are exclusive: set one", name, name)
	case s.Env != "" && !envNamePattern.MatchString(s.Env):
		add(base+"_env", "%q is not an environment variable name (give the variable's name, never its value)", s.Env)
	case s.File != "":
		absolute(add, base+"_file", s.File)
	}
}

// absolute reports a file field that is set but not an absolute path.
func absolute(add func(field, format string, args ...any), field, file string) {
	if file != "" && !path.IsAbs(file) {
		add(field, "%q: must be an absolute path", file)
	}
}
