package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/workflows/api"
)

// waitOutput is what trigger --wait -o json prints: the plan's answer to
// the trigger and the run it started, as recorded when it ended.
type waitOutput struct {
	Request api.RequestResult `json:"request"`
	Run     *api.RunRecord    `json:"run"`
}

// triggerWait triggers plan id and follows the run to its end, with a
// progress bar on a terminal; it fails when the run does not succeed.
func triggerWait(c *cli.Context, s api.TriggerSignal) error {
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
	res, err := control.Trigger(ctx(c), cl, id, c.String("request-id"), s)
	if err != nil {
		return fmt.Errorf("trigger %s: %w", id, err)
	}
	if !asJSON {
		st, err := control.Status(ctx(c), cl, id)
		if err != nil {
			return err
		}
		renderRequest(c.App.Writer, requestOutput{Status: st, Request: res}, time.Now())
	}
	runID, err := triggeredRun(ctx(c), cl, id, res)
	if err != nil {
		return err
	}
	stop := func() {}
	if !asJSON && isTerminal(c.App.ErrWriter) {
		stop = showBar(ctx(c), c.App.ErrWriter, "run", func() (sample, bool) { return runSample(ctx(c), cl, runID) })
	}
	rec, err := finishedRun(ctx(c), cl, id, runID)
	stop()
	if err != nil {
		return err
	}
	if asJSON {
		if err := writeJSON(c, waitOutput{Request: res, Run: rec}); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(c.App.Writer, runLine(*rec, time.Now()))
	}
	if rec.Outcome != api.OutcomeSucceeded {
		return fmt.Errorf("run %s %s", rec.ID, rec.Outcome)
	}
	return nil
}

// pollEvery is how often --wait reads the plan's status.
const pollEvery = 500 * time.Millisecond

// triggeredRun waits until the run the trigger started (or queued) shows
// in the plan's status, and returns its ID.
func triggeredRun(ctx context.Context, cl client.Client, id string, res api.RequestResult) (string, error) {
	if res.Outcome == api.RequestStarted && res.RunID != "" {
		return res.RunID, nil
	}
	idle := 0
	for {
		st, err := control.Status(ctx, cl, id)
		if err != nil {
			return "", err
		}
		if r := st.LastRun; r != nil && r.Trigger == "trigger" && r.ID != res.RunID && !r.Started.Before(res.At.Add(-time.Second)) {
			return r.ID, nil
		}
		// Nothing in flight and nothing waiting: the run will not come
		// (its preconditions said skip, or a pause came first).
		if st.State == api.StateIdle || st.State == api.StatePaused {
			idle++
		} else {
			idle = 0
		}
		if idle >= 3 {
			return "", fmt.Errorf("plan %s started no run for this trigger; see steward ledger %s", id, id)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// finishedRun waits until run runID of plan id has ended and returns its
// record.
func finishedRun(ctx context.Context, cl client.Client, id, runID string) (*api.RunRecord, error) {
	// The run is a workflow of its own: wait for its end in one long poll
	// rather than read the plan's status over and over (which made every
	// run look up to half a second longer). The plan records the run an
	// instant later; its status is read from then on, ever less often.
	// Whatever Get says (the run failed, it is not found, it was retried
	// under another ID) the plan's record is the answer.
	_ = cl.GetWorkflow(ctx, runID, "").Get(ctx, nil)
	wait := 20 * time.Millisecond
	for {
		st, err := control.Status(ctx, cl, id)
		if err != nil {
			return nil, err
		}
		runs := st.RecentRuns
		if st.LastRun != nil {
			runs = append(runs, *st.LastRun)
		}
		for _, r := range runs {
			if r.ID == runID && r.Outcome != api.OutcomeRunning {
				return &r, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, errors.New("stopped waiting; the run goes on (steward plan show " + id + ")")
		case <-time.After(wait):
		}
		wait = min(2*wait, pollEvery)
	}
}

// runSample reads a run's progress from its activities' heartbeats: a
// backup's files and bytes so far, or a preheat's downloads.
func runSample(ctx context.Context, cl client.Client, runID string) (sample, bool) {
	if p, ok, err := control.BackupProgress(ctx, cl, runID); err == nil && ok {
		return backupSample(p), true
	}
	ps, err := control.PreheatProgress(ctx, cl, runID, "")
	if err != nil || len(ps) == 0 {
		return sample{}, false
	}
	return sumPreheat(ps), true
}

// backupSample is a backup's progress for the bar: bytes read of kopia's
// estimate of the source (a spinner with the rate until the estimate is
// in), files, and what reached the repository.
func backupSample(p activities.BackupProgress) sample {
	files := fmt.Sprintf("%d files", p.Files)
	if p.TotalFiles > 0 {
		files = fmt.Sprintf("%d/%d files", p.Files, p.TotalFiles)
	}
	total := p.TotalBytes
	if total > 0 && p.Bytes > total {
		total = p.Bytes // the source grew since it was estimated
	}
	return sample{done: p.Bytes, total: total, info: files + ", " + bytesText(p.Uploaded) + " added"}
}
