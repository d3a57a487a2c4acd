package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// groupFlags select a group of plans for pause and unpause, which then go
// through one server-side batch operation instead of one signal.
func groupFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "all", Usage: "every running plan (one server-side batch operation)"},
		&cli.StringFlag{Name: "selector", Usage: "the running plans a visibility `QUERY` selects, like 'StewardKind=\"backup\"'"},
		&cli.StringFlag{Name: "timeout", Value: control.BatchTimeout.String(), Usage: "with --all or --selector: how long to wait for every plan to confirm (`DURATION`, like 5m)"},
	}
}

// groupSelected reports whether the command names a group of plans rather
// than one plan ID.
func groupSelected(c *cli.Context) bool { return c.Bool("all") || c.IsSet("selector") }

// pauseGroup is `steward pause --all|--selector`.
func pauseGroup(c *cli.Context, s api.PauseSignal) error {
	return groupCommand(c, func(cl client.Client, sel control.Selection, opts control.GroupOptions) (control.GroupResult, error) {
		return control.PauseGroup(ctx(c), cl, sel, s, opts)
	})
}

// unpauseGroup is `steward unpause --all|--selector`.
func unpauseGroup(c *cli.Context, s api.UnpauseSignal) error {
	return groupCommand(c, func(cl client.Client, sel control.Selection, opts control.GroupOptions) (control.GroupResult, error) {
		return control.UnpauseGroup(ctx(c), cl, sel, s, opts)
	})
}

func groupCommand(c *cli.Context, run func(client.Client, control.Selection, control.GroupOptions) (control.GroupResult, error)) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	sel := control.Selection{All: c.Bool("all"), Query: c.String("selector")}
	name := c.Command.Name
	switch {
	case c.NArg() > 0:
		return fmt.Errorf("%s: a plan ID (%s) and %s are exclusive: name one plan, or select a group", name, strings.Join(c.Args().Slice(), " "), groupFlagsUsed(c))
	case sel.All && c.IsSet("selector"):
		return fmt.Errorf("%s: --all and --selector are exclusive", name)
	case c.IsSet("selector") && strings.TrimSpace(sel.Query) == "":
		return fmt.Errorf("%s: --selector needs a query, like 'StewardKind=\"backup\"'", name)
	}
	timeout, err := plan.ParseDuration(c.String("timeout"))
	if err != nil || timeout <= 0 {
		return fmt.Errorf("%s: --timeout %q: want a positive duration, like 5m", name, c.String("timeout"))
	}
	cl, ns, err := dial(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := run(cl, sel, control.GroupOptions{
		Timeout:   timeout,
		Namespace: ns,
		Identity:  "steward CLI, " + c.String("by"),
	})
	if len(res.Plans) > 0 {
		if asJSON {
			if werr := writeJSON(c, res); werr != nil {
				return werr
			}
		} else {
			renderGroup(c.App.Writer, name, res, time.Now())
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, sel, err)
	}
	return nil
}

func groupFlagsUsed(c *cli.Context) string {
	if c.Bool("all") {
		return "--all"
	}
	return "--selector"
}

// renderGroup prints what a group pause or unpause did, one plan a line.
func renderGroup(w io.Writer, name string, res control.GroupResult, now time.Time) {
	ok := 0
	for _, p := range res.Plans {
		if p.Outcome == control.OutcomePaused || p.Outcome == control.OutcomeUnpaused {
			ok++
		}
	}
	verb := map[string]string{api.SignalPause: "paused", api.SignalUnpause: "unpaused"}[name]
	lease := ""
	if res.LeaseID != "" {
		lease = " (lease " + res.LeaseID + ")"
	}
	fmt.Fprintf(w, "%s %d of %d plans%s, batch job %s\n", verb, ok, len(res.Plans), lease, res.JobID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAN\tSTATE\tPAUSED UNTIL\tBY\tRESULT")
	for _, p := range res.Plans {
		state, until, by := "?", "-", "-"
		if st := p.Status; st != nil {
			state = st.State
			if st.Pause.Paused {
				until = pausedUntil(st.Pause.Until)
			}
			if l := control.HoldingLease(*st, res.LeaseID); l != nil && st.Pause.Paused {
				by = dash(l.By)
			}
		}
		result := p.Outcome
		if p.Error != nil && p.Outcome != control.OutcomePaused && p.Outcome != control.OutcomeUnpaused {
			result += ": " + *p.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Plan, state, until, by, result)
	}
	tw.Flush()
}

// pausedUntil shows a pause's end: a time, or indefinitely.
func pausedUntil(t *time.Time) string {
	if t == nil {
		return "indefinitely"
	}
	return t.UTC().Format(time.RFC3339)
}
