package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/blob/rclone"
	"github.com/kopia/kopia/repo/blob/s3"
	"github.com/kopia/kopia/repo/blob/sftp"
	"github.com/kopia/kopia/repo/blob/webdav"
	"github.com/kopia/kopia/repo/format"

	"github.com/steward-ops/steward/internal/repository"
)

// S3Options say how to reach an S3 (or S3-compatible) repository. The
// credentials are the resolved secrets: callers read them from where the
// plan references them, and this package never puts them in an error. Like
// the kopia CLI's, the connection config Open writes in ConfigDir (mode
// 0600) holds them.
type S3Options struct {
	// Endpoint is host[:port] of the S3 API (s3.amazonaws.com when empty).
	Endpoint string
	Region   string
	// DisableTLS talks plain HTTP; InsecureSkipVerify accepts any
	// certificate; RootCA (PEM) is trusted besides the system's.
	DisableTLS         bool
	InsecureSkipVerify bool
	RootCA             []byte
	AccessKeyID        string
	SecretAccessKey    string
	SessionToken       string
}

// SFTPOptions say how to reach an sftp://user@host[:port]/path repository.
// The server's key must be in KnownHostsFile (default: ~/.ssh/known_hosts);
// the client authenticates with Password when set, else with KeyFile.
type SFTPOptions struct {
	KeyFile        string
	KnownHostsFile string
	Password       string
}

// WebDAVOptions say how to reach a webdav://host[:port]/path repository.
type WebDAVOptions struct {
	Username, Password string
	// DisableTLS talks plain HTTP instead of HTTPS.
	DisableTLS bool
}

// RCloneOptions say how to run rclone for an rclone://remote:path
// repository: kopia starts `rclone serve webdav` and talks to it.
type RCloneOptions struct {
	// ConfigFile is rclone's config (its --config); rclone's default when
	// empty.
	ConfigFile string
	// Executable is the rclone binary; "rclone" on the PATH when empty.
	Executable string
}

// defaultS3Endpoint is AWS's.
const defaultS3Endpoint = "s3.amazonaws.com"

// defaultSSHPort is where sftp:// connects unless the URL says otherwise.
const defaultSSHPort = 22

// remoteStorage opens the remote storage at loc, creating the repository
// first if there is none and create is set. Like a local directory, a
// location that holds other objects never becomes a repository.
func remoteStorage(ctx context.Context, loc repository.Location, opts Options) (blob.Storage, error) {
	creating.Lock()
	defer creating.Unlock()
	st, err := openRemote(ctx, loc, opts)
	if err != nil {
		return nil, err
	}
	found, err := probeBlobs(ctx, st, opts.Create)
	if err != nil {
		st.Close(ctx) //nolint:errcheck // the probe error says more
		return nil, fmt.Errorf("%s: %w", where(loc, opts), err)
	}
	if !found {
		if err := initialize(ctx, st, opts.Password); err != nil {
			st.Close(ctx) //nolint:errcheck // the creation error says more
			return nil, err
		}
	}
	return st, nil
}

// where names the server a remote location is on, for errors: a storage
// that cannot be reached must say which host it tried.
func where(loc repository.Location, opts Options) string {
	switch loc.Scheme {
	case repository.SchemeS3:
		endpoint := defaultS3Endpoint
		if opts.S3 != nil && opts.S3.Endpoint != "" {
			endpoint = opts.S3.Endpoint
		}
		return fmt.Sprintf("s3 bucket %s at %s", loc.Bucket, endpoint)
	case repository.SchemeSFTP:
		return fmt.Sprintf("sftp server %s:%d", loc.Host, port(loc))
	case repository.SchemeRClone:
		return "rclone remote " + loc.Path
	default:
		return "webdav server " + webdavURL(loc, opts)
	}
}

func port(loc repository.Location) int {
	if loc.Port != 0 {
		return loc.Port
	}
	return defaultSSHPort
}

// webdavURL is the HTTP(S) URL of a webdav:// location.
func webdavURL(loc repository.Location, opts Options) string {
	scheme := "https"
	if opts.WebDAV != nil && opts.WebDAV.DisableTLS {
		scheme = "http"
	}
	host := loc.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if loc.Port != 0 {
		host = fmt.Sprintf("%s:%d", host, loc.Port)
	}
	return scheme + "://" + host + loc.Path
}

// connectTimeout bounds the first contact with a remote storage, so that an
// unreachable server fails the attempt (the caller retries it) rather than
// holding it for kopia's minutes of internal retries.
const connectTimeout = 30 * time.Second

// openRemote opens loc as kopia storage, changing nothing there.
func openRemote(ctx context.Context, loc repository.Location, opts Options) (blob.Storage, error) {
	var (
		st  blob.Storage
		err error
	)
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	switch loc.Scheme {
	case repository.SchemeS3:
		o := opts.S3
		if o == nil {
			o = &S3Options{}
		}
		endpoint := o.Endpoint
		if endpoint == "" {
			endpoint = defaultS3Endpoint
		}
		st, err = s3.New(cctx, &s3.Options{
			BucketName:      loc.Bucket,
			Prefix:          loc.Path,
			Endpoint:        endpoint,
			Region:          o.Region,
			DoNotUseTLS:     o.DisableTLS,
			DoNotVerifyTLS:  o.InsecureSkipVerify,
			RootCA:          o.RootCA,
			AccessKeyID:     o.AccessKeyID,
			SecretAccessKey: o.SecretAccessKey,
			SessionToken:    o.SessionToken,
		}, false)
	case repository.SchemeSFTP:
		o := opts.SFTP
		if o == nil {
			o = &SFTPOptions{}
		}
		st, err = sftp.New(cctx, &sftp.Options{
			Path:           loc.Path,
			Host:           loc.Host,
			Port:           port(loc),
			Username:       loc.User,
			Password:       o.Password,
			Keyfile:        o.KeyFile,
			KnownHostsFile: o.KnownHostsFile,
		}, false)
	case repository.SchemeWebDAV:
		o := opts.WebDAV
		if o == nil {
			o = &WebDAVOptions{}
		}
		st, err = webdav.New(cctx, &webdav.Options{URL: webdavURL(loc, opts), Username: o.Username, Password: o.Password}, false)
	case repository.SchemeRClone:
		o := RCloneOptions{}
		if opts.RClone != nil {
			o = *opts.RClone
		}
		var args []string
		if o.ConfigFile != "" {
			args = []string{"--config", o.ConfigFile}
		}
		st, err = rclone.New(cctx, &rclone.Options{RemotePath: loc.Path, RCloneExe: o.Executable, RCloneArgs: args}, false)
	default:
		return nil, fmt.Errorf("%w: %s:// (want %s)", ErrUnsupported, loc.Scheme, repository.Supported)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where(loc, opts), tidySSH(err))
	}
	return st, nil
}

// tidySSH drops from err's message the Go dump of the SSH client's config
// that kopia's sftp storage puts in it ("unable to dial [host:port]:
// &ssh.ClientConfig{...}: ssh: handshake failed: ..."): it holds no
// secret, only noise. The error itself stays underneath.
func tidySSH(err error) error {
	msg := err.Error()
	i := strings.Index(msg, "&ssh.ClientConfig{")
	j := strings.Index(msg, "}: ssh: ")
	if i < 0 || j < i {
		return err
	}
	return &tidied{msg: msg[:i] + msg[j+len("}: "):], err: err}
}

// tidied is an error with a clearer message than the one it wraps.
type tidied struct {
	msg string
	err error
}

func (e *tidied) Error() string { return e.msg }
func (e *tidied) Unwrap() error { return e.err }

// probeBlobs reports whether st holds a kopia repository; when it does
// not, it fails unless create is set and st is empty.
func probeBlobs(ctx context.Context, st blob.Storage, create bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if _, err := st.GetMetadata(ctx, format.KopiaRepositoryBlobID); err == nil {
		return true, nil
	} else if !errors.Is(err, blob.ErrBlobNotFound) {
		return false, err
	}
	errOther := errors.New("other objects")
	err := st.ListBlobs(ctx, "", func(blob.Metadata) error { return errOther })
	switch {
	case errors.Is(err, errOther):
		return false, fmt.Errorf("%w: the location holds other objects", ErrNoRepository)
	case err != nil:
		return false, err
	case !create:
		return false, fmt.Errorf("%w: the location is empty", ErrNoRepository)
	}
	return false, nil
}
