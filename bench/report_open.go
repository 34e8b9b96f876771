package bench

import (
	"fmt"
	"strings"
)

// targets are the level's runs of each target, by label.
func (l *ReadLevel) targets() []struct {
	name string
	runs Runs
} {
	return []struct {
		name string
		runs Runs
	}{{"SQLite", l.SQLite}, {"PostgreSQL", l.Postgres}, {"nginx", l.Nginx}}
}

// writeOpenTargets writes the rows of the Targets table judged from the
// open-loop reads: the p99 target of each gateway, and nginx's for
// reference.
func (r *Report) writeOpenTargets(m *md) {
	o := r.OpenReads
	if o == nil {
		return
	}
	for _, s := range o.targets()[:2] {
		p99 := Median(s.runs.P99())
		measured := fmt.Sprintf("%s ms at %s/s (asked %s/s)", f(p99), f(Median(s.runs.RPS())),
			f(Median(s.runs.field(targetRPS))))
		status := met(p99 < TargetReadP99Ms && s.runs.Errors() == 0)
		if n := s.runs.Errors(); n > 0 {
			status += fmt.Sprintf(" (%d requests failed)", n)
		}
		m.row(fmt.Sprintf("read p99 < %.0f ms at %d connections at half of nginx's "+
			"throughput (open loop) (%s)", TargetReadP99Ms, o.Clients, s.name),
			measured, fmt.Sprintf("%+.1f ms", p99-TargetReadP99Ms), status)
	}
	m.row(fmt.Sprintf("for reference: nginx open loop at %d connections, same rate", o.Clients),
		fmt.Sprintf("p50 %s ms, p99 %s ms", f(Median(o.Nginx.P50())), f(Median(o.Nginx.P99()))),
		"", "")
}

// targetRPS is the rate an open-loop run asked for.
func targetRPS(r Result) float64 { return r.TargetRPS }

// late is how many requests of a run were sent late.
func late(r Result) float64 { return float64(r.Late) }

// writeOpenReads writes the open-loop latency table.
func (r *Report) writeOpenReads(m *md) {
	o := r.OpenReads
	if o == nil {
		return
	}
	m.p("### Latency at half of nginx's throughput (open loop)")
	m.p("")
	m.p("The same reads from %d keep-alive connections, each sending on a fixed schedule "+
		"staggered from the others, at a rate in all of half of what nginx served closed "+
		"loop at %d clients in the same run; %s after a %s warm-up, in the same rotating "+
		"order. Latency counts from when each request was due, so a request held back by "+
		"a slow answer before it on its connection pays for the wait. A request is late "+
		"when it was sent more than %s behind its schedule; one still unanswered %s after "+
		"the end, or not sent by then, counts as failed. The achieved rate is that of the "+
		"requests due in the measured phase, over the time to their last answer. Where "+
		"the rate asked is above what a target serves, its queue grows through the "+
		"phase, nearly every request is late, and its latencies grow with the phase's "+
		"length: the achieved rate then says more than they do.",
		o.Clients, o.Clients, r.Plan.ReadDuration, r.Plan.ReadWarmup, LateAfter, readGrace)
	m.p("")
	m.header("target", "rate asked, req/s", "rate achieved, req/s", "p50 ms", "p99 ms",
		"late requests")
	for _, t := range o.targets() {
		rs := t.runs
		m.row(t.name+errorsNote(rs), f(Median(rs.field(targetRPS)))+" "+runsOf(rs.field(targetRPS)),
			f(Median(rs.RPS()))+" "+runsOf(rs.RPS()), f(Median(rs.P50()))+" "+runsOf(rs.P50()),
			f(Median(rs.P99()))+" "+runsOf(rs.P99()), lateCell(rs))
	}
	m.p("")
}

// lateCell formats the late requests of the runs: the median count and its
// share of the requests, then the runs' counts.
func lateCell(rs Runs) string {
	counts := make([]string, len(rs))
	shares := make([]float64, len(rs))
	for i, r := range rs {
		counts[i] = fmt.Sprint(r.Late)
		if r.Requests > 0 {
			shares[i] = float64(r.Late) / float64(r.Requests)
		}
	}
	return fmt.Sprintf("%.0f (%.1f%%) [%s]", Median(rs.field(late)), Median(shares)*100,
		strings.Join(counts, ", "))
}
