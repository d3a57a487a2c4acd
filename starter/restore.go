package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/workflows/api"
)

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "restore",
		Usage: "restore a backup plan's snapshot (or one path of it) into a directory on the plan's host",
		Description: `Starts a durable RestoreWorkflow on the plan's host: it survives a restart of
the worker or the server, can be cancelled from the Web UI or the temporal CLI,
and never writes outside the target. Without --snapshot or --at it restores the
newest snapshot.

   steward restore home --target /srv/restore --wait
   steward restore home --target /tmp/r --at 2026-12-01T03:00:00Z --path docs/report.pdf --wait`,
		ArgsUsage: "PLAN",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Required: true, Usage: "absolute `DIR` on the plan's host to restore into (created if missing)"},
			&cli.StringFlag{Name: "snapshot", Usage: "snapshot `ID` (or a unique prefix of 6 or more characters), or latest"},
			&cli.StringFlag{Name: "at", Usage: "restore the newest snapshot taken at or before `TIME` (RFC 3339, or 2006-01-02 15:04 in local time)"},
			&cli.StringFlag{Name: "path", Usage: "restore only `SUB/PATH` of the snapshot: a directory's contents into the target, a file as target/NAME"},
			&cli.StringFlag{Name: "host", Usage: "run the restore on worker `HOST` instead of the plan's host"},
			&cli.BoolFlag{Name: "overwrite", Usage: "restore into a target that is not empty, replacing files of the same names"},
			&cli.BoolFlag{Name: "wait", Usage: "follow the restore to its end with a progress bar"},
			outputFlag,
		},
		Action: restoreAction,
	}
}

// reportOutput is what restore and snapshots verify print with -o json:
// the workflow's ID and, once it has ended, its report or its error.
type reportOutput struct {
	ID     string         `json:"id"`
	RunID  string         `json:"run_id,omitempty"`
	Joined bool           `json:"joined,omitempty"`
	Report *api.RunReport `json:"report,omitempty"`
	Error  *string        `json:"error,omitempty"`
}

// printReport prints a finished job: out with its report or error as
// JSON, or the report through render for people. It returns the job's
// error.
func printReport(c *cli.Context, asJSON bool, out reportOutput, rep api.RunReport, runErr error, render func(io.Writer, api.RunReport)) error {
	if runErr != nil {
		msg := runErr.Error()
		out.Error = &msg
	} else {
		out.Report = &rep
	}
	if asJSON {
		if err := writeJSON(c, out); err != nil {
			return err
		}
	} else if runErr == nil {
		render(c.App.Writer, rep)
	}
	return runErr
}

func restoreAction(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	id, err := planArg(c)
	if err != nil {
		return err
	}
	o := control.Restore{
		Snapshot: c.String("snapshot"), Path: c.String("path"), Target: c.String("target"),
		Host: c.String("host"), Overwrite: c.Bool("overwrite"),
	}
	if s := c.String("at"); s != "" {
		at, err := parseAt(s, time.Local)
		if err != nil {
			return err
		}
		o.At = &at
	}
	if err := o.Check(); err != nil {
		return err
	}
	cl, _, err := dial(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	run, err := control.StartRestore(ctx(c), cl, id, o)
	if err != nil {
		return err
	}
	out := reportOutput{ID: run.GetID(), RunID: run.GetRunID()}
	if !c.Bool("wait") {
		if asJSON {
			return writeJSON(c, out)
		}
		fmt.Fprintf(c.App.Writer, "restore started %s\nfollow it in the Web UI, or with: temporal workflow show -w %s\n", run.GetID(), run.GetID())
		return nil
	}
	stopBar := func() {}
	if !asJSON && isTerminal(c.App.ErrWriter) {
		stopBar = showBar(ctx(c), c.App.ErrWriter, "restore", func() (sample, bool) { return restoreSample(ctx(c), cl, run.GetID()) })
	}
	rep, runErr := control.WaitRestore(ctx(c), run)
	stopBar()
	return printReport(c, asJSON, out, rep, runErr, renderRestore)
}

// restoreSample reads the restore's heartbeat for the bar.
func restoreSample(ctx context.Context, cl client.Client, id string) (sample, bool) {
	p, ok, err := control.RestoreProgress(ctx, cl, id)
	if err != nil || !ok {
		return sample{}, false
	}
	return sample{done: p.Bytes, total: p.TotalBytes, info: fmt.Sprintf("%d/%d files", p.Files, p.TotalFiles)}, true
}

// renderRestore says what a finished restore wrote where.
func renderRestore(w io.Writer, rep api.RunReport) {
	d := rep.Restore
	if d == nil {
		return
	}
	what := "snapshot"
	if d.Snapshot.Path != "" {
		what = safe(d.Snapshot.Path) + " of snapshot"
	}
	fmt.Fprintf(w, "restored %s %s (taken %s) to %s on host %s: %d files, %d dirs, %d symlinks, %s in %s\n",
		what, safe(d.Snapshot.SnapshotID), d.Snapshot.Taken.UTC().Format(time.RFC3339), safe(d.Target), safe(control.HostLabel(d.Host)),
		d.Result.Files, d.Result.Dirs, d.Result.Symlinks, bytesText(d.Result.Bytes), rep.End.Sub(rep.Start).Round(time.Millisecond))
	if d.Result.Kept > 0 {
		fmt.Fprintf(w, "resumed: %d files (%s) written before an interruption were intact and kept\n", d.Result.Kept, bytesText(d.Result.KeptBytes))
	}
}

// atLayouts are the forms --at takes besides RFC 3339, in local time.
var atLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04"}

// parseAt reads a --at time: RFC 3339, or a date and time in loc.
func parseAt(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, l := range atLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 (2026-12-01T03:00:00Z) or 2006-01-02 15:04[:05] in local time", s)
}
