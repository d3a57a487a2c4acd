// Command steward is the CLI of steward: it applies plan files and pauses,
// unpauses, triggers and shows plans, all through Temporal.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := newApp(os.Stdout, os.Stderr)
	if err := app.Run(interspersed(app, os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "steward:", err)
		os.Exit(1)
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "steward",
		Usage:     "durable backup and cache-preheat schedules on Temporal",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "address", Usage: "Temporal frontend `HOST:PORT` (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)"},
			&cli.StringFlag{Name: "namespace", Usage: "Temporal namespace (default $TEMPORAL_NAMESPACE or default)"},
		},
		Commands: []*cli.Command{
			planCommand(),
			pauseCommand(),
			unpauseCommand(),
			triggerCommand(),
			ledgerCommand(),
			runsCommand(),
			preheatCommand(),
			cacheCommand(),
			hostsCommand(),
			snapshotsCommand(),
			restoreCommand(),
			setupCommand(),
			healthCommand(),
			notifyCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main prints the error once
	}
}

// outputFlag selects tables for people or JSON for scripts.
var outputFlag = &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"}

func jsonOutput(c *cli.Context) (bool, error) {
	switch o := c.String("output"); o {
	case "text":
		return false, nil
	case "json":
		return true, nil
	default:
		return false, fmt.Errorf("--output %q: want text or json", o)
	}
}

// ctx is the command's context.
func ctx(c *cli.Context) context.Context { return c.Context }
