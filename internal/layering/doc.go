// Package layering enforces steward's import rules.
//
// The rules are those of DESIGN.md section 2; the test in this package runs
// `go list -deps` over the module and fails on any import that breaks them.
// They apply to the packages' non-test code: tests may reach further (an end
// to end test imports the real server, for example).
package layering
