package snapshot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/blob/s3"
	"github.com/kopia/kopia/repo/format"
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

// defaultS3Endpoint is AWS's.
const defaultS3Endpoint = "s3.amazonaws.com"

// s3Location splits s3://bucket/prefix into the bucket and the prefix
// (ending in "/" when not empty), or says what is wrong with it.
func s3Location(loc string) (bucket, prefix string, err error) {
	u, err := url.Parse(loc)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	switch {
	case u.Host == "":
		return "", "", fmt.Errorf("%w: %s names no bucket (want s3://bucket/prefix)", ErrUnsupported, loc)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", "", fmt.Errorf("%w: %s: give credentials and options in the plan, not in the URL", ErrUnsupported, redact(u))
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return u.Host, prefix, nil
}

// redact is u without its user information, query or fragment, for
// messages.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}

// shown is a repository location as messages may show it: a URL without
// what could hold a secret.
func shown(loc string) string {
	if !strings.Contains(loc, "://") {
		return loc
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "(unparsable URL)"
	}
	return redact(u)
}

// s3Storage opens the S3 storage at loc, creating the repository first if
// there is none and create is set. Like a local path, a prefix that holds
// other objects never becomes a repository.
func s3Storage(ctx context.Context, loc string, opts *S3Options, create bool, password string) (blob.Storage, error) {
	st, err := openS3(ctx, loc, opts)
	if err != nil {
		return nil, err
	}
	found, err := probeBlobs(ctx, st, create)
	if err != nil {
		st.Close(ctx) //nolint:errcheck // the probe error says more
		return nil, err
	}
	if !found {
		if err := initialize(ctx, st, password); err != nil {
			st.Close(ctx) //nolint:errcheck // the creation error says more
			return nil, err
		}
	}
	return st, nil
}

// openS3 opens the bucket and prefix of loc as kopia storage, changing
// nothing.
func openS3(ctx context.Context, loc string, opts *S3Options) (blob.Storage, error) {
	if opts == nil {
		opts = &S3Options{}
	}
	bucket, prefix, err := s3Location(loc)
	if err != nil {
		return nil, err
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = defaultS3Endpoint
	}
	st, err := s3.New(ctx, &s3.Options{
		BucketName:      bucket,
		Prefix:          prefix,
		Endpoint:        endpoint,
		Region:          opts.Region,
		DoNotUseTLS:     opts.DisableTLS,
		DoNotVerifyTLS:  opts.InsecureSkipVerify,
		RootCA:          opts.RootCA,
		AccessKeyID:     opts.AccessKeyID,
		SecretAccessKey: opts.SecretAccessKey,
		SessionToken:    opts.SessionToken,
	}, false)
	if err != nil {
		return nil, fmt.Errorf("open s3 bucket %s at %s: %w", bucket, endpoint, err)
	}
	return st, nil
}

// probeBlobs reports whether st holds a kopia repository; when it does
// not, it fails unless create is set and st is empty.
func probeBlobs(ctx context.Context, st blob.Storage, create bool) (bool, error) {
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
