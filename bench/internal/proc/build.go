package proc

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
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
// working directory. workerTags are the worker's build tags ("nodev" leaves
// the embedded server out, as the Dockerfile does).
func BuildBinaries(ctx context.Context, steward, worker, dir string, workerTags ...string) (Binaries, error) {
	b := Binaries{Steward: steward, Worker: worker}
	for _, x := range []struct {
		path *string
		name string
		pkg  string
		tags []string
	}{{&b.Steward, "steward", "./starter", nil}, {&b.Worker, "steward-worker", "./worker", workerTags}} {
		if *x.path != "" {
			continue
		}
		*x.path = filepath.Join(dir, "bin", x.name)
		args := []string{"build", "-o", *x.path}
		if len(x.tags) > 0 {
			args = append(args, "-tags", strings.Join(x.tags, ","))
		}
		fmt.Printf("building %s ...\n", strings.Join(append(args[3:], x.pkg), " "))
		out, err := exec.CommandContext(ctx, "go", append(args, x.pkg)...).CombinedOutput()
		if err != nil {
			return b, fmt.Errorf("go build %s: %v\n%s", x.pkg, err, out)
		}
	}
	return b, nil
}
