package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/workflows/api"
)

func ledgerCommand() *cli.Command {
	return &cli.Command{
		Name:      "ledger",
		Usage:     "show what happened to each fire time of a plan",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "n", Value: 50, Usage: "newest `N` entries (0: all kept)"},
			outputFlag,
		},
		Action: func(c *cli.Context) error {
			return showPlan(c, func(cl client.Client, id string) ([]api.LedgerEntry, error) {
				return control.Ledger(ctx(c), cl, id, c.Int("n"))
			}, renderLedger)
		},
	}
}

func previewCommand() *cli.Command {
	return &cli.Command{
		Name:      "preview",
		Usage:     "show a plan's next fire times",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "n", Value: 10, Usage: "how many"},
			outputFlag,
		},
		Action: func(c *cli.Context) error {
			if c.Int("n") < 1 {
				return fmt.Errorf("-n %d: want at least 1", c.Int("n"))
			}
			return showPlan(c, func(cl client.Client, id string) ([]api.FireTime, error) {
				return control.Preview(ctx(c), cl, id, c.Int("n"))
			}, renderPreview)
		},
	}
}

func runsCommand() *cli.Command {
	return &cli.Command{
		Name:      "runs",
		Usage:     "list a plan's run records (kept per its history settings)",
		ArgsUsage: "ID",
		Flags:     []cli.Flag{outputFlag},
		Action: func(c *cli.Context) error {
			return showPlan(c, func(cl client.Client, id string) ([]api.RunRecord, error) {
				st, err := control.Status(ctx(c), cl, id)
				return st.RecentRuns, err
			}, renderRuns)
		},
	}
}

// showPlan runs a command on one plan: get fetches what to show, render
// prints it for people, --output json prints it for scripts.
func showPlan[T any](c *cli.Context, get func(client.Client, string) (T, error), render func(io.Writer, T, time.Time)) error {
	id, err := planArg(c)
	if err != nil {
		return err
	}
	return show(c, func(cl client.Client) (T, error) { return get(cl, id) }, render)
}

// show connects, fetches what to show and prints it as a table or JSON.
func show[T any](c *cli.Context, get func(client.Client) (T, error), render func(io.Writer, T, time.Time)) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	cl, _, err := dial(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	v, err := get(cl)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c, v)
	}
	render(c.App.Writer, v, time.Now())
	return nil
}

// renderLedger prints a plan's ledger for people; dash makes its run IDs
// and details safe to print.
func renderLedger(w io.Writer, l []api.LedgerEntry, _ time.Time) {
	if len(l) == 0 {
		fmt.Fprintln(w, "no fire times yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NOMINAL\tOUTCOME\tLATE\tRUN\tDETAIL")
	for _, e := range l {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Nominal.UTC().Format(time.RFC3339), e.Outcome, dash(e.Late), dash(e.RunID), dash(e.Detail))
	}
	tw.Flush()
}

func renderPreview(w io.Writer, fires []api.FireTime, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NOMINAL\tSTARTS")
	for _, f := range fires {
		start := f.Start
		fmt.Fprintf(tw, "%s\t%s\n", f.Nominal.UTC().Format(time.RFC3339), when(&start, now))
	}
	tw.Flush()
}

// runResult is what a run made: a backup's snapshot, a preheat's items.
func runResult(r api.RunRecord) string {
	switch {
	case r.SnapshotID != "":
		return "snapshot " + r.SnapshotID
	case r.Files > 0 && r.Outcome == api.OutcomeSucceeded:
		return fmt.Sprintf("%d items, %s, %s downloaded", r.Files, bytesText(r.Bytes), bytesText(r.Downloaded))
	}
	return ""
}

// renderRuns prints a plan's run records for people, newest first, with
// their IDs and errors made safe to print.
func renderRuns(w io.Writer, runs []api.RunRecord, now time.Time) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "no run records")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tOUTCOME\tSTARTED\tTOOK\tRESULT\tERROR")
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		took := "-"
		if r.Finished != nil {
			took = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
		}
		errText := "-"
		if r.Error != nil {
			errText = safeClip(*r.Error, 80)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", safe(r.ID), r.Outcome, when(&r.Started, now), took, dash(runResult(r)), errText)
	}
	tw.Flush()
}
