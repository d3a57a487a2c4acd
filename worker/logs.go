package main

import (
	"context"
	"log/slog"
	"strings"
)

// planAttrs names, from a steward workflow ID, the plan
// ("steward/<what>/<plan>/...") and the run ("steward/plan/<plan>/run/...",
// the run's workflow ID). Other IDs name neither.
func planAttrs(workflowID string) []any {
	parts := strings.SplitN(workflowID, "/", 4)
	if len(parts) < 3 || parts[0] != "steward" || parts[2] == "" {
		return nil
	}
	attrs := []any{"plan", parts[2]}
	if parts[1] == "plan" && len(parts) == 4 && strings.HasPrefix(parts[3], "run/") {
		attrs = append(attrs, "run", workflowID)
	}
	return attrs
}

// workflowIDKey is the attribute by which the Temporal SDK says which
// workflow a log line is about.
const workflowIDKey = "WorkflowID"

// planHandler is a slog handler that gives every line about a steward
// workflow (the SDK's and steward's own, which the SDK tags with the
// workflow's ID) the plan and run it is about, so that the lines of one
// plan or run can be picked out of the worker's log.
type planHandler struct{ slog.Handler }

func (h planHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		if a.Key == workflowIDKey {
			as = append(as, slog.Group("", planAttrs(a.Value.String())...))
			break
		}
	}
	return planHandler{h.Handler.WithAttrs(as)}
}

func (h planHandler) WithGroup(name string) slog.Handler {
	return planHandler{h.Handler.WithGroup(name)}
}

func (h planHandler) Handle(ctx context.Context, r slog.Record) error {
	var id string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == workflowIDKey {
			id = a.Value.String()
			return false
		}
		return true
	})
	if attrs := planAttrs(id); attrs != nil {
		r = r.Clone()
		r.Add(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}
