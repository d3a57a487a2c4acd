package plan

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Size is a number of bytes written with a unit: "10GiB", "500MB", "4096B".
type Size int64

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
}

// ParseSize reads a size with a unit.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	for _, u := range sizeUnits {
		num, ok := strings.CutSuffix(t, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || f < 0 {
			break
		}
		return Size(f * float64(u.factor)), nil
	}
	return 0, fmt.Errorf("%q is not a size (write it with a unit, like 10GiB or 500MB)", s)
}

func (s Size) String() string {
	for _, u := range sizeUnits[:4] {
		if int64(s) >= u.factor && int64(s)%u.factor == 0 {
			return fmt.Sprintf("%d%s", int64(s)/u.factor, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", int64(s))
}

// UnmarshalYAML accepts a size with a unit.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %q is not a size (write it with a unit, like 10GiB or 500MB)", n.Line, n.Value)
	}
	*s = v
	return nil
}

// MarshalYAML writes the size with a unit.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }
