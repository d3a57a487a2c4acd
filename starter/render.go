package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/workflows/api"
)

// renderList prints plans as a table for people: how each is doing (its
// last result, an overdue mark) and, when paused, by whom and why.
func renderList(w io.Writer, plans []control.Summary, now time.Time) {
	if len(plans) == 0 {
		fmt.Fprintln(w, "no plans (apply a plan file with: steward plan apply -f FILE)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAN\tKIND\tSTATE\tNEXT RUN\tLAST RESULT\tLAST SUCCESS\tPAUSED UNTIL\tBY\tREASON")
	for _, p := range plans {
		state := p.State
		if p.Overdue {
			state += " OVERDUE"
		}
		paused, by, reason := "-", "-", "-"
		if p.State == api.StatePaused {
			paused = "indefinitely"
			if p.PausedUntil != nil {
				paused = when(p.PausedUntil, now)
			}
			by, reason = "?", "?" // the status could not be read
			if p.PausedBy != nil {
				by, reason = dash(*p.PausedBy), dash(safeClip(*p.PauseReason, 40))
			}
			switch n := len(p.Leases); {
			case n == 2:
				reason += " (+1 lease)"
			case n > 2:
				reason += fmt.Sprintf(" (+%d leases)", n-1)
			}
		}
		last := "-"
		if r := p.LastResult; r != nil {
			last = safe(r.Outcome)
			if !r.Finished.IsZero() {
				last += " (" + relative(r.Finished, now) + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", safe(p.Plan), safe(p.Kind), safe(state), when(p.NextRun, now), last, when(p.LastSuccess, now), paused, by, reason)
	}
	tw.Flush()
}

// renderStatus prints one plan's status for people. Free text (details,
// lease IDs, names, reasons, errors) arrives in signals and activity
// results, so it is printed through safe (dash does that too).
func renderStatus(w io.Writer, s api.Status, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Plan:\t%s (%s)\n", safe(s.Plan), s.Kind)
	fmt.Fprintf(tw, "State:\t%s\n", safe(s.Details))
	fmt.Fprintf(tw, "Next run:\t%s\n", when(s.NextRun, now))
	if s.NextStart != nil && (s.NextRun == nil || !s.NextStart.Equal(*s.NextRun)) {
		fmt.Fprintf(tw, "Next start:\t%s (jitter, window or queue)\n", when(s.NextStart, now))
	}
	if s.DeadlineAt != nil {
		overdue := ""
		if s.Overdue {
			overdue = " OVERDUE"
		}
		fmt.Fprintf(tw, "Deadline:\t%s%s\n", when(s.DeadlineAt, now), overdue)
	}
	fmt.Fprintf(tw, "Last success:\t%s\n", when(s.LastSuccess, now))
	if r := s.LastRun; r != nil {
		fmt.Fprintf(tw, "Last run:\t%s\n", runLine(*r, now))
	}
	if s.Retry.NextAt != nil {
		fmt.Fprintf(tw, "Retrying:\t%d/%d, next at %s\n", s.Retry.Attempt, s.Retry.Max, when(s.Retry.NextAt, now))
	}
	if v := s.Verify; v != nil {
		fmt.Fprintf(tw, "Verify:\t%s\n", jobLine(*v, now))
	}
	if m := s.Maintenance; m != nil {
		fmt.Fprintf(tw, "Maintenance:\t%s\n", jobLine(*m, now))
	}
	if n := s.Notify; n != nil {
		line := fmt.Sprintf("%d sent, %d failed, %d in flight", n.Sent, n.Failed, n.Pending)
		if n.LastError != nil && n.LastErrorAt != nil {
			line += fmt.Sprintf("; last failure %s: %s", when(n.LastErrorAt, now), safe(*n.LastError))
		}
		fmt.Fprintf(tw, "Notifications:\t%s\n", line)
	}
	c := s.Counters
	fmt.Fprintf(tw, "Counters:\truns %d, succeeded %d, failed %d, cancelled %d, skipped %d, missed %d, rejected signals %d\n",
		c.Runs, c.Succeeded, c.Failed, c.Cancelled, c.Skipped, c.Missed, c.RejectedSignals)
	if s.LastRejection != nil {
		fmt.Fprintf(tw, "Last rejected:\t%s\n", safe(*s.LastRejection))
	}
	tw.Flush()

	if len(s.Pause.Leases) > 0 {
		fmt.Fprintln(w, "\nPause leases:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tUNTIL\tBY\tMODE\tSINCE\tREASON")
		for _, l := range s.Pause.Leases {
			until := "indefinite"
			if l.Until != nil {
				until = when(l.Until, now)
			} else if l.UntilNextRun {
				until = "until the next run"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", dash(l.ID), until, dash(l.By), dash(l.Mode), when(&l.Since, now), dash(l.Reason))
		}
		tw.Flush()
	}
	if len(s.RecentRuns) > 0 {
		fmt.Fprintln(w, "\nRecent runs:")
		for i := len(s.RecentRuns) - 1; i >= 0; i-- {
			fmt.Fprintf(w, "  %s\n", runLine(s.RecentRuns[i], now))
		}
	}
	if len(s.PauseHistory) > 0 {
		fmt.Fprintln(w, "\nPause history:")
		for i := len(s.PauseHistory) - 1; i >= 0; i-- {
			// Actor is who ended the lease; By is who paused.
			h := s.PauseHistory[i]
			at := h.Ended.UTC().Format(time.RFC3339)
			line := "  " + dash(h.ID) + " " + safe(h.EndedBy)
			switch {
			case h.EndedBy == "expired" || h.Actor == "":
				line += " at " + at
			case h.EndedBy == "replaced":
				line += " at " + at + " by " + safe(h.Actor)
			default:
				line += " by " + safe(h.Actor) + " at " + at
			}
			if h.Reason != "" {
				line += ": " + safe(h.Reason)
			}
			if h.By != "" {
				line += " (paused by " + safe(h.By) + ")"
			}
			fmt.Fprintln(w, line)
		}
	}
}

// runLine describes one run record on one line; its snapshot ID and error
// come from the backup tool and are printed through safe.
func runLine(r api.RunRecord, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (started %s", r.Outcome, r.Nominal.UTC().Format(time.RFC3339), when(&r.Started, now))
	if r.Finished != nil {
		fmt.Fprintf(&b, ", took %s", r.Finished.Sub(r.Started).Round(time.Millisecond))
	}
	b.WriteString(")")
	switch {
	case r.SnapshotID != "":
		fmt.Fprintf(&b, " snapshot %s, %d files, %s", safe(r.SnapshotID), r.Files, bytesText(r.Bytes))
		switch {
		case r.Uploaded > 0 && r.Uploaded <= r.Bytes:
			fmt.Fprintf(&b, ", %s added (dedup %.1fx)", bytesText(r.Uploaded), float64(r.Bytes)/float64(r.Uploaded))
		case r.Uploaded > 0:
			// Less data than repository metadata: no ratio worth showing.
			fmt.Fprintf(&b, ", %s added", bytesText(r.Uploaded))
		}
		if r.Forgotten > 0 {
			fmt.Fprintf(&b, ", %d older forgotten", r.Forgotten)
		}
	case runResult(r) != "":
		fmt.Fprintf(&b, " %s", runResult(r))
	}
	if r.Error != nil {
		fmt.Fprintf(&b, ": %s", safe(*r.Error))
	}
	return b.String()
}

// when shows a time with how far it is from now ("2026-11-24T10:00:00Z (in 5 min)").
func when(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", t.UTC().Format(time.RFC3339), relative(*t, now))
}

// dash prints free text in a table cell: through safe, so that a tab or a
// newline cannot break the columns, and as "-" when empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return safe(s)
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// jobLine describes a backup plan's repository job (verification or
// maintenance): the one running or the last, and the next.
func jobLine(v api.JobStatus, now time.Time) string {
	var parts []string
	switch r := v.Last; {
	case v.Running != nil:
		parts = append(parts, "running since "+when(&v.Running.Started, now))
	case r == nil:
		parts = append(parts, "never run")
	case r.Outcome == api.OutcomeFailed && r.Error != nil:
		parts = append(parts, fmt.Sprintf("FAILED %s: %s", when(r.Finished, now), safeClip(*r.Error, 160)))
	default:
		parts = append(parts, fmt.Sprintf("last %s %s%s", r.Outcome, when(r.Finished, now), jobResult(r.Report)))
	}
	if v.NextAt != nil {
		parts = append(parts, "next "+when(v.NextAt, now))
	}
	if v.NextFullAt != nil {
		parts = append(parts, "next full "+when(v.NextFullAt, now))
	}
	return strings.Join(parts, "; ")
}

// jobResult is what a repository job's report says, for people.
func jobResult(rep *api.RunReport) string {
	switch {
	case rep == nil:
		return ""
	case rep.Verify != nil:
		return fmt.Sprintf(" (%d snapshots, %d files)", rep.Verify.Snapshots, rep.Verify.Files)
	case rep.Maintenance != nil:
		m := rep.Maintenance
		mode := "quick"
		if m.Full {
			mode = "full"
		}
		return fmt.Sprintf(" (%s, freed %s, repository %s)", mode, bytesText(m.Freed), bytesText(m.BytesAfter))
	}
	return ""
}
