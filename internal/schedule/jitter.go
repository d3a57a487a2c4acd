package schedule

import (
	"encoding/binary"
	"hash/fnv"
	"time"
)

// Jitter returns how long the run of planID due at nominal waits before it
// starts: a deterministic delay in [0, Spec.Jitter), in whole milliseconds
// when the jitter allows, and 0 without jitter. It hashes the plan ID and the
// nominal instant (FNV-64a, then an avalanche step), so plans sharing a
// schedule spread out, one plan's delay changes from fire time to fire time,
// and a replayed workflow computes the same delay.
func (s *Schedule) Jitter(planID string, nominal time.Time) time.Duration {
	if s.jitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(planID))
	var b [1 + 8 + 4]byte // a separator, then the instant
	binary.BigEndian.PutUint64(b[1:], uint64(nominal.Unix()))
	binary.BigEndian.PutUint32(b[9:], uint32(nominal.Nanosecond()))
	h.Write(b[:])
	sum := mix(h.Sum64())
	if unit := time.Millisecond; s.jitter >= unit {
		return time.Duration(sum%uint64(s.jitter/unit)) * unit
	}
	return time.Duration(sum % uint64(s.jitter))
}

// mix is MurmurHash3's 64-bit finalizer: every input bit flips about half of
// the output bits, which FNV alone does not do for its last bytes.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
