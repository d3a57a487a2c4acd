//go:build !nodev

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/steward-ops/steward/internal/devserver"
	"github.com/steward-ops/steward/workflows/api"
)

func startDevServer(ctx context.Context, o options, logger *slog.Logger) (devServer, error) {
	if dir := filepath.Dir(o.DevDB); dir == ".steward" {
		// The default location is created on first use; any other
		// directory must exist, so a typo is not silently a new database.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	start := time.Now()
	srv, err := devserver.Start(ctx, devserver.Options{
		DBPath:           o.DevDB,
		IP:               o.DevIP,
		Port:             o.DevPort,
		UIPort:           o.DevUIPort,
		SearchAttributes: api.SearchAttributes,
		DynamicConfig:    o.DevConfig,
		Logger:           logger.With("component", "temporal"),
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded Temporal: %w", err)
	}
	logger.Debug("Embedded Temporal started", "took", time.Since(start))
	return srv, nil
}
