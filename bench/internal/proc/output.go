package proc

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// LimitedBuffer is an io.Writer that keeps the first 64 KiB written to it
// and drops the rest, for a child's standard error in an error message.
type LimitedBuffer struct{ b []byte }

// Write keeps what of p still fits in 64 KiB; it never fails.
func (l *LimitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

// String is what the buffer kept.
func (l *LimitedBuffer) String() string { return string(l.b) }

// Clip is b as a string, cut to its first 4 KiB with "..." after them if it
// is longer, for a command's output in an error message.
func Clip(b []byte) string {
	if len(b) > 4<<10 {
		return string(b[:4<<10]) + "..."
	}
	return string(b)
}

// WriteJSON writes v to path as indented JSON with a final newline, making
// path's directory first: a benchmark's results file.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
