package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100
// on Linux).
const clockTick = 10 * time.Millisecond

// statFields are the fields of /proc/PID/stat after the command name:
// the state (field 3) is the first.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndex(string(b), ") ")
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return f, nil
}

// procState is the state of process pid: R, S, D, Z (exited, not waited
// for yet), ...
func procState(pid int) (string, error) {
	f, err := statFields(pid)
	if err != nil {
		return "", err
	}
	return f[0], nil
}

// cpuTime is the user and system CPU time process pid used so far, all its
// threads together, from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	// utime and stime are fields 14 and 15, the 12th and 13th after the
	// command name.
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// memory returns the resident set (VmRSS) of process pid and its peak
// (VmHWM), in bytes.
func memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, l, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}

// resetPeak sets process pid's VmHWM to its current RSS (Linux 4.0+).
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// sampleRSS reads process pid's VmRSS every 50 ms until the returned
// function is called, which returns the highest value read.
func sampleRSS(pid int) func() int64 {
	stop := make(chan struct{})
	peak := make(chan int64)
	go func() {
		var top int64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := memory(pid); err == nil {
				top = max(top, rss)
			}
			select {
			case <-stop:
				peak <- top
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		return <-peak
	}
}

// usage is what a process used over a command.
type usage struct {
	CPU       time.Duration // user+system time
	RSSBefore int64         // VmRSS at the start
	Peak      int64         // peak resident set
}

// watcher measures a process from watch to stop.
type watcher struct {
	pid      int
	cpu0     time.Duration
	rss0     int64
	hwmReset bool
	sampled  func() int64
}

// watch starts measuring process pid: its CPU time and RSS now, its peak
// RSS from now on (VmHWM reset through clear_refs, and VmRSS sampled every
// 50 ms). Unless it fails, stop must be called.
func watch(pid int) (*watcher, error) {
	cpu0, err := cpuTime(pid)
	if err != nil {
		return nil, err
	}
	rss0, _, err := memory(pid)
	if err != nil {
		return nil, err
	}
	// Without the reset, VmHWM is the peak of the process's whole life,
	// and only the sampled RSS counts.
	hwmReset := resetPeak(pid) == nil
	return &watcher{pid: pid, cpu0: cpu0, rss0: rss0, hwmReset: hwmReset, sampled: sampleRSS(pid)}, nil
}

// stop ends the sampling and returns what the process used since watch.
func (x *watcher) stop() (usage, error) {
	u := usage{RSSBefore: x.rss0, Peak: x.sampled()}
	cpu1, err := cpuTime(x.pid)
	if err != nil {
		return u, err
	}
	_, hwm, err := memory(x.pid)
	if err != nil {
		return u, err
	}
	u.CPU = cpu1 - x.cpu0
	if x.hwmReset {
		u.Peak = max(u.Peak, hwm)
	}
	return u, nil
}
