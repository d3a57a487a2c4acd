//go:build !linux

package prefetch

import "os"

// startWriteback has no portable equivalent; the final fsync does it all.
func startWriteback(*os.File, int64, int64) {}
