package layering

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A rule constrains what a set of the module's packages may import.
//
// Patterns are import paths; a trailing "/..." matches the path and everything
// below it, as with the go command, and a leading "./" makes the path relative
// to the module ("./workflows" is github.com/steward-ops/steward/workflows).
type rule struct {
	name   string   // the rule as DESIGN.md states it; quoted in failures
	pkgs   []string // packages the rule constrains
	except []string // packages exempt from it
	forbid []string // imports they must not have
	allow  []string // exceptions to forbid
	// direct restricts the rule to the package's own imports. Otherwise every
	// package reachable through imports counts, except the dependencies of
	// opaque packages, which are not followed.
	direct bool
	opaque []string
}

var (
	engines     = []string{"./internal/snapshot/...", "./internal/prefetch/...", "./internal/precheck/...", "./internal/notify/..."}
	temporalSDK = []string{"go.temporal.io/sdk/...", "go.temporal.io/api/..."}
)

// rules are DESIGN.md section 2's import rules.
var rules = []rule{
	{
		name:   "only internal/devserver imports go.temporal.io/server",
		pkgs:   []string{"./..."},
		except: []string{"./internal/devserver/..."},
		forbid: []string{"go.temporal.io/server/..."},
		direct: true,
	},
	{
		// Benchmarks (bench/...) are not product code: they may run the
		// embedded server in-process, but only through internal/devserver
		// (the rule above still forbids them importing the server).
		name:   "only internal/devserver, the worker and benchmarks depend on go.temporal.io/server (the steward CLI stays small)",
		pkgs:   []string{"./..."},
		except: []string{"./internal/devserver/...", "./worker", "./bench/..."},
		forbid: []string{"go.temporal.io/server/..."},
	},
	{
		name: "workflows import the activities contract, never its implementations, the engines or the embedded server",
		pkgs: []string{"./workflows/..."},
		forbid: append([]string{"./activities/...", "./internal/devserver/..."},
			engines...),
		allow: []string{"./activities"},
	},
	{
		name: "workflows do no I/O: no os/exec, net/http, kopia or go-containerregistry (the Temporal SDK's own dependencies aside)",
		pkgs: []string{"./workflows/..."},
		forbid: []string{
			"os/exec", "net/http",
			"github.com/kopia/kopia/...", "github.com/google/go-containerregistry/...",
		},
		opaque: temporalSDK,
	},
	{
		name:   "engines never import Temporal, workflows or activities",
		pkgs:   engines,
		forbid: []string{"go.temporal.io/...", "./workflows/...", "./activities/..."},
	},
	{
		name: "pure packages import neither Temporal, I/O nor an engine",
		pkgs: []string{"./internal/plan/...", "./internal/schedule/...", "./internal/retention/...", "./internal/repository/..."},
		forbid: append([]string{
			"go.temporal.io/...", "os/exec", "net", "net/http", "./internal/devserver/...",
		}, engines...),
	},
	{
		name:   "pure packages do not use the os package (time is injected, files are read by callers)",
		pkgs:   []string{"./internal/plan/...", "./internal/schedule/...", "./internal/retention/..."},
		forbid: []string{"os"},
		direct: true,
	},
	{
		name:   "the steward CLI and its client code reach workflows only through the contract package workflows/api, never the workflow code",
		pkgs:   []string{"./starter/...", "./internal/control/...", "./workflows/api/..."},
		forbid: []string{"./workflows/..."},
		allow:  []string{"./workflows/api"},
	},
	{
		name:   "the activities contract package imports nothing from the module but the pure retention rules and repository references (both travel in requests)",
		pkgs:   []string{"./activities"},
		forbid: []string{"./..."},
		allow:  []string{"./internal/retention", "./internal/repository"},
		direct: true,
	},
}

// pkg is the part of `go list -json` output the rules need.
type pkg struct {
	ImportPath string
	Imports    []string
	DepOnly    bool
	Error      *struct{ Err string }
}

// violation is one forbidden import found by check.
type violation struct {
	pkg   string   // the constrained package
	imp   string   // the forbidden import
	chain []string // pkg, ..., imp: how pkg reaches imp
	rule  string
}

func (v violation) String() string {
	via := ""
	if len(v.chain) > 2 {
		via = " via " + strings.Join(v.chain[1:len(v.chain)-1], " -> ")
	}
	return fmt.Sprintf("%s imports %s%s; rule: %s", v.pkg, v.imp, via, v.rule)
}

// match reports whether path matches pattern, with "./" already resolved.
func match(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == pattern
}

func matchAny(mod string, patterns []string, path string) bool {
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "./"); ok {
			p = mod + "/" + rest
		} else if p == "." {
			p = mod
		}
		if match(p, path) {
			return true
		}
	}
	return false
}

// check applies rules to the module's packages in pkgs, which must also hold
// every package they depend on, and returns the violations sorted by package.
func check(mod string, pkgs map[string]*pkg, rules []rule) []violation {
	var out []violation
	paths := make([]string, 0, len(pkgs))
	for p := range pkgs {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, r := range rules {
		forbidden := func(imp string) bool {
			return matchAny(mod, r.forbid, imp) && !matchAny(mod, r.allow, imp)
		}
		for _, path := range paths {
			if !matchAny(mod, []string{"./..."}, path) || pkgs[path].DepOnly ||
				!matchAny(mod, r.pkgs, path) || matchAny(mod, r.except, path) {
				continue
			}
			if r.direct {
				for _, imp := range pkgs[path].Imports {
					if forbidden(imp) {
						out = append(out, violation{pkg: path, imp: imp, chain: []string{path, imp}, rule: r.name})
					}
				}
				continue
			}
			// Breadth first, so each reported chain is a shortest one.
			parent := map[string]string{path: ""}
			queue := []string{path}
			for len(queue) > 0 {
				cur := queue[0]
				queue = queue[1:]
				if cur != path && forbidden(cur) {
					var chain []string
					for p := cur; p != ""; p = parent[p] {
						chain = append(chain, p)
					}
					slices.Reverse(chain)
					out = append(out, violation{pkg: path, imp: cur, chain: chain, rule: r.name})
					continue // report where the chain first goes wrong, not all below it
				}
				if cur != path && matchAny(mod, r.opaque, cur) {
					continue
				}
				p := pkgs[cur]
				if p == nil {
					continue
				}
				for _, imp := range p.Imports {
					if _, seen := parent[imp]; !seen {
						parent[imp] = cur
						queue = append(queue, imp)
					}
				}
			}
		}
	}
	return out
}

// moduleRoot walks up from the test's directory to go.mod and returns the
// directory and the module path.
func moduleRoot(t *testing.T) (dir, mod string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(rest), `"`)
				}
			}
			t.Fatalf("%s: no module line", filepath.Join(dir, "go.mod"))
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("find module root: no go.mod above the test directory")
		}
		dir = parent
	}
}

// listPackages runs `go list -deps -json ./...` in the module root.
func listPackages(t *testing.T, root string) map[string]*pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("find the go command: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goBin, "list", "-deps",
		"-json=ImportPath,Imports,DepOnly,Error", "./...")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list -deps -json ./... in %s: %v\n%s", root, err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(&stdout)
	for {
		p := new(pkg)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	root, mod := moduleRoot(t)
	pkgs := listPackages(t, root)

	var own []string
	for path, p := range pkgs {
		if !p.DepOnly && matchAny(mod, []string{"./..."}, path) {
			own = append(own, path)
		}
	}
	if len(own) == 0 {
		t.Fatalf("go list -deps ./... in %s found no packages of module %s", root, mod)
	}
	for _, r := range rules {
		n := 0
		for _, path := range own {
			if matchAny(mod, r.pkgs, path) && !matchAny(mod, r.except, path) {
				n++
			}
		}
		if n == 0 {
			t.Logf("no package to check yet for rule: %s", r.name)
		}
	}

	for _, v := range check(mod, pkgs, rules) {
		t.Error(v)
	}
}

// TestCheckCatchesViolations feeds check a made-up module with one violation
// of every rule, and the same module without them, so TestImportRules cannot
// pass because the checker or the table went blind.
func TestCheckCatchesViolations(t *testing.T) {
	const mod = "example.com/m"
	graph := func(edges map[string][]string) map[string]*pkg {
		pkgs := map[string]*pkg{}
		for from, tos := range edges {
			pkgs[from] = &pkg{ImportPath: from, Imports: tos}
			for _, to := range tos {
				if _, ok := pkgs[to]; !ok && edges[to] == nil {
					pkgs[to] = &pkg{ImportPath: to, DepOnly: true}
				}
			}
		}
		for from := range edges {
			if !strings.HasPrefix(from, mod) {
				pkgs[from].DepOnly = true
			}
		}
		return pkgs
	}
	clean := map[string][]string{
		mod + "/activities":           {"time"},
		mod + "/activities/backup":    {mod + "/activities", mod + "/internal/snapshot", "go.temporal.io/sdk/activity"},
		mod + "/internal/snapshot":    {"github.com/kopia/kopia/repo", "os/exec"},
		mod + "/internal/prefetch":    {"net/http", "github.com/google/go-containerregistry/pkg/v1"},
		mod + "/internal/plan":        {mod + "/internal/schedule", "gopkg.in/yaml.v3", "time"},
		mod + "/internal/schedule":    {"github.com/robfig/cron/v3", "time", "fmt"},
		mod + "/internal/retention":   {"time", "sort"},
		mod + "/internal/devserver":   {"go.temporal.io/server/temporal"},
		mod + "/workflows":            {mod + "/activities", mod + "/internal/plan", "go.temporal.io/sdk/workflow"},
		mod + "/worker":               {mod + "/internal/devserver", mod + "/workflows", mod + "/activities/backup"},
		mod + "/starter":              {mod + "/internal/plan", mod + "/workflows/api", "go.temporal.io/sdk/client"},
		mod + "/workflows/api":        {mod + "/activities", mod + "/internal/plan"},
		mod + "/bench/schedules":      {mod + "/internal/devserver", mod + "/workflows"},
		"go.temporal.io/sdk/workflow": {"go.temporal.io/sdk/internal"},
		"go.temporal.io/sdk/client":   {"go.temporal.io/sdk/internal"},
		"go.temporal.io/sdk/internal": {"net/http", "google.golang.org/grpc"},
		"fmt":                         {"os"},
	}
	if got := check(mod, graph(clean), rules); len(got) != 0 {
		t.Fatalf("check on a clean module reported %d violations, want none:\n%v", len(got), got)
	}

	bad := map[string][]string{}
	for k, v := range clean {
		bad[k] = slices.Clone(v)
	}
	add := func(from string, to ...string) { bad[from] = append(bad[from], to...) }
	// One violation per rule, some of them reached only through a helper.
	add(mod+"/starter", mod+"/internal/devserver")
	add(mod+"/worker", "go.temporal.io/server/common")
	add(mod+"/bench/schedules", "go.temporal.io/server/service/worker/scheduler")
	add(mod+"/workflows", mod+"/activities/backup", mod+"/internal/wfhelp")
	add(mod+"/internal/wfhelp", "github.com/kopia/kopia/repo", "os/exec")
	add(mod+"/internal/snapshot", "go.temporal.io/sdk/activity")
	add(mod+"/internal/retention", "os")
	add(mod+"/internal/schedule", mod+"/internal/netutil")
	add(mod+"/internal/netutil", "net")
	add(mod+"/activities", mod+"/internal/plan")
	add(mod+"/internal/control", mod+"/workflows")
	add(mod+"/starter", mod+"/internal/control")
	got := check(mod, graph(bad), rules)

	fired := map[string]bool{}
	for _, v := range got {
		fired[v.rule] = true
		t.Logf("caught: %v", v)
	}
	for _, r := range rules {
		if !fired[r.name] {
			t.Errorf("no violation reported for rule %q", r.name)
		}
	}
	for _, want := range []string{
		mod + "/starter imports go.temporal.io/server/temporal via " + mod + "/internal/devserver;",
		mod + "/internal/schedule imports net via " + mod + "/internal/netutil;",
		mod + "/workflows imports os/exec via " + mod + "/internal/wfhelp;",
		mod + "/activities imports " + mod + "/internal/plan;",
		mod + "/starter imports " + mod + "/workflows via " + mod + "/internal/control;",
		mod + "/bench/schedules imports go.temporal.io/server/service/worker/scheduler;",
	} {
		if !slices.ContainsFunc(got, func(v violation) bool { return strings.HasPrefix(v.String(), want) }) {
			t.Errorf("no violation reads %q", want)
		}
	}
	for _, v := range got {
		if v.imp == "net/http" && strings.HasSuffix(v.pkg, "/workflows") {
			t.Errorf("net/http inside the Temporal SDK counted against workflows: %v", v)
		}
	}
}

// The worker built with -tags nodev (the Dockerfile's) links none of the
// Temporal server: that is what keeps it lean.
func TestLeanWorkerHasNoServer(t *testing.T) {
	root, _ := moduleRoot(t)
	cmd := exec.CommandContext(t.Context(), "go", "list", "-deps", "-tags", "nodev", "./worker")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -tags nodev ./worker: %v", err)
	}
	var server []string
	for _, p := range strings.Fields(string(out)) {
		if match("go.temporal.io/server/...", p) {
			server = append(server, p)
		}
	}
	if len(server) > 0 {
		t.Errorf("the nodev worker depends on %d packages of go.temporal.io/server, %s first", len(server), server[0])
	}
	if !slices.Contains(strings.Fields(string(out)), "go.temporal.io/sdk/worker") {
		t.Error("go list -deps -tags nodev ./worker lists no go.temporal.io/sdk/worker: the check would prove nothing")
	}
}
