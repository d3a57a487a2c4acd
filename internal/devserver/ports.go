package devserver

import (
	"errors"
	"fmt"
	"net"
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
