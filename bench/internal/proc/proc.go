// Package proc holds what the benchmarks share. It starts and stops the
// processes they compare: free loopback ports, waiting for a readiness line, a
// graceful stop, building the steward binaries, and a bounded buffer and a
// clip for a failed child's output in errors. It describes the machine their
// figures come from: the load average, CPU model, memory and free disk. And it
// writes their results file.
package proc

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// FreePorts returns n loopback TCP ports nobody listens on right now.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		defer l.Close()
	}
	return ports, nil
}

// WaitLine reads r until a line contains want, then keeps draining r in the
// background so the writer never blocks.
func WaitLine(r io.Reader, want string, timeout time.Duration) error {
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				close(found)
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case <-found:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("no %q within %v", want, timeout)
	}
}

// Stop asks cmd to end with SIGTERM and kills it after 10 seconds.
func Stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// LoadAvg is the first three fields of /proc/loadavg, or "unknown": the
// benchmarks record it next to their figures, since the machines are shared.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
