package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/workflows"
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
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			id, err := planArg(c)
			if err != nil {
				return err
			}
			cl, _, err := dial(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			l, err := control.Ledger(ctx(c), cl, id, c.Int("n"))
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c, l)
			}
			renderLedger(c.App.Writer, l)
			return nil
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
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			id, err := planArg(c)
			if err != nil {
				return err
			}
			if c.Int("n") < 1 {
				return fmt.Errorf("-n %d: want at least 1", c.Int("n"))
			}
			cl, _, err := dial(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			fires, err := control.Preview(ctx(c), cl, id, c.Int("n"))
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c, fires)
			}
			renderPreview(c.App.Writer, fires, time.Now())
			return nil
		},
	}
}

func renderLedger(w io.Writer, l []workflows.LedgerEntry) {
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

func renderPreview(w io.Writer, fires []workflows.FireTime, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NOMINAL\tSTARTS")
	for _, f := range fires {
		start := f.Start
		fmt.Fprintf(tw, "%s\t%s\n", f.Nominal.UTC().Format(time.RFC3339), when(&start, now))
	}
	tw.Flush()
}

func runsCommand() *cli.Command {
	return &cli.Command{
		Name:      "runs",
		Usage:     "list a plan's run records (kept per its history settings)",
		ArgsUsage: "ID",
		Flags:     []cli.Flag{outputFlag},
		Action: func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			id, err := planArg(c)
			if err != nil {
				return err
			}
			cl, _, err := dial(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			st, err := control.Status(ctx(c), cl, id)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c, st.RecentRuns)
			}
			renderRuns(c.App.Writer, st.RecentRuns, time.Now())
			return nil
		},
	}
}

func renderRuns(w io.Writer, runs []workflows.RunRecord, now time.Time) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "no run records")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tOUTCOME\tSTARTED\tTOOK\tSNAPSHOT\tERROR")
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		took := "-"
		if r.Finished != nil {
			took = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
		}
		errText := "-"
		if r.Error != nil {
			errText = clipText(*r.Error, 80)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Outcome, when(&r.Started, now), took, dash(r.SnapshotID), errText)
	}
	tw.Flush()
}
