package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"gopkg.in/yaml.v3"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/workflows/api"
)

// connection is the connection the global flags ask for.
func connection(c *cli.Context) control.Connection {
	return control.Connection{Address: c.String("address"), Namespace: c.String("namespace")}
}

// dial connects with the global flags and the temporal CLI's settings.
func dial(c *cli.Context) (client.Client, string, error) {
	opts, err := connection(c).Options()
	if err != nil {
		return nil, "", err
	}
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	cl, err := control.Dial(ctx(c), opts)
	return cl, opts.Namespace, err
}

// planArg returns the one plan ID a command takes.
func planArg(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s takes one plan ID (see steward plan ls)", c.Command.FullName())
	}
	return c.Args().First(), nil
}

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "apply, list, show and remove plans",
		Subcommands: []*cli.Command{
			{
				Name:  "apply",
				Usage: "make the running plans equal to a plan file",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Required: true, Usage: "plan `FILE` (YAML)"},
					&cli.BoolFlag{Name: "prune", Usage: "also remove running plans the file does not list"},
					&cli.BoolFlag{Name: "dry-run", Usage: "show what would be created, updated, left unchanged and removed; change nothing"},
					outputFlag,
				},
				Action: planApply,
			},
			{Name: "ls", Usage: "list plans", Flags: []cli.Flag{outputFlag}, Action: planList},
			{Name: "show", Usage: "show a plan's status, or with --spec its settings as it runs them", ArgsUsage: "ID", Flags: []cli.Flag{
				outputFlag,
				&cli.BoolFlag{Name: "spec", Usage: "show the plan's effective settings (defaults filled in) instead of its status"},
			}, Action: planShow},
			{Name: "rm", Usage: "remove a plan (cancels its run in flight)", ArgsUsage: "ID", Action: planRemove},
			previewCommand(),
		},
	}
}

func planApply(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	name := c.String("file")
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read plans: %w", err)
	}
	f, err := plan.Parse(data)
	if err != nil {
		return fmt.Errorf("%s:\n%w\nnothing was applied", name, err)
	}
	cl, _, err := dial(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	dry := c.Bool("dry-run")
	res, err := control.Apply(ctx(c), cl, f, control.ApplyOptions{Prune: c.Bool("prune"), DryRun: dry})
	if asJSON {
		if werr := writeJSON(c, res); werr != nil {
			return werr
		}
	} else {
		for _, pc := range res.Plans {
			fmt.Fprintln(c.App.Writer, pc)
		}
		if dry && err == nil {
			fmt.Fprintf(c.App.Writer, "dry run: %s; nothing was changed\n", res.Summary())
		}
	}
	if err != nil {
		return fmt.Errorf("%s:\n%w", name, err)
	}
	return nil
}

func planList(c *cli.Context) error {
	return show(c, func(cl client.Client) ([]control.Summary, error) {
		plans, err := control.List(ctx(c), cl)
		if err == nil {
			control.AddPauseDetails(ctx(c), cl, plans)
		}
		return plans, err
	}, renderList)
}

func planShow(c *cli.Context) error {
	if c.Bool("spec") {
		return showPlan(c, func(cl client.Client, id string) (plan.Plan, error) {
			return control.Spec(ctx(c), cl, id)
		}, renderSpec)
	}
	return showPlan(c, func(cl client.Client, id string) (showOutput, error) {
		st, err := control.Status(ctx(c), cl, id)
		out := showOutput{Status: st}
		if r := st.LastRun; err == nil && r != nil && r.Outcome == api.OutcomeRunning {
			if p, ok, perr := control.BackupProgress(ctx(c), cl, r.ID); perr == nil && ok {
				out.Progress = &p
			}
		}
		return out, err
	}, func(w io.Writer, o showOutput, now time.Time) {
		renderStatus(w, o.Status, now)
		if p := o.Progress; p != nil {
			fmt.Fprintf(w, "\nRun in flight: %s\n", progressLine(*p))
		}
	})
}

// progressLine describes a backup in flight: files and bytes so far, of
// kopia's estimate of the source once it is in.
func progressLine(p activities.BackupProgress) string {
	files, read := fmt.Sprint(p.Files), bytesText(p.Bytes)
	if p.TotalFiles > 0 && p.TotalBytes > 0 {
		files = fmt.Sprintf("%d of ~%d", p.Files, p.TotalFiles)
		read = fmt.Sprintf("%s of ~%s (%d%%)", read, bytesText(p.TotalBytes), min(100, p.Bytes*100/p.TotalBytes))
	}
	return fmt.Sprintf("%s files, %s read, %s added so far", files, read, bytesText(p.Uploaded))
}

// showOutput is plan show's view: the status query's result (its shape
// for scripts is kept; fields are only added) and the live progress of a
// backup in flight, from its heartbeats.
type showOutput struct {
	api.Status
	Progress *activities.BackupProgress `json:"progress,omitempty"`
}

// renderSpec prints a plan's settings as a plan file entry.
func renderSpec(w io.Writer, p plan.Plan, _ time.Time) {
	b, err := yaml.Marshal(plan.File{Plans: []plan.Plan{p}})
	if err != nil {
		fmt.Fprintf(w, "plan %s: %v\n", p.ID, err)
		return
	}
	w.Write(b)
}

func planRemove(c *cli.Context) error {
	id, err := planArg(c)
	if err != nil {
		return err
	}
	cl, _, err := dial(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := control.Remove(ctx(c), cl, id); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "removed %s\n", id)
	return nil
}

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "pause a plan or a group of plans, for a while or until unpaused",
		ArgsUsage: "ID | --all | --selector QUERY",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "for", Usage: "pause for `DURATION` (like 2h)"},
			&cli.StringFlag{Name: "until", Usage: "pause until `TIME` (RFC 3339, like 2026-11-24T14:00:00Z)"},
			&cli.BoolFlag{Name: "until-next-run", Usage: "skip only the next scheduled run"},
			&cli.StringFlag{Name: "reason", Usage: "why (shown in status and the Web UI)"},
			&cli.StringFlag{Name: "by", Value: control.Actor(), Usage: "who pauses"},
			&cli.StringFlag{Name: "id", Usage: "lease `ID`, to end this pause alone later (default: generated)"},
			&cli.StringFlag{Name: "mode", Value: api.ModeNewRuns, Usage: "new-runs, or all to also cancel the run in flight"},
			requestIDFlag,
			outputFlag,
		}, groupFlags()...),
		Action: func(c *cli.Context) error {
			s := api.PauseSignal{
				For: c.String("for"), Until: c.String("until"), UntilNextRun: c.Bool("until-next-run"),
				Reason: c.String("reason"), By: c.String("by"), ID: c.String("id"), Mode: c.String("mode"),
			}
			if groupSelected(c) {
				return pauseGroup(c, s)
			}
			return requestCommand(c, func(cl client.Client, id string) (api.RequestResult, error) {
				return control.Pause(ctx(c), cl, id, c.String("request-id"), s)
			})
		},
	}
}

func unpauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "unpause",
		Usage:     "end the pause of a plan or a group of plans (all leases, or one with --id)",
		ArgsUsage: "ID | --all | --selector QUERY",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "id", Usage: "end only lease `ID`"},
			&cli.StringFlag{Name: "catchup", Usage: "runs that came due while paused: skip (default), latest or all (bounded by catchup_max)"},
			&cli.StringFlag{Name: "reason", Usage: "why"},
			&cli.StringFlag{Name: "by", Value: control.Actor(), Usage: "who unpauses"},
			requestIDFlag,
			outputFlag,
		}, groupFlags()...),
		Action: func(c *cli.Context) error {
			s := api.UnpauseSignal{
				ID: c.String("id"), CatchUp: c.String("catchup"), Reason: c.String("reason"), By: c.String("by"),
			}
			if groupSelected(c) {
				return unpauseGroup(c, s)
			}
			return requestCommand(c, func(cl client.Client, id string) (api.RequestResult, error) {
				return control.Unpause(ctx(c), cl, id, c.String("request-id"), s)
			})
		},
	}
}

func triggerCommand() *cli.Command {
	return &cli.Command{
		Name:      "trigger",
		Usage:     "run a plan now",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "run even while paused"},
			&cli.StringFlag{Name: "reason", Usage: "why"},
			&cli.StringFlag{Name: "by", Value: control.Actor(), Usage: "who triggers"},
			&cli.BoolFlag{Name: "wait", Usage: "follow the run to its end (a progress bar on a terminal); fail when it fails"},
			requestIDFlag,
			outputFlag,
		},
		Action: func(c *cli.Context) error {
			s := api.TriggerSignal{Force: c.Bool("force"), Reason: c.String("reason"), By: c.String("by")}
			if c.Bool("wait") {
				return triggerWait(c, s)
			}
			return requestCommand(c, func(cl client.Client, id string) (api.RequestResult, error) {
				return control.Trigger(ctx(c), cl, id, c.String("request-id"), s)
			})
		},
	}
}

// requestIDFlag lets a script retry a request safely: the plan answers an
// ID it has seen with its first answer and changes nothing.
var requestIDFlag = &cli.StringFlag{Name: "request-id", Usage: "`ID` of this request (default: generated); sending the same ID again repeats nothing (one plan only)"}

// requestOutput is what pause, unpause and trigger print with -o json: the
// plan's status after the request (the shape of plan show -o json), with
// the plan's answer to the request added.
type requestOutput struct {
	api.Status
	Request api.RequestResult `json:"request"`
}

// requestCommand sends one request to a plan, and prints the plan's answer
// and its status after it.
func requestCommand(c *cli.Context, send func(client.Client, string) (api.RequestResult, error)) error {
	return showPlan(c, func(cl client.Client, id string) (requestOutput, error) {
		res, err := send(cl, id)
		if err != nil {
			return requestOutput{}, fmt.Errorf("%s %s: %w", c.Command.Name, id, err)
		}
		st, err := control.Status(ctx(c), cl, id)
		return requestOutput{Status: st, Request: res}, err
	}, renderRequest)
}

// renderRequest prints what a request did ("paused home: lease l3, until
// ...") and the plan's state after it.
func renderRequest(w io.Writer, o requestOutput, now time.Time) {
	r := o.Request
	line := fmt.Sprintf("%s %s", r.Outcome, safe(o.Plan))
	switch r.Outcome {
	case api.RequestPaused:
		line += ": lease " + safe(r.Lease.ID)
		switch {
		case r.Lease.Until != nil:
			line += ", until " + when(r.Lease.Until, now)
		case r.Lease.UntilNextRun:
			line += ", until the next run"
		default:
			line += ", indefinite"
		}
	case api.RequestUnpaused:
		if len(r.Ended) == 0 {
			line += ": it was not paused"
		} else {
			line += ": ended " + safe(strings.Join(r.Ended, ", "))
		}
	case api.RequestStarted, api.RequestQueued, api.RequestJoined:
		if r.RunID != "" {
			line += ": run " + safe(r.RunID)
		}
	}
	if r.Detail != "" {
		line += " (" + safe(r.Detail) + ")"
	}
	if r.Repeated {
		line += " [answered before; nothing changed now]"
	}
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "%s: %s\n", safe(o.Plan), safe(o.Details))
}

func setupCommand() *cli.Command {
	return &cli.Command{
		Name:  "setup",
		Usage: "register steward's search attributes on the Temporal namespace (once per server)",
		Action: func(c *cli.Context) error {
			cl, ns, err := dial(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			added, err := control.Setup(ctx(c), cl, ns)
			if err != nil {
				return err
			}
			if len(added) == 0 {
				fmt.Fprintf(c.App.Writer, "namespace %s already has steward's search attributes\n", ns)
				return nil
			}
			fmt.Fprintf(c.App.Writer, "namespace %s: added %s\n", ns, strings.Join(added, ", "))
			return nil
		},
	}
}

func notifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "notify",
		Usage: "plans' notifications",
		Subcommands: []*cli.Command{{
			Name:      "test",
			Usage:     "send a test message to a plan's notification targets (the worker's --notify defaults for a plan without notify:), from its host",
			ArgsUsage: "PLAN",
			Flags:     []cli.Flag{outputFlag},
			Action: func(c *cli.Context) error {
				var failed int
				err := showPlan(c, func(cl client.Client, id string) (activities.NotifyResult, error) {
					res, err := control.NotifyTest(ctx(c), cl, id)
					failed = len(res.Failed)
					return res, err
				}, renderNotifyTest)
				if err == nil && failed > 0 {
					return cli.Exit(fmt.Sprintf("steward: %d target(s) of plan %s did not get the test message", failed, c.Args().First()), 1)
				}
				return err
			},
		}},
	}
}

// renderNotifyTest says how many targets got the test message, and why
// the others did not.
func renderNotifyTest(w io.Writer, res activities.NotifyResult, _ time.Time) {
	fmt.Fprintf(w, "sent to %d target(s)\n", res.Sent)
	for _, f := range res.Failed {
		fmt.Fprintf(w, "failed: %s\n", f)
	}
}

// defaultMetricsAddr is the worker's default --metrics-addr.
const defaultMetricsAddr = "127.0.0.1:9464"

func healthCommand() *cli.Command {
	return &cli.Command{
		Name:  "health",
		Usage: "ask a worker whether it is ready (its /readyz): exit status 0 if it is, 1 if not; for container healthchecks",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "metrics-addr", Value: defaultMetricsAddr, Usage: "the worker's --metrics-addr `HOST:PORT`"},
		},
		Action: func(c *cli.Context) error {
			addr := c.String("metrics-addr")
			hc := http.Client{Timeout: 10 * time.Second}
			resp, err := hc.Get("http://" + addr + "/readyz")
			if err != nil {
				return fmt.Errorf("no steward worker answers at %s: %w", addr, err)
			}
			defer resp.Body.Close() //nolint:errcheck // read only
			body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			if err != nil {
				return fmt.Errorf("worker at %s: %w", addr, err)
			}
			fmt.Fprint(c.App.Writer, string(body))
			if resp.StatusCode != http.StatusOK {
				return cli.Exit(fmt.Sprintf("steward: the worker at %s is not ready (%s)", addr, resp.Status), 1)
			}
			return nil
		},
	}
}

func writeJSON(c *cli.Context, v any) error { return encodeJSON(c.App.Writer, v) }

// encodeJSON writes v as indented JSON, the form of every -o json.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return errors.New("write JSON: " + err.Error())
	}
	return nil
}
