//go:build nodev

package main

import (
	"context"
	"errors"
	"log/slog"
)

// startDevServer refuses: this worker was built without the embedded
// server (go build -tags nodev), which leaves the Temporal server's code,
// and the memory it takes, out of the binary.
func startDevServer(context.Context, options, *slog.Logger) (devServer, error) {
	return nil, errors.New("--dev: this steward-worker was built without the embedded Temporal server (-tags nodev); connect it to a server with --address, or build it without the tag")
}
