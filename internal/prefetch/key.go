package prefetch

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// DefaultFilteredQueryParams are the signature parameters of S3, GCS and Azure
// pre-signed URLs: they change on every signing but not the content, so they
// are left out of cache keys.
var DefaultFilteredQueryParams = []string{
	"X-Amz-Signature", "X-Amz-Date", "X-Amz-Credential", "X-Amz-Expires", "X-Amz-Security-Token",
	"X-Goog-Signature", "X-Goog-Date", "X-Goog-Credential", "X-Goog-Expires",
	"Signature", "Expires", "sig", "se", "st",
}

// Key returns the cache key of rawURL: the URL without user info, fragment and
// the filtered query parameters (matched case-insensitively; nil means
// DefaultFilteredQueryParams), with the remaining parameters sorted and the
// scheme and host lower-cased.
func Key(rawURL string, filtered []string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("cache key of %q: %w", rawURL, err)
	}
	if filtered == nil {
		filtered = DefaultFilteredQueryParams
	}
	q := u.Query()
	for name := range q {
		for _, f := range filtered {
			if strings.EqualFold(name, f) {
				q.Del(name)
			}
		}
	}
	k := url.URL{
		Scheme:   strings.ToLower(u.Scheme),
		Host:     strings.ToLower(u.Host),
		Path:     u.Path,
		RawPath:  u.RawPath,
		RawQuery: q.Encode(), // sorted by name
	}
	return k.String(), nil
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkDigest accepts "" (no expectation) or "sha256:<64 lower-case hex>".
func checkDigest(d string) error {
	if d != "" && !digestRE.MatchString(d) {
		return fmt.Errorf("digest %q: want sha256:<64 hex digits>", d)
	}
	return nil
}
