package proc

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Binaries are the steward binaries a benchmark runs.
type Binaries struct {
	// Steward is the steward CLI (./starter).
	Steward string
	// Worker is steward-worker (./worker).
	Worker string
}

// BuildBinaries returns the steward CLI and steward-worker binaries: steward
// and worker where they are not empty (the benchmark's flags), and what they
// do not name built with go build into dir/bin, from the module root as the
// working directory.
func BuildBinaries(ctx context.Context, steward, worker, dir string) (Binaries, error) {
	b := Binaries{Steward: steward, Worker: worker}
	for _, x := range []struct {
		path *string
		name string
		pkg  string
	}{{&b.Steward, "steward", "./starter"}, {&b.Worker, "steward-worker", "./worker"}} {
		if *x.path != "" {
			continue
		}
		*x.path = filepath.Join(dir, "bin", x.name)
		fmt.Printf("building %s ...\n", x.pkg)
		out, err := exec.CommandContext(ctx, "go", "build", "-o", *x.path, x.pkg).CombinedOutput()
		if err != nil {
			return b, fmt.Errorf("go build %s: %v\n%s", x.pkg, err, out)
		}
	}
	return b, nil
}
