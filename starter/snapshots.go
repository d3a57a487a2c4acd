package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/control"
)

func snapshotsCommand() *cli.Command {
	return &cli.Command{
		Name:  "snapshots",
		Usage: "list a backup plan's snapshots with their keep reasons, or apply its retention now",
		Subcommands: []*cli.Command{
			{
				Name:      "ls",
				Usage:     "list the plan's snapshots, newest first, with what backup.keep decides for each and why",
				ArgsUsage: "PLAN",
				Flags:     []cli.Flag{outputFlag},
				Action: func(c *cli.Context) error {
					return showPlan(c, func(cl client.Client, id string) (activities.ForgetResult, error) {
						return control.Snapshots(ctx(c), cl, id, false)
					}, renderSnapshots)
				},
			},
			{
				Name:      "forget",
				Usage:     "delete the plan's snapshots that backup.keep does not keep (its data goes at the next maintenance)",
				ArgsUsage: "PLAN",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "dry-run", Usage: "show what would be deleted, and why the rest is kept; delete nothing"},
					outputFlag,
				},
				Action: func(c *cli.Context) error {
					dry := c.Bool("dry-run")
					return showPlan(c, func(cl client.Client, id string) (activities.ForgetResult, error) {
						return control.Snapshots(ctx(c), cl, id, !dry)
					}, func(w io.Writer, r activities.ForgetResult, now time.Time) {
						renderSnapshots(w, r, now)
						drop := len(r.Snapshots) - r.Kept
						if dry {
							fmt.Fprintf(w, "dry run: would forget %d, keep %d; nothing was deleted\n", drop, r.Kept)
							return
						}
						fmt.Fprintf(w, "forgot %d, kept %d\n", r.Forgotten, r.Kept)
					})
				},
			},
		},
	}
}

// renderSnapshots prints a plan's snapshots, newest first, with their keep
// reasons.
func renderSnapshots(w io.Writer, r activities.ForgetResult, now time.Time) {
	if len(r.Snapshots) == 0 {
		fmt.Fprintln(w, "no snapshots")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tTAKEN\tFILES\tSIZE\tKEEP\tREASONS")
	for _, s := range r.Snapshots {
		keep := "keep"
		if !s.Keep {
			keep = "forget"
		}
		start := s.Start
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", safe(s.ID), when(&start, now), s.Files, bytesText(s.Bytes), keep, dash(strings.Join(s.Reasons, ", ")))
	}
	tw.Flush()
}
