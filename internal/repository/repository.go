// Package repository names a backup repository and references the secrets
// that open it: the part of a backup plan that every repository activity
// needs. It is pure. Plans carry a Ref, workflows copy it into activity
// requests, and the activities resolve its references on the host that runs
// them, so a secret's value never reaches workflow history.
package repository

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// Ref is a repository's location, the password that encrypts it and, for a
// remote location, how to reach it. Plans and activity requests embed it;
// its JSON fields are those requests always had (repository, password_env,
// password_file) plus one section per remote storage.
type Ref struct {
	// Repository is an absolute local path (or file://path),
	// s3://bucket/prefix, sftp://user@host[:port]/path,
	// webdav://host[:port]/path or rclone://remote:path.
	Repository   string `yaml:"repository" json:"repository"`
	PasswordEnv  string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	// S3, SFTP, WebDAV and RClone say how to reach a repository of that
	// scheme; each is allowed only with its scheme.
	S3     *S3     `yaml:"s3,omitempty" json:"s3,omitempty"`
	SFTP   *SFTP   `yaml:"sftp,omitempty" json:"sftp,omitempty"`
	WebDAV *WebDAV `yaml:"webdav,omitempty" json:"webdav,omitempty"`
	RClone *RClone `yaml:"rclone,omitempty" json:"rclone,omitempty"`
}

// S3 reaches an S3 or S3-compatible (MinIO, Ceph, Garage, ...) repository.
// Without credential references the worker's AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, or the instance's IAM role, are used.
type S3 struct {
	// Endpoint is host[:port] of the S3 API; s3.amazonaws.com when empty.
	Endpoint string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	Region   string `yaml:"region,omitempty" json:"region,omitempty"`
	// DisableTLS talks plain HTTP (a server on loopback or a trusted LAN).
	DisableTLS bool `yaml:"disable_tls,omitempty" json:"disable_tls,omitempty"`
	// InsecureSkipVerify accepts any server certificate.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
	// RootCAFile is a PEM file of certificate authorities to trust besides
	// the system's.
	RootCAFile          string `yaml:"root_ca_file,omitempty" json:"root_ca_file,omitempty"`
	AccessKeyIDEnv      string `yaml:"access_key_id_env,omitempty" json:"access_key_id_env,omitempty"`
	AccessKeyIDFile     string `yaml:"access_key_id_file,omitempty" json:"access_key_id_file,omitempty"`
	SecretAccessKeyEnv  string `yaml:"secret_access_key_env,omitempty" json:"secret_access_key_env,omitempty"`
	SecretAccessKeyFile string `yaml:"secret_access_key_file,omitempty" json:"secret_access_key_file,omitempty"`
	SessionTokenEnv     string `yaml:"session_token_env,omitempty" json:"session_token_env,omitempty"`
	SessionTokenFile    string `yaml:"session_token_file,omitempty" json:"session_token_file,omitempty"`
}

// SFTP reaches a repository over SSH. The server's key must be in
// KnownHostsFile (default: ~/.ssh/known_hosts of the worker's user); the
// client authenticates with KeyFile or with a password.
type SFTP struct {
	KeyFile        string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	KnownHostsFile string `yaml:"known_hosts_file,omitempty" json:"known_hosts_file,omitempty"`
	PasswordEnv    string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	PasswordFile   string `yaml:"password_file,omitempty" json:"password_file,omitempty"`
}

// WebDAV reaches a repository on a WebDAV server (https unless DisableTLS).
type WebDAV struct {
	Username     string `yaml:"username,omitempty" json:"username,omitempty"`
	PasswordEnv  string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	DisableTLS   bool   `yaml:"disable_tls,omitempty" json:"disable_tls,omitempty"`
}

// RClone reaches a repository on any rclone remote (B2, Azure Blob, Google
// Cloud Storage, Dropbox, ...): kopia runs `rclone serve webdav` for it.
// The remote's credentials stay in rclone's config file on the host.
type RClone struct {
	// ConfigFile is rclone's config (default: rclone's own default).
	ConfigFile string `yaml:"config_file,omitempty" json:"config_file,omitempty"`
	// Executable is the rclone binary (default: rclone on the PATH).
	Executable string `yaml:"executable,omitempty" json:"executable,omitempty"`
}

// Schemes of remote repositories.
const (
	SchemeS3     = "s3"
	SchemeSFTP   = "sftp"
	SchemeWebDAV = "webdav"
	SchemeRClone = "rclone"
)

// Supported describes the locations this version supports, for errors.
const Supported = "an absolute local path, s3://bucket/prefix, sftp://user@host/path, webdav://host/path or rclone://remote:path"

// Location is a parsed repository location.
type Location struct {
	// Scheme is "" for a local path, else SchemeS3, SchemeSFTP,
	// SchemeWebDAV or SchemeRClone.
	Scheme string
	// Path is the local directory, the S3 prefix (ending in "/" unless
	// empty), the directory on the SFTP or WebDAV server, or rclone's
	// remote:path.
	Path   string
	Bucket string // s3
	Host   string // sftp and webdav, without the port
	Port   int    // sftp and webdav; 0 when not given
	User   string // sftp
}

// Parse checks that s names a supported repository location and splits it.
// A local path must be absolute; it is cleaned. Errors say what is wrong
// and never repeat what a URL holds after the host (user information aside
// for sftp, a URL's query could hold a secret).
func Parse(s string) (Location, error) {
	if s == "" {
		return Location{}, errors.New("no location given")
	}
	isURL := strings.Contains(s, "://")
	if !isURL {
		if !path.IsAbs(s) {
			return Location{}, fmt.Errorf("%q: must be an absolute path (or %s)", s, Supported)
		}
		return Location{Path: path.Clean(s)}, nil
	}
	scheme, rest, _ := strings.Cut(s, "://")
	switch strings.ToLower(scheme) {
	case SchemeRClone:
		// remote:path is rclone's syntax, not a URL's host and port.
		// An inline remote (":backend:path") starts with a colon.
		remote, _, ok := strings.Cut(strings.TrimPrefix(rest, ":"), ":")
		if !ok || remote == "" || strings.ContainsAny(remote, "/?#") {
			return Location{}, fmt.Errorf("%s names no rclone remote (want rclone://remote:path)", Redact(s))
		}
		if strings.ContainsAny(remote, ",=") {
			// :backend,key=value: is rclone's way to set a remote up
			// inline, credentials included.
			return Location{}, fmt.Errorf("%s: set the remote up in rclone's config file (rclone.config_file), not in the location", Redact(s))
		}
		return Location{Scheme: SchemeRClone, Path: rest}, nil
	case "file", SchemeS3, SchemeSFTP, SchemeWebDAV:
	default:
		return Location{}, fmt.Errorf("%s:// repositories are not supported by this version (want %s)", scheme, Supported)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("not a valid URL (want %s)", Supported)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Location{}, fmt.Errorf("%s: give credentials and options in the plan's %s section, not in the URL", Redact(s), u.Scheme)
	}
	loc := Location{Scheme: strings.ToLower(u.Scheme)}
	switch loc.Scheme {
	case "file":
		if u.Host != "" || !path.IsAbs(u.Path) {
			return Location{}, fmt.Errorf("%s: want file:///absolute/path", Redact(s))
		}
		return Location{Path: path.Clean(u.Path)}, nil
	case SchemeS3:
		if u.User != nil {
			return Location{}, fmt.Errorf("%s: give credentials in the plan's s3 section (access_key_id_env, ...), not in the URL", Redact(s))
		}
		if u.Host == "" {
			return Location{}, fmt.Errorf("%s names no bucket (want s3://bucket/prefix)", Redact(s))
		}
		loc.Bucket = u.Host
		if loc.Path = strings.Trim(u.Path, "/"); loc.Path != "" {
			loc.Path += "/"
		}
		return loc, nil
	default: // sftp and webdav, the schemes left
		if _, hasPassword := u.User.Password(); hasPassword {
			return Location{}, fmt.Errorf("%s: give the password in the plan's %s section (password_env or password_file), not in the URL", Redact(s), loc.Scheme)
		}
		loc.Host = u.Hostname()
		if loc.Host == "" {
			return Location{}, fmt.Errorf("%s names no host (want %s://host/path)", Redact(s), loc.Scheme)
		}
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return Location{}, fmt.Errorf("%s: port %q is not a number from 1 to 65535", Redact(s), p)
			}
			loc.Port = n
		}
		loc.Path = u.Path
		if loc.Path == "" || loc.Path == "/" {
			return Location{}, fmt.Errorf("%s names no directory (want %s://host/path)", Redact(s), loc.Scheme)
		}
		if loc.Scheme == SchemeSFTP {
			loc.User = u.User.Username()
			if loc.User == "" {
				return Location{}, fmt.Errorf("%s names no user (want sftp://user@host/path)", Redact(s))
			}
		} else if u.User != nil {
			return Location{}, fmt.Errorf("%s: give the user name as webdav.username, not in the URL", Redact(s))
		}
		return loc, nil
	}
}

// Redact is a repository location as messages may show it: a URL without
// its query, fragment or password (sftp's user name stays: it is not a
// secret and says who connects).
func Redact(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	if rest, ok := strings.CutPrefix(s, SchemeRClone+"://"); ok {
		// rclone's remote:path: an inline remote's settings may hold
		// secrets (Parse refuses them).
		if i := strings.IndexAny(rest, ",="); i >= 0 {
			return SchemeRClone + "://" + rest[:i] + "..."
		}
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	c := *u
	c.RawQuery, c.Fragment, c.ForceQuery = "", "", false
	if c.User != nil {
		if c.Scheme == SchemeSFTP {
			c.User = url.User(c.User.Username())
		} else {
			c.User = nil
		}
	}
	return c.String()
}

// Secret is one secret a Ref references: the field that names it (for
// problems), and the environment variable or file that holds it.
type Secret struct {
	// Field is the plan field of the reference, relative to the backup
	// section: "password_env", "s3.secret_access_key_file", ...
	Field     string
	Env, File string
}

// Given reports whether the secret is referenced at all.
func (s Secret) Given() bool { return s.Env != "" || s.File != "" }

// secret builds the Secret of the fields prefix_env and prefix_file.
func secret(prefix, env, file string) Secret {
	s := Secret{Env: env, File: file}
	s.Field = prefix + "_env"
	if env == "" && file != "" {
		s.Field = prefix + "_file"
	}
	return s
}

// Secrets lists the secrets r references besides the repository password,
// named by their fields: those of the section that matches the scheme.
func (r Ref) Secrets() []Secret {
	var out []Secret
	if s := r.S3; s != nil {
		out = append(out, s.AccessKeyID(), s.SecretAccessKey(), s.SessionToken())
	}
	if s := r.SFTP; s != nil {
		out = append(out, s.Password())
	}
	if s := r.WebDAV; s != nil {
		out = append(out, s.Password())
	}
	return out
}

// Password is the reference to the repository's password.
func (r Ref) Password() Secret { return secret("password", r.PasswordEnv, r.PasswordFile) }

// AccessKeyID, SecretAccessKey and SessionToken are the references to the
// S3 credentials.
func (s *S3) AccessKeyID() Secret {
	return secret("s3.access_key_id", s.AccessKeyIDEnv, s.AccessKeyIDFile)
}

func (s *S3) SecretAccessKey() Secret {
	return secret("s3.secret_access_key", s.SecretAccessKeyEnv, s.SecretAccessKeyFile)
}

func (s *S3) SessionToken() Secret {
	return secret("s3.session_token", s.SessionTokenEnv, s.SessionTokenFile)
}

// Password is the reference to the SSH password.
func (s *SFTP) Password() Secret { return secret("sftp.password", s.PasswordEnv, s.PasswordFile) }

// Password is the reference to the WebDAV password.
func (w *WebDAV) Password() Secret {
	return secret("webdav.password", w.PasswordEnv, w.PasswordFile)
}
