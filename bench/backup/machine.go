package main

import (
	"context"
	"debug/buildinfo"
	"os/exec"
	"runtime"
	"strings"

	"github.com/steward-ops/steward/bench/internal/proc"
)

// machine describes where the figures come from.
type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	MemTotal  string `json:"mem_total,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel,omitempty"`
	// Steward is the VCS revision the steward-worker binary was built
	// from, with "+modified" for a dirty tree.
	Steward string `json:"steward"`
	Kopia   string `json:"kopia"`
	Restic  string `json:"restic"`
	// Temporal is the temporal CLI that ran the server (-server
	// separate): its module version (which fixes the server it embeds).
	Temporal string `json:"temporal,omitempty"`
	// ResticRepoVersion is the format of the restic repositories, from
	// restic cat config.
	ResticRepoVersion int    `json:"restic_repository_version"`
	FreeDisk          int64  `json:"free_disk_bytes"`
	LoadAvgStart      string `json:"loadavg_start"`
	LoadAvgEnd        string `json:"loadavg_end"`
}

func machineInfo(ctx context.Context, free int64, bin proc.Binaries, kopia, restic string) machine {
	m := machine{
		CPUs:         runtime.NumCPU(),
		CPUModel:     proc.CPUModel(),
		MemTotal:     proc.MemTotal(),
		GoVersion:    runtime.Version(),
		OS:           runtime.GOOS + "/" + runtime.GOARCH,
		Steward:      revision(bin.Worker),
		Kopia:        firstLine(ctx, kopia, "--version"),
		Restic:       firstLine(ctx, restic, "version"),
		FreeDisk:     free,
		LoadAvgStart: proc.LoadAvg(),
	}
	if v := firstLine(ctx, "go", "version"); v != "" {
		m.GoVersion = v
	}
	m.Kernel = firstLine(ctx, "uname", "-r")
	return m
}

// firstLine is the first line name args prints, or "".
func firstLine(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	l, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(l)
}

// revision is the VCS revision go build recorded in bin.
func revision(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "unknown: " + err.Error()
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev == "" {
		return "unknown: the binary records no VCS revision (built with -buildvcs=false?)"
	}
	return rev + modified
}

// temporalVersion is the temporal CLI's module version, from its build
// info (its --version says 0.0.0-DEV when built with go install); the
// version fixes the Temporal server it embeds.
func temporalVersion(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "unknown: " + err.Error()
	}
	return info.Main.Path + " " + info.Main.Version
}
