package workflows

import (
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/workflows/api"
)

// maxHosts bounds the registry.
const maxHosts = 1000

// HostsWorkflow is the registry behind `hosts: all`: each worker signals it
// (signal-with-start) when it starts, and the hosts query lists every host
// ever registered with when it was first and last seen.
func HostsWorkflow(ctx workflow.Context, st api.HostsState) error {
	if err := workflow.SetQueryHandler(ctx, activities.QueryHosts, func() ([]activities.Host, error) {
		return st.Hosts, nil
	}); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, activities.SignalRegisterHost)
	receive := func(r activities.HostRegistration) {
		if r.Host == "" || len(r.Host) > 253 || strings.ContainsAny(r.Host, " \t\n") {
			st.Rejected++
			return
		}
		i := slices.IndexFunc(st.Hosts, func(h activities.Host) bool { return h.Host == r.Host })
		if i < 0 {
			if len(st.Hosts) >= maxHosts {
				st.Rejected++
				return
			}
			st.Hosts = append(st.Hosts, activities.Host{Host: r.Host, FirstSeen: r.At, LastSeen: r.At})
			slices.SortFunc(st.Hosts, func(a, b activities.Host) int { return strings.Compare(a.Host, b.Host) })
			return
		}
		if r.At.After(st.Hosts[i].LastSeen) {
			st.Hosts[i].LastSeen = r.At
		}
	}
	for {
		var r activities.HostRegistration
		// A payload that does not decode is dropped by the SDK; Receive
		// here is alone, so it cannot stall any timer.
		ch.Receive(ctx, &r)
		receive(r)
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			for ch.ReceiveAsync(&r) {
				receive(r)
				r = activities.HostRegistration{}
			}
			return workflow.NewContinueAsNewError(ctx, api.HostsWorkflowName, st)
		}
	}
}
