package bench

import "fmt"

// writeBeforeAfter writes the comparison with the baseline binary, when
// the run had one.
func (r *Report) writeBeforeAfter(m *md) {
	b := r.Before
	if b == nil {
		return
	}
	ref := b.Ref
	if ref == "" {
		ref = "an earlier commit"
	}
	m.p("## Before and after")
	m.p("")
	m.p("\"Before\" is `mosaic` built from %s, \"after\" the tree measured here. Both ran "+
		"through the whole run side by side, set up alike (a fresh data directory or "+
		"PostgreSQL database, a reader of %d tasks enrolled through the enrollment "+
		"endpoint). Reads: closed loop at %d clients as in the read table, each before "+
		"gateway measured back to back with the after gateway of its store in every run, "+
		"the two in an order alternating from run to run. Enrollment: the same load as "+
		"in the enrollment table, %d redeems from %d clients, on the before gateways right "+
		"after the after ones in every run. Ratios are after over before, run by run, and "+
		"their median: above 1 is faster for a rate, below 1 is faster for a latency.",
		ref, PageRows, TargetReadClients, r.Plan.EnrollCount, r.Plan.EnrollClients)
	m.p("")
	m.header("store", "figure", "before", "after", "after / before")
	var after StorePair
	if lv := r.readLevel(TargetReadClients); lv != nil {
		after.SQLite, after.Postgres = lv.SQLite, lv.Postgres
	}
	for _, st := range []struct {
		name                           string
		readB, readA, enrollB, enrollA Runs
	}{
		{"SQLite", b.Reads.SQLite, after.SQLite, b.Enroll.SQLite, r.Enroll.SQLite},
		{"PostgreSQL", b.Reads.Postgres, after.Postgres, b.Enroll.Postgres, r.Enroll.Postgres},
	} {
		reads := fmt.Sprintf("reads at %d clients, ", TargetReadClients)
		beforeRow(m, st.name, reads+"req/s", st.readB, st.readA, Runs.RPS)
		beforeRow(m, st.name, reads+"p50 ms", st.readB, st.readA, Runs.P50)
		beforeRow(m, st.name, reads+"p99 ms", st.readB, st.readA, Runs.P99)
		beforeRow(m, st.name, "enrollment, per second", st.enrollB, st.enrollA, Runs.RPS)
	}
	m.p("")
}

// beforeRow writes one figure of the before and after runs: each side's
// median and runs, and the median of the per-run ratios with the ratios.
func beforeRow(m *md, store, figure string, before, after Runs,
	metric func(Runs) []float64) {
	if len(before) == 0 || len(after) == 0 {
		return
	}
	b, a := metric(before), metric(after)
	q := Ratios(a, b)
	m.row(store, figure, f(Median(b))+errorsNote(before)+" "+runsOf(b),
		f(Median(a))+errorsNote(after)+" "+runsOf(a), ratio(q)+" "+runsOf(q))
}
