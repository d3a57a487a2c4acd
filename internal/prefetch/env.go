package prefetch

import (
	"fmt"
	"strings"

	"github.com/steward-ops/steward/internal/envref"
)

// ExpandEnv replaces each ${NAME} in s with lookup(NAME) (envref.Expand).
// Plans hold secrets only as such references, resolved here on the host
// that fetches. An unset variable is an error of kind ErrEnv naming it.
func ExpandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	out, _, err := envref.Expand(s, lookup)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrEnv, strings.TrimPrefix(err.Error(), envref.ErrUnresolved.Error()+": "))
	}
	return out, nil
}

// expandHeaders resolves ${ENV} references in every header value.
func expandHeaders(h map[string]string, lookup func(string) (string, bool)) (map[string]string, error) {
	out := make(map[string]string, len(h))
	for k, v := range h {
		x, err := ExpandEnv(v, lookup)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		out[k] = x
	}
	return out, nil
}
