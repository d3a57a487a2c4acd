package main

import "runtime/debug"

// gcPercent is the worker's garbage collection target (GOGC) unless the
// environment sets GOGC. A worker lives long and keeps what its backups
// left: kopia's buffer free lists (kopia's internal gather package keeps
// them for the life of the process, 65-100 MiB after a backup or restore)
// and zstd encoder histories. Go's default of 100 lets the heap grow to
// twice all that plus a run's own buffers before collecting; at 50, the peak
// RSS of an initial backup in bench/backup fell from 1.7x the kopia CLI's
// (a fresh process each time) to 1.15x, with the worker's CPU within the
// noise of the run.
const gcPercent = 50

// tuneGC applies gcPercent unless gogc, the value of $GOGC, is set; it
// reports whether it did.
func tuneGC(gogc string) bool {
	if gogc != "" {
		return false
	}
	debug.SetGCPercent(gcPercent)
	return true
}
