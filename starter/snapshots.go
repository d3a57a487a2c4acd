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
	"github.com/steward-ops/steward/workflows/api"
)

func snapshotsCommand() *cli.Command {
	return &cli.Command{
		Name:  "snapshots",
		Usage: "list a backup plan's snapshots with their keep reasons, apply its retention now, or verify its repository",
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
			{
				Name:      "verify",
				Usage:     "read back the plan's repository now: every snapshot's metadata and a share of file contents; the plan records the outcome (verify-failed)",
				ArgsUsage: "PLAN",
				Flags: []cli.Flag{
					&cli.Float64Flag{Name: "percent", Usage: "`PERCENT` (0 to 100) of file contents to read back (default: the plan's backup.verify.percent, or 5)"},
					&cli.StringFlag{Name: "by", Usage: "who asks, for the ledger", Value: control.Actor()},
					outputFlag,
				},
				Action: snapshotsVerify,
			},
		},
	}
}

// snapshotsVerify asks the plan to verify its repository now and waits
// for the outcome; it fails when the verification fails.
func snapshotsVerify(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	id, err := planArg(c)
	if err != nil {
		return err
	}
	req := api.VerifyNow{By: c.String("by")}
	if c.IsSet("percent") {
		pc := c.Float64("percent")
		if pc < 0 || pc > 100 {
			return fmt.Errorf("--percent %v: must be 0 to 100", pc)
		}
		req.Percent = &pc
	}
	cl, _, err := dial(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	started, err := control.VerifyNow(ctx(c), cl, id, req)
	if err != nil {
		return err
	}
	if !asJSON {
		verb := "started"
		if started.Joined {
			verb = "joined the verification already running:"
		}
		fmt.Fprintf(c.App.ErrWriter, "verification %s %s\n", verb, started.ID)
	}
	rep, runErr := control.WaitVerify(ctx(c), cl, started.ID)
	return printReport(c, asJSON, reportOutput{ID: started.ID, Joined: started.Joined}, rep, runErr, renderVerify)
}

// renderVerify says what a verification checked.
func renderVerify(w io.Writer, rep api.RunReport) {
	if v := rep.Verify; v != nil {
		fmt.Fprintf(w, "verified %d snapshots, %d files in %s: no problems found\n", v.Snapshots, v.Files, rep.End.Sub(rep.Start).Round(time.Millisecond))
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
