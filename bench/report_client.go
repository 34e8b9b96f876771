package bench

import (
	"fmt"
	"math"
)

// cpuPerRequest is the load generator's processor time per successful
// request of a run, in microseconds; NaN when the run did not record it.
func cpuPerRequest(r Result) float64 {
	n := r.RPS * r.Seconds
	if r.CPUSeconds <= 0 || n <= 0 {
		return math.NaN()
	}
	return r.CPUSeconds / n * 1e6
}

// cpuBusy is the load generator's processor time of a run over its wall
// time: how many CPUs it kept busy on average; NaN when not recorded.
func cpuBusy(r Result) float64 {
	if r.CPUSeconds <= 0 || r.Seconds <= 0 {
		return math.NaN()
	}
	return r.CPUSeconds / r.Seconds
}

// writeClientCost writes the load generator's own processor time per
// request at TargetReadClients clients, closed and open loop, so that a
// reader sees how much of the machine the client itself took.
func (r *Report) writeClientCost(m *md) {
	closed := r.readLevel(TargetReadClients)
	if closed == nil || !recordsCPU(closed.SQLite) {
		return
	}
	m.p("### The load generator's own CPU at %d clients", TargetReadClients)
	m.p("")
	m.p("Processor time (user and system) of the load generator process over each measured "+
		"phase, from getrusage: per successful request, and as a share of the machine's %d "+
		"CPUs, which it shares with the server it measures.", r.Machine.CPUs)
	m.p("")
	m.header("target", "load", "client CPU per request, µs", "client CPU, share of the machine",
		"runs (µs per request)")
	levels := []struct {
		load string
		lv   *ReadLevel
	}{{fmt.Sprintf("closed loop, %d clients", TargetReadClients), closed}}
	if r.OpenReads != nil {
		levels = append(levels, struct {
			load string
			lv   *ReadLevel
		}{fmt.Sprintf("open loop, %d connections", r.OpenReads.Clients), r.OpenReads})
	}
	for _, l := range levels {
		for _, t := range l.lv.targets() {
			per := known(t.runs.field(cpuPerRequest))
			share := "–"
			if busy := known(t.runs.field(cpuBusy)); len(busy) > 0 {
				share = fmt.Sprintf("%.1f%%", Median(busy)/float64(max(r.Machine.CPUs, 1))*100)
			}
			m.row(t.name, l.load, f(Median(per)), share, runsOf(per))
		}
	}
	m.p("")
}

// recordsCPU reports whether the runs recorded the load generator's
// processor time (results from before it did not).
func recordsCPU(rs Runs) bool {
	for _, r := range rs {
		if r.CPUSeconds > 0 {
			return true
		}
	}
	return false
}

// known returns xs without its NaNs.
func known(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}
