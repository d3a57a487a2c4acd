package deploy

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/steward-ops/steward/internal/plan"
)

// testEnv supplies the variables docker-compose.yml requires. The values are
// sentinels so the test can see they reach the right services.
var testEnv = map[string]string{
	"POSTGRES_PASSWORD":     "test-postgres-password",
	"STEWARD_REPO_PASSWORD": "test-repo-password",
	"STEWARD_SOURCE":        "/srv/test-data",
}

// repoRoot walks up from the test's directory to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("find module root: no go.mod above the test directory")
		}
		dir = parent
	}
}

// loadCompose loads docker-compose.yml with compose-go's loader: schema
// validation, interpolation, consistency checks and path resolution, as
// `docker compose config` does. Only env is visible to interpolation; the
// caller's environment and any .env file are ignored.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	var pairs []string
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(pairs),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoadCompose(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCompose(t, testEnv)
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	v, ok := s.Environment[key]
	if !ok || v == nil {
		return ""
	}
	return *v
}

func TestComposeServices(t *testing.T) {
	p := mustLoadCompose(t)
	for _, name := range []string{
		"postgresql", "temporal-schema", "temporal", "temporal-namespace",
		"temporal-ui", "steward-setup", "steward-worker",
	} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("docker-compose.yml: %v", err)
		}
	}
}

func TestComposeRequiresSecrets(t *testing.T) {
	for name := range testEnv {
		t.Run(name, func(t *testing.T) {
			partial := map[string]string{}
			for k, v := range testEnv {
				if k != name {
					partial[k] = v
				}
			}
			_, err := loadCompose(t, partial)
			if err == nil {
				t.Fatalf("docker-compose.yml loaded without %s; want an error naming it", name)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error without %s does not name it: %v", name, err)
			}
		})
	}
}

func TestComposePortsLoopbackOnly(t *testing.T) {
	p := mustLoadCompose(t)
	published := map[string]string{} // "service/target" -> published port
	for _, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("service %s publishes container port %d on host IP %q; want 127.0.0.1",
					s.Name, port.Target, port.HostIP)
			}
			published[s.Name+"/"+strconv.FormatUint(uint64(port.Target), 10)] = port.Published
		}
	}
	for key, want := range map[string]string{
		"temporal/7233":    "7233",
		"temporal-ui/8080": "8080",
	} {
		if got := published[key]; got != want {
			t.Errorf("port %s published as %q; want 127.0.0.1:%s", key, got, want)
		}
	}
}

func TestComposeImagesPinned(t *testing.T) {
	p := mustLoadCompose(t)
	tags := map[string]string{}
	for _, s := range p.Services {
		if s.Build != nil {
			continue // built from our Dockerfile
		}
		name, tag, ok := strings.Cut(s.Image, ":")
		if !ok || tag == "" || tag == "latest" || strings.Contains(name, "auto-setup") {
			t.Errorf("service %s uses image %q; want a pinned tag, not latest or auto-setup", s.Name, s.Image)
		}
		tags[name] = tag
	}
	if tags["temporalio/server"] != tags["temporalio/admin-tools"] {
		t.Errorf("temporalio/server:%s and temporalio/admin-tools:%s differ; the schema tool must match the server",
			tags["temporalio/server"], tags["temporalio/admin-tools"])
	}
}

func TestComposeTemporalOnPostgres(t *testing.T) {
	p := mustLoadCompose(t)
	srv := service(t, p, "temporal")
	for key, want := range map[string]string{
		"DB":             "postgres12",
		"POSTGRES_SEEDS": "postgresql",
		"POSTGRES_PWD":   testEnv["POSTGRES_PASSWORD"],
	} {
		if got := env(srv, key); got != want {
			t.Errorf("temporal: %s=%q; want %q", key, got, want)
		}
	}
	if got := srv.DependsOn["temporal-schema"].Condition; got != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("temporal depends on temporal-schema with condition %q; want %q",
			got, types.ServiceConditionCompletedSuccessfully)
	}
	if srv.HealthCheck == nil || len(srv.HealthCheck.Test) == 0 {
		t.Error("temporal has no healthcheck; steward-setup and the UI wait on it")
	}

	pg := service(t, p, "postgresql")
	if pg.HealthCheck == nil || !strings.Contains(strings.Join(pg.HealthCheck.Test, " "), "pg_isready") {
		t.Errorf("postgresql healthcheck = %v; want pg_isready", pg.HealthCheck)
	}
	if !hasNamedVolume(p, pg, "/var/lib/postgresql/data") {
		t.Error("postgresql data is not on a named volume")
	}

	schema := service(t, p, "temporal-schema")
	script := strings.Join(append(slices.Clone([]string(schema.Entrypoint)), schema.Command...), " ")
	for _, want := range []string{"temporal-sql-tool", "update-schema", "temporal_visibility"} {
		if !strings.Contains(script, want) {
			t.Errorf("temporal-schema does not run %q: %s", want, script)
		}
	}
	if got := env(schema, "SQL_PLUGIN"); got != "postgres12" {
		t.Errorf("temporal-schema: SQL_PLUGIN=%q; want postgres12", got)
	}

	ns := service(t, p, "temporal-namespace")
	if !strings.Contains(strings.Join(ns.Command, " "), "namespace create --namespace default") {
		t.Errorf("temporal-namespace does not create the default namespace: %v", ns.Command)
	}
}

func TestComposeUI(t *testing.T) {
	p := mustLoadCompose(t)
	ui := service(t, p, "temporal-ui")
	if got := env(ui, "TEMPORAL_ADDRESS"); got != "temporal:7233" {
		t.Errorf("temporal-ui: TEMPORAL_ADDRESS=%q; want temporal:7233", got)
	}
	// DESIGN.md section 8: hide the native pause button, ours is a signal.
	if got := env(ui, "TEMPORAL_WORKFLOW_PAUSE_DISABLED"); got != "true" {
		t.Errorf("temporal-ui: TEMPORAL_WORKFLOW_PAUSE_DISABLED=%q; want true", got)
	}
}

func TestComposeSteward(t *testing.T) {
	p := mustLoadCompose(t)
	root := repoRoot(t)
	setup := service(t, p, "steward-setup")
	worker := service(t, p, "steward-worker")

	if got := worker.DependsOn["steward-setup"].Condition; got != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("steward-worker depends on steward-setup with condition %q; want %q",
			got, types.ServiceConditionCompletedSuccessfully)
	}
	if got := setup.DependsOn["temporal"].Condition; got != types.ServiceConditionHealthy {
		t.Errorf("steward-setup depends on temporal with condition %q; want %q", got, types.ServiceConditionHealthy)
	}
	if got := setup.DependsOn["temporal-namespace"].Condition; got != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("steward-setup depends on temporal-namespace with condition %q; want %q",
			got, types.ServiceConditionCompletedSuccessfully)
	}
	if got := strings.Join(setup.Command, " "); got != "setup" {
		t.Errorf("steward-setup command = %q; want setup", got)
	}
	if len(setup.Entrypoint) == 0 || filepath.Base(setup.Entrypoint[0]) != "steward" {
		t.Errorf("steward-setup entrypoint = %v; want the steward CLI", setup.Entrypoint)
	}
	if setup.Image != worker.Image {
		t.Errorf("steward-setup image %q differs from steward-worker image %q", setup.Image, worker.Image)
	}

	for _, s := range []types.ServiceConfig{setup, worker} {
		for key, want := range map[string]string{
			"TEMPORAL_ADDRESS":   "temporal:7233",
			"TEMPORAL_NAMESPACE": "default",
		} {
			if got := env(s, key); got != want {
				t.Errorf("%s: %s=%q; want %q", s.Name, key, got, want)
			}
		}
		if s.Build == nil {
			t.Errorf("%s is not built from the repository's Dockerfile", s.Name)
			continue
		}
		if s.Build.Context != root || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s builds %s with context %s; want Dockerfile with context %s",
				s.Name, s.Build.Dockerfile, s.Build.Context, root)
		}
	}
	if got := env(worker, "STEWARD_REPO_PASSWORD"); got != testEnv["STEWARD_REPO_PASSWORD"] {
		t.Errorf("steward-worker: STEWARD_REPO_PASSWORD=%q; want the value from the environment", got)
	}
	if worker.Restart != types.RestartPolicyUnlessStopped {
		t.Errorf("steward-worker restart = %q; want %q", worker.Restart, types.RestartPolicyUnlessStopped)
	}

	const plans = "/etc/steward/plans.yaml"
	if i := slices.Index(worker.Command, "--plans"); i < 0 || i+1 >= len(worker.Command) || worker.Command[i+1] != plans {
		t.Errorf("steward-worker command = %v; want --plans %s", worker.Command, plans)
	}
	var mounted bool
	for _, v := range worker.Volumes {
		if v.Target != plans {
			continue
		}
		mounted = true
		if v.Type != types.VolumeTypeBind {
			t.Errorf("steward-worker mounts %s from a %s; want a bind mount of a file in the repository", plans, v.Type)
		}
		if !v.ReadOnly {
			t.Errorf("steward-worker mounts %s read-write; want read-only", plans)
		}
		if want := filepath.Join(root, "examples", "compose-plans.yaml"); v.Source != want {
			t.Errorf("steward-worker mounts %s from %s; want %s", plans, v.Source, want)
		}
		if fi, err := os.Stat(v.Source); err != nil {
			t.Errorf("plan file mounted by docker-compose.yml: %v", err)
		} else if !fi.Mode().IsRegular() {
			t.Errorf("plan file mounted by docker-compose.yml: %s is not a regular file", v.Source)
		} else {
			checkComposePlans(t, worker, v.Source)
		}
	}
	if !mounted {
		t.Errorf("steward-worker does not mount a plan file at %s", plans)
	}
	if !hasNamedVolume(p, worker, "/var/lib/steward/repos") {
		t.Error("steward-worker keeps backup repositories off a named volume")
	}
}

func hasNamedVolume(p *types.Project, s types.ServiceConfig, target string) bool {
	for _, v := range s.Volumes {
		if v.Target == target && v.Type == types.VolumeTypeVolume {
			_, declared := p.Volumes[v.Source]
			return declared
		}
	}
	return false
}

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// parseDockerfile splits a Dockerfile into instructions grouped by stage. It
// understands comments and backslash continuations, which is all ours uses.
func parseDockerfile(t *testing.T, path string) [][]instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages [][]instruction
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", path, in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return stages
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages; want a builder and a runtime stage", len(stages))
	}
	if from := stages[0][0].args; !strings.HasPrefix(from, "golang:1.26") {
		t.Errorf("builder stage is FROM %s; want golang:1.26", from)
	}

	var builds []string
	for _, in := range stages[0] {
		if in.cmd != "RUN" {
			continue
		}
		for _, part := range strings.Split(in.args, "&&") {
			if i := strings.Index(part, "go build"); i >= 0 {
				builds = append(builds, strings.Join(strings.Fields(part[i:]), " "))
			}
		}
	}
	for pkg, out := range map[string]string{"./worker": "/out/steward-worker", "./starter": "/out/steward"} {
		found := false
		for _, b := range builds {
			f := strings.Fields(b)
			if f[len(f)-1] != pkg {
				continue
			}
			found = true
			if !slices.Contains(f, "-trimpath") {
				t.Errorf("Dockerfile builds %s without -trimpath: %s", pkg, b)
			}
			if i := slices.Index(f, "-o"); i < 0 || i+1 >= len(f) || f[i+1] != out {
				t.Errorf("Dockerfile builds %s, want -o %s: %s", pkg, out, b)
			}
		}
		if !found {
			t.Errorf("Dockerfile does not `go build` %s; builds: %q", pkg, builds)
		}
		dir := filepath.Join(root, filepath.FromSlash(pkg))
		matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(matches) == 0 {
			t.Errorf("Dockerfile builds %s, but %s holds no Go files", pkg, dir)
		}
	}

	final := stages[len(stages)-1]
	var user, entrypoint string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		}
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("runtime stage runs as %q; want a non-root USER", user)
	}
	if !strings.Contains(entrypoint, "steward-worker") {
		t.Errorf("runtime ENTRYPOINT = %s; want the worker", entrypoint)
	}

	if _, err := os.Stat(filepath.Join(root, ".dockerignore")); err != nil {
		t.Errorf("build context: %v", err)
	}
}

// checkComposePlans parses the plan file the worker mounts: every plan must
// be valid, back up something the worker mounts and keep its repository on
// the repositories volume.
func checkComposePlans(t *testing.T, worker types.ServiceConfig, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := plan.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, p := range f.Plans {
		if p.Backup == nil {
			continue
		}
		if !mountedAt(worker, p.Backup.Source) {
			t.Errorf("%s: plan %s backs up %s, which steward-worker does not mount", file, p.ID, p.Backup.Source)
		}
		if !strings.HasPrefix(p.Backup.Repository, "/var/lib/steward/repos/") {
			t.Errorf("%s: plan %s keeps its repository at %s, off the steward-repos volume", file, p.ID, p.Backup.Repository)
		}
		if env(worker, p.Backup.PasswordEnv) == "" {
			t.Errorf("%s: plan %s reads its password from %s, which steward-worker does not set", file, p.ID, p.Backup.PasswordEnv)
		}
	}
}

func mountedAt(s types.ServiceConfig, path string) bool {
	for _, v := range s.Volumes {
		if path == v.Target || strings.HasPrefix(path, strings.TrimSuffix(v.Target, "/")+"/") {
			return true
		}
	}
	return false
}

// TestExamplePlansParse keeps the README's example plan files valid.
func TestExamplePlansParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example plan files (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := plan.Parse(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
