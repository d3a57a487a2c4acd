package schedule

import (
	"fmt"
	"testing"
	"time"
)

func TestJitter(t *testing.T) {
	nominal := ts("2026-03-01T03:00:00Z")
	if d := mustNew(t, Spec{Cron: "0 3 * * *"}).Jitter("home", nominal); d != 0 {
		t.Fatalf("no jitter configured, got %v", d)
	}
	for _, bound := range []time.Duration{time.Nanosecond, 7 * time.Nanosecond, 1500 * time.Microsecond, time.Second, 10 * time.Minute, 6 * time.Hour} {
		s := mustNew(t, Spec{Cron: "0 3 * * *", Jitter: bound})
		for i := range 500 {
			n := nominal.Add(time.Duration(i) * 24 * time.Hour)
			d := s.Jitter(fmt.Sprintf("plan-%d", i%7), n)
			if d < 0 || d >= bound {
				t.Fatalf("Jitter = %v, want within [0, %v)", d, bound)
			}
		}
	}

	s := mustNew(t, Spec{Cron: "0 3 * * *", Jitter: 10 * time.Minute})
	// Deterministic: the same plan and fire time always wait the same,
	// whatever the location the time is expressed in.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if a, b := s.Jitter("home", nominal), s.Jitter("home", nominal.In(berlin)); a != b {
		t.Fatalf("Jitter differs for the same instant: %v, %v", a, b)
	}
	if got := s.Jitter("home", nominal); got != 6*time.Minute+59*time.Second+812*time.Millisecond {
		// Pinned: a change here changes when every jittered plan runs.
		t.Fatalf("Jitter(home, %s) = %v; the hash changed", nominal, got)
	}
	// 100 plans with the same cron spread out.
	seen := map[time.Duration]string{}
	for i := range 100 {
		id := fmt.Sprintf("plan-%d", i)
		d := s.Jitter(id, nominal)
		if other, dup := seen[d]; dup {
			t.Fatalf("plans %s and %s both wait %v", other, id, d)
		}
		seen[d] = id
	}
	// The same plan's delay varies from one fire time to the next.
	delays := map[time.Duration]bool{}
	for i := range 30 {
		delays[s.Jitter("home", nominal.AddDate(0, 0, i))] = true
	}
	if len(delays) < 25 {
		t.Fatalf("30 fire times of one plan got only %d different delays", len(delays))
	}
}

func TestStartAt(t *testing.T) {
	nominal := ts("2026-03-02T00:00:00Z") // a Monday
	s := mustNew(t, Spec{Every: time.Hour, Jitter: 10 * time.Minute})
	at, ok := s.StartAt("home", nominal)
	if !ok || !at.Equal(nominal.Add(s.Jitter("home", nominal))) {
		t.Fatalf("StartAt = %s, %v; want nominal + jitter", at, ok)
	}
	// The jittered time lands in a blackout: the run waits for its end.
	s = mustNew(t, Spec{Every: time.Hour, Jitter: 10 * time.Minute, Blackout: []string{"00:00-00:30"}})
	if at, ok := s.StartAt("home", nominal); !ok || !at.Equal(ts("2026-03-02T00:30:00Z")) {
		t.Fatalf("StartAt = %s, %v; want the blackout's end", at, ok)
	}
	// Outside the windows: the next window's start, no jitter on top.
	s = mustNew(t, Spec{Every: time.Hour, Jitter: 10 * time.Minute, Windows: []string{"Tue 01:00-02:00"}})
	if at, ok := s.StartAt("home", nominal); !ok || !at.Equal(ts("2026-03-03T01:00:00Z")) {
		t.Fatalf("StartAt = %s, %v; want Tuesday 01:00", at, ok)
	}
}
