package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// caseRs is one case's samples and what they add up to.
type caseRs struct {
	Description string              `json:"description"`
	Samples     map[string][]sample `json:"samples"`
	// Stats are each tool's median, min and max of each metric the
	// samples have, by tool and metric.
	Stats map[string]map[string]spread `json:"stats"`
	// Ratios are steward's median over the peer's, by "steward/PEER" and
	// metric; cpu_with_server_ns (-server separate) is steward's CPU with
	// the server's over the peer's cpu_ns.
	Ratios map[string]map[string]float64 `json:"ratios"`
}

type spread struct {
	Median int64 `json:"median"`
	Min    int64 `json:"min"`
	Max    int64 `json:"max"`
}

// metrics are the figures of a sample the stats cover; the compared ones
// also get ratios.
var metrics = []struct {
	name     string
	get      func(sample) int64
	compared bool
}{
	{"wall_ns", func(s sample) int64 { return int64(s.Wall) }, true},
	{"cpu_ns", func(s sample) int64 { return int64(s.CPU) }, true},
	{"peak_rss_bytes", func(s sample) int64 { return s.RSS }, true},
	{"repo_bytes", func(s sample) int64 { return s.Repo }, true},
	{"cache_bytes", func(s sample) int64 { return s.Cache }, false},
	{"init_ns", func(s sample) int64 { return int64(s.Init) }, false},
	{"run_ns", func(s sample) int64 { return int64(s.Run) }, false},
	{"worker_cpu_ns", func(s sample) int64 { return int64(s.WorkerCPU) }, false},
	{"cli_cpu_ns", func(s sample) int64 { return int64(s.CLICPU) }, false},
	{"worker_rss_before_bytes", func(s sample) int64 { return s.RSSBefore }, false},
	{"server_cpu_ns", func(s sample) int64 { return int64(s.ServerCPU) }, false},
	{"cpu_with_server_ns", func(s sample) int64 { return int64(s.CPUWithServer) }, false},
	{"server_peak_rss_bytes", func(s sample) int64 { return s.ServerRSS }, false},
	{"server_rss_before_bytes", func(s sample) int64 { return s.ServerRSSBefore }, false},
	{"uploaded_bytes", func(s sample) int64 { return s.Uploaded }, false},
}

func (c *caseRs) finish() {
	c.Stats = map[string]map[string]spread{}
	for tool, ss := range c.Samples {
		st := map[string]spread{}
		for _, m := range metrics {
			vs := make([]int64, len(ss))
			for i, s := range ss {
				vs[i] = m.get(s)
			}
			if slices.Max(vs) > 0 {
				st[m.name] = spreadOf(vs)
			}
		}
		c.Stats[tool] = st
	}
	c.Ratios = map[string]map[string]float64{}
	st := c.Stats[toolSteward]
	for _, peer := range toolOrder[1:] {
		rs := map[string]float64{}
		for _, m := range metrics {
			if r, ok := ratio(st, c.Stats[peer], m.name, m.name); ok && m.compared {
				rs[m.name] = r
			}
		}
		if r, ok := ratio(st, c.Stats[peer], "cpu_with_server_ns", "cpu_ns"); ok {
			rs["cpu_with_server_ns"] = r
		}
		c.Ratios[toolSteward+"/"+peer] = rs
	}
}

// ratio is a's median of metric ma over b's of mb, rounded to 3 decimals.
func ratio(a, b map[string]spread, ma, mb string) (float64, bool) {
	x, ok1 := a[ma]
	y, ok2 := b[mb]
	if !ok1 || !ok2 || y.Median == 0 {
		return 0, false
	}
	return math.Round(float64(x.Median)/float64(y.Median)*1000) / 1000, true
}

func spreadOf(vs []int64) spread {
	s := slices.Sorted(slices.Values(vs))
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return spread{Median: m, Min: s[0], Max: s[len(s)-1]}
}

// targetRs is one target of the bench and whether the medians meet it.
type targetRs struct {
	Case   string  `json:"case"`
	Metric string  `json:"metric"`
	Peer   string  `json:"peer,omitempty"`
	Max    float64 `json:"max"`
	Value  float64 `json:"value"`
	Met    bool    `json:"met"`
}

// ratioTargets are the targets on steward's median over a peer's.
var ratioTargets = []struct {
	kase, metric, peer string
	max                float64
}{
	{caseInitial, "cpu_ns", toolKopia, 0.9},
	{caseInitial, "repo_bytes", toolKopia, 1.02},
	{caseInitial, "wall_ns", toolRestic, 0.6},
	{caseNoChange, "wall_ns", toolRestic, 0.35},
	{caseNoChange, "wall_ns", toolKopia, 1.0},
	{caseRestore, "wall_ns", toolRestic, 1.0},
	{caseInitial, "peak_rss_bytes", toolKopia, 1.5},
}

// maxSettleGrowth is how much the worker's RSS may have grown 60 s after a
// backup.
const maxSettleGrowth = 50 << 20

func checkTargets(cases map[string]*caseRs, st *settle) []targetRs {
	var ts []targetRs
	for _, t := range ratioTargets {
		r, ok := cases[t.kase].Ratios[toolSteward+"/"+t.peer][t.metric]
		ts = append(ts, targetRs{Case: t.kase, Metric: t.metric, Peer: t.peer, Max: t.max, Value: r, Met: ok && r <= t.max})
	}
	if st != nil && st.Waited >= settleWait {
		growth := float64(st.Growth) / (1 << 20)
		ts = append(ts, targetRs{Case: caseInitial, Metric: "worker_rss_growth_mib_60s_after", Max: maxSettleGrowth >> 20,
			Value: math.Round(growth*10) / 10, Met: st.Growth <= maxSettleGrowth})
	}
	return ts
}

// summarize is the table of medians and ratios, then the targets. With
// server (-server separate) it also has steward's CPU with the server's and
// the server's peak RSS.
func summarize(cases map[string]*caseRs, st *settle, ts []targetRs, server bool) []string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
	head := []string{"case", "tool", "wall", "CPU", "peak RSS", "repository"}
	if server {
		head = append(head, "CPU+server", "server RSS")
	}
	row(head...)
	for _, name := range caseOrder {
		c := cases[name]
		for _, tool := range toolOrder {
			s := c.Stats[tool]
			cells := []string{name, tool,
				med(s, "wall_ns", secs), med(s, "cpu_ns", secs), med(s, "peak_rss_bytes", mib), med(s, "repo_bytes", mib)}
			if server {
				cells = append(cells, med(s, "cpu_with_server_ns", secs), med(s, "server_peak_rss_bytes", mib))
			}
			row(cells...)
		}
		for _, peer := range toolOrder[1:] {
			rs := c.Ratios[toolSteward+"/"+peer]
			cells := []string{name, toolSteward + "/" + peer,
				times(rs, "wall_ns"), times(rs, "cpu_ns"), times(rs, "peak_rss_bytes"), times(rs, "repo_bytes")}
			if server {
				cells = append(cells, times(rs, "cpu_with_server_ns"), "-")
			}
			row(cells...)
		}
	}
	tw.Flush()
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	lines = append(lines, "(medians; ratios are steward's over the peer's: below 1 is better)")
	if server {
		lines = append(lines, "(steward's CPU and peak RSS are its worker's (CPU with the CLI's), the Temporal server running apart;"+
			" CPU+server adds the server's CPU over the same commands, its ratio is over the peer's CPU; server RSS is the server's peak)")
	} else {
		lines = append(lines, "(steward's CPU and peak RSS are its worker's with the embedded Temporal server's included (CPU with the CLI's))")
	}
	for _, t := range ts {
		verdict := "MET"
		if !t.Met {
			verdict = "NOT MET"
		}
		if t.Peer == "" {
			lines = append(lines, fmt.Sprintf("target %s %s <= %.0f: %.1f, %s", t.Case, t.Metric, t.Max, t.Value, verdict))
			continue
		}
		lines = append(lines, fmt.Sprintf("target %s %s steward/%s <= %.2fx: %.2fx, %s", t.Case, t.Metric, t.Peer, t.Max, t.Value, verdict))
	}
	if st != nil {
		line := fmt.Sprintf("worker RSS around the last initial backup: %s before, %s peak, %s %v after", mib(st.Before), mib(st.Peak), mib(st.After), st.Waited)
		if st.Waited < settleWait {
			line += " (-no-settle: the 60 s target is not checked)"
		}
		lines = append(lines, line)
	}
	return lines
}

func med(s map[string]spread, metric string, format func(int64) string) string {
	v, ok := s[metric]
	if !ok {
		return "-"
	}
	return format(v.Median)
}

func times(rs map[string]float64, metric string) string {
	r, ok := rs[metric]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

func secs(ns int64) string { return fmt.Sprintf("%.2fs", time.Duration(ns).Seconds()) }
