package devserver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
)

// FreePort returns a TCP port on ip that is free to listen on.
//
// The port is picked by the kernel, then a connection to it is opened and
// closed from the listening side, which leaves it in TIME_WAIT: Linux then
// does not hand it out again for ephemeral binds for a while, yet a listener
// with SO_REUSEADDR (Go's default) can still bind it.
func FreePort(ip string) (int, error) {
	l, err := net.Listen("tcp", hostPort(ip, 0))
	if err != nil {
		return 0, fmt.Errorf("finding a free port on %s: %w", ip, err)
	}
	defer l.Close()
	addr := l.Addr().(*net.TCPAddr)

	c, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		return 0, fmt.Errorf("finding a free port on %s: %w", ip, err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		return 0, fmt.Errorf("finding a free port on %s: %w", ip, err)
	}
	_ = s.Close() // server side closes first: TIME_WAIT is on the listening port
	return addr.Port, nil
}

// checkPortFree reports, with a clear error naming what, whether ip:port can
// be listened on now.
func checkPortFree(ip string, port int, what string) error {
	addr := hostPort(ip, port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s: listen %s: port already in use", what, addr)
		}
		return fmt.Errorf("%s: listen %s: %w", what, addr, unwrapOpError(err))
	}
	return l.Close()
}

func unwrapOpError(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}

// servicePort returns a port on ip for one of the server's internal
// services. It comes from below the kernel's ephemeral range when there is
// room there: a port the kernel picked (FreePort) can be handed out again
// as the local port of any outgoing connection on the machine before the
// server binds it, and the server cannot survive losing that race (its
// worker service panics on a nil listener). Below the range, only another
// program choosing the same port on purpose can take it.
func servicePort(ip string, taken map[int]bool) (int, error) {
	lo, _, err := ephemeralRange()
	if err != nil || lo <= minServicePort+1000 {
		return FreePort(ip)
	}
	for range 50 {
		p := minServicePort + rand.IntN(lo-minServicePort)
		if taken[p] {
			continue
		}
		l, err := net.Listen("tcp", hostPort(ip, p))
		if err != nil {
			continue
		}
		if err := l.Close(); err != nil {
			return 0, err
		}
		return p, nil
	}
	return FreePort(ip)
}

// minServicePort is the lowest port servicePort picks: well above the
// registered ports services commonly use.
const minServicePort = 20000

// ephemeralRange reads the kernel's range of ports for outgoing connections
// and port-0 binds.
func ephemeralRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return 0, 0, err
	}
	return lo, hi, nil
}
