package devserver

import (
	"net"
	"testing"
)

// TestServicePortsAvoidTheEphemeralRange: the internal services' ports come
// from below the kernel's ephemeral range, where no outgoing connection can
// take them before the server binds them.
func TestServicePortsAvoidTheEphemeralRange(t *testing.T) {
	lo, _, err := ephemeralRange()
	if err != nil || lo <= minServicePort+1000 {
		t.Skipf("no room below the ephemeral range (%d, %v): servicePort falls back to FreePort", lo, err)
	}
	taken := map[int]bool{}
	for range 20 {
		p, err := servicePort("127.0.0.1", taken)
		if err != nil {
			t.Fatal(err)
		}
		if p < minServicePort || p >= lo || taken[p] {
			t.Fatalf("port %d: want a new one in [%d, %d)", p, minServicePort, lo)
		}
		taken[p] = true
		l, err := net.Listen("tcp", hostPort("127.0.0.1", p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}
