package schedule

import "time"

// Fire is one upcoming fire time: its nominal time and when its run may
// start (after jitter and windows).
type Fire struct {
	Nominal time.Time
	Start   time.Time
}

// Preview returns the next n fire times after prev, with their start times.
// A fire time whose run could not start (no window within 8 days) is left
// out, as the plan would record it missed.
func (s *Schedule) Preview(planID string, prev time.Time, a Anchors, n int) []Fire {
	var out []Fire
	t := prev
	// Skipped fire times are rare (a window removed by a clock change); the
	// bound only keeps a query from running away.
	for tries := 0; len(out) < n && tries < 10*n+100; tries++ {
		if t = s.Next(t, a); t.IsZero() {
			break
		}
		if start, ok := s.StartAt(planID, t); ok {
			out = append(out, Fire{Nominal: t, Start: start})
		}
	}
	return out
}
