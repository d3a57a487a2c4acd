package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	if tuneGC("200") {
		t.Error("tuneGC with GOGC=200 set the GC percent; the environment's GOGC wins")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after tuneGC with GOGC set, GC percent = %d, want it left at 100", got)
	}
	if !tuneGC("") {
		t.Error("tuneGC without GOGC did not set the GC percent")
	}
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("after tuneGC without GOGC, GC percent = %d, want %d", got, gcPercent)
	}
}
