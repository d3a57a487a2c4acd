// Package e2e holds steward's end-to-end tests: the real worker binary with
// its embedded Temporal server on a SQLite file, the real steward CLI, the
// real temporal CLI and real kopia repositories, killed and restarted.
package e2e
