package prefetch

import "errors"

// Error kinds a caller can test with errors.Is to decide whether retrying can
// help. Every error this package returns for these conditions wraps one of them.
var (
	// ErrRefused: the URL's scheme or address is not allowed (SSRF guard).
	ErrRefused = errors.New("refused")
	// ErrDigestMismatch: the content does not match the expected digest.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrTruncated: the body ended before its declared length (retry resumes).
	ErrTruncated = errors.New("truncated body")
	// ErrTooLarge: the content is larger than the allowed maximum size.
	ErrTooLarge = errors.New("too large")
	// ErrEnv: a ${ENV} reference in a header could not be resolved.
	ErrEnv = errors.New("unresolved environment reference")
	// ErrNotFound: the cache has no entry for the key.
	ErrNotFound = errors.New("not in cache")
	// ErrAmbiguous: an image reference does not name exactly one manifest per
	// requested platform.
	ErrAmbiguous = errors.New("ambiguous image")
)
