// Package envref resolves the ${NAME} references through which plans name
// secrets: the plan (and so workflow history) holds the reference, the
// worker that does the work holds the value.
package envref

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnresolved is the kind of every error of Expand.
var ErrUnresolved = errors.New("unresolved environment reference")

// Expand replaces each ${NAME} in s with lookup(NAME) and returns the
// values it put in (to keep them out of errors and logs). An unset
// variable is an error naming it; "$" not followed by "{" is kept as is.
func Expand(s string, lookup func(string) (string, bool)) (string, []string, error) {
	var b strings.Builder
	var values []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), values, nil
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", nil, fmt.Errorf("%w: unterminated ${ in %q", ErrUnresolved, s)
		}
		name := s[i+2 : i+j]
		if name == "" {
			return "", nil, fmt.Errorf("%w: empty ${} reference", ErrUnresolved)
		}
		var v string
		ok := false
		if lookup != nil {
			v, ok = lookup(name)
		}
		if !ok {
			return "", nil, fmt.Errorf("%w: environment variable %s is not set", ErrUnresolved, name)
		}
		b.WriteString(v)
		values = append(values, v)
		s = s[i+j+1:]
	}
}

// Redact replaces every non-empty value in s with "***".
func Redact(s string, values []string) string {
	for _, v := range values {
		if v != "" {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}
