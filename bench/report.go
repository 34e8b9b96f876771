package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Targets of issue 6, item 5.
const (
	// TargetEnrollShare is the least share of the crypto ceiling
	// enrollment should reach.
	TargetEnrollShare = 0.5
	// TargetReadShare is the least share of nginx's throughput reads
	// should reach at TargetReadClients clients, with a p99 under
	// TargetReadP99Ms.
	TargetReadShare   = 0.5
	TargetReadClients = 32
	TargetReadP99Ms   = 10.0
	// GrowthTolerance is the largest ratio of read latency (large database
	// over small) counted as no measurable growth.
	GrowthTolerance = 1.10
)

// md writes Markdown.
type md struct {
	w   io.Writer
	err error
}

// p writes one formatted line.
func (m *md) p(format string, args ...any) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, format+"\n", args...)
	}
}

// row writes one table row.
func (m *md) row(cells ...string) { m.p("| %s |", strings.Join(cells, " | ")) }

// header writes a table header.
func (m *md) header(cells ...string) {
	m.row(cells...)
	seps := make([]string, len(cells))
	for i := range seps {
		seps[i] = "---"
	}
	m.row(seps...)
}

// WriteMarkdown renders the report as BENCHMARKS.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	m := &md{w: w}
	r.writeIntro(m)
	r.writeTargets(m)
	r.writeBeforeAfter(m)
	r.writeEnroll(m)
	r.writeReads(m)
	r.writeGrowth(m)
	r.writeMemory(m)
	r.writeProfiles(m)
	r.writeMethod(m)
	return m.err
}

// writeIntro writes the title, the machine and how to read the figures.
func (r *Report) writeIntro(m *md) {
	m.p("# Benchmarks")
	m.p("")
	m.p("Written by `make bench` (`scripts/bench.sh`, `bench/cmd/bench`) on %s; the whole "+
		"run took %s.", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	if r.Quick {
		m.p("")
		m.p("**Quick mode (`BENCH_QUICK=1`)**: short runs and a smaller audit log; a smoke " +
			"test of the harness, not figures to quote.")
	}
	m.p("")
	m.header("machine", "")
	mc := r.Machine
	m.row("CPUs (nproc)", fmt.Sprint(mc.CPUs))
	m.row("CPU model", mc.CPUModel)
	m.row("memory", fmt.Sprintf("%.1f GiB", float64(mc.MemoryMiB)/1024))
	m.row("kernel", mc.Kernel)
	m.row("OS", mc.OS)
	for _, v := range r.Versions {
		m.row(v.Name, v.Version)
	}
	if len(r.Load) > 0 {
		m.row("load average (1 min) through the run",
			fmt.Sprintf("median %.1f, from %.1f to %.1f (%d samples)", Median(r.Load),
				slices.Min(r.Load), slices.Max(r.Load), len(r.Load)))
	}
	m.p("")
	m.p("## How to read this")
	m.p("")
	runs := fmt.Sprintf("%d runs", r.Runs)
	if r.Plan.GrowthRuns > r.Runs {
		runs += fmt.Sprintf(" (%d for growth)", r.Plan.GrowthRuns)
	}
	m.p("Every figure is the median of %s; the individual runs follow it in "+
		"brackets where they help judge the spread. The machine is shared and noisy, "+
		"so absolute figures move from one run to the next; comparisons do not use "+
		"them. Each comparison is a ratio of two figures measured back to back within "+
		"one run (the gateway and nginx at the same concurrency, an enrollment load and "+
		"the crypto ceiling measured just before it, a small and a large database), "+
		"taken run by run; the ratio shown is the median of those per-run ratios, so it "+
		"is not always the ratio of the two medians. Rates are successful requests per "+
		"second of wall time with every client busy; latencies are per request as the "+
		"client sees it, TLS included, in milliseconds. The load generator runs on the "+
		"same %d CPUs as the server it measures, as do PostgreSQL and step-ca: "+
		"throughput here is that of the whole machine, not of the gateway alone.",
		runs, mc.CPUs)
	m.p("")
	m.p("Read latency is shown two ways. Closed loop, each client sends its next request "+
		"as soon as the answer to the last has come, so by Little's law the mean latency "+
		"is the number of clients over the throughput: at %d clients a mean under %.0f ms, "+
		"which a p99 under %.0f ms all but implies, takes more than %s requests per second, "+
		"whatever the server does with each request. Those latencies mostly restate the "+
		"throughput. Open loop, requests are sent on a fixed schedule at a set rate (half "+
		"of nginx's closed-loop throughput at %d clients in the same run), and latency "+
		"counts from when each request was due, not from when it was sent: that is the "+
		"latency a client sees at that load. The Targets table judges the p99 target on "+
		"both readings.", TargetReadClients, TargetReadP99Ms, TargetReadP99Ms,
		count(int(float64(TargetReadClients)/TargetReadP99Ms*1000)), TargetReadClients)
	m.p("")
}

// f formats a number for a table.
func f(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// runsOf formats the individual runs.
func runsOf(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = f(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ratio formats a median ratio.
func ratio(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f×", Median(xs))
}

// errorsNote describes failed requests, if any.
func errorsNote(rs Runs) string {
	if n := rs.Errors(); n > 0 {
		return fmt.Sprintf(" (%d failed: %s)", n, rs.FirstError())
	}
	return ""
}

// count formats a whole number with thousands separators.
func count(n int) string {
	digits := strconv.Itoa(n)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 && digits[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}

// clientsText formats a number of clients.
func clientsText(n int) string {
	if n == 1 {
		return "1 client"
	}
	return count(n) + " clients"
}

// seconds formats durations in seconds, run by run.
func seconds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.3f", x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
