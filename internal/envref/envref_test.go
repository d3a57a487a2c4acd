package envref

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	lookup := func(n string) (string, bool) {
		v, ok := map[string]string{"A": "1", "B": "two", "EMPTY": ""}[n]
		return v, ok
	}
	got, values, err := Expand("x${A}y${B}$C${EMPTY}", lookup)
	if err != nil || got != "x1ytwo$C" || !slices.Equal(values, []string{"1", "two", ""}) {
		t.Errorf("Expand = %q %q %v", got, values, err)
	}
	for s, want := range map[string]string{
		"${NOPE}": "environment variable NOPE is not set",
		"${A":     "unterminated ${",
		"${}":     "empty ${} reference",
	} {
		if _, _, err := Expand(s, lookup); !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), want) {
			t.Errorf("Expand(%q) = %v, want %q", s, err, want)
		}
	}
	if r := Redact("token two and 1 and two", []string{"two", ""}); r != "token *** and 1 and ***" {
		t.Errorf("Redact = %q", r)
	}
}
