package prefetch

import (
	"fmt"
	"strings"
)

// ExpandEnv replaces each ${NAME} in s with lookup(NAME). Plans hold secrets
// only as such references, resolved here on the host that fetches. An unset
// variable is an error naming it; "$" not followed by "{" is kept as is.
func ExpandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("%w: unterminated ${ in %q", ErrEnv, s)
		}
		name := s[i+2 : i+j]
		if name == "" {
			return "", fmt.Errorf("%w: empty ${} reference", ErrEnv)
		}
		var v string
		ok := false
		if lookup != nil {
			v, ok = lookup(name)
		}
		if !ok {
			return "", fmt.Errorf("%w: environment variable %s is not set", ErrEnv, name)
		}
		b.WriteString(v)
		s = s[i+j+1:]
	}
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
