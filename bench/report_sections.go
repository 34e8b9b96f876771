package bench

import (
	"fmt"
	"slices"
	"strings"
)

// metYes and metNo mark a target.
const (
	metYes = "**met**"
	metNo  = "**not met**"
)

// met returns the mark of a condition.
func met(ok bool) string {
	if ok {
		return metYes
	}
	return metNo
}

// readLevel returns the read level with that many clients, or nil.
func (r *Report) readLevel(clients int) *ReadLevel {
	for i := range r.Reads {
		if r.Reads[i].Clients == clients {
			return &r.Reads[i]
		}
	}
	return nil
}

// writeTargets writes the targets of item 5 and how far the figures are.
func (r *Report) writeTargets(m *md) {
	m.p("## Targets")
	m.p("")
	m.header("target", "measured", "gap", "status")
	e := r.Enroll
	for _, s := range []struct {
		name string
		runs Runs
	}{{"SQLite", e.SQLite}, {"PostgreSQL", e.Postgres}} {
		share := Median(Ratios(s.runs.RPS(), e.Ceiling))
		m.row(fmt.Sprintf("enrollment ≥ %.0f%% of the crypto ceiling (%s)",
			TargetEnrollShare*100, s.name),
			fmt.Sprintf("%.1f%% (%s/s of %s/s)", share*100, f(Median(s.runs.RPS())), f(Median(e.Ceiling))),
			shareGap(share, TargetEnrollShare), met(share >= TargetEnrollShare))
	}
	if lv := r.readLevel(TargetReadClients); lv != nil {
		for _, s := range []struct {
			name string
			runs Runs
		}{{"SQLite", lv.SQLite}, {"PostgreSQL", lv.Postgres}} {
			share := Median(Ratios(s.runs.RPS(), lv.Nginx.RPS()))
			p99 := Median(s.runs.P99())
			m.row(fmt.Sprintf("reads ≥ %.0f%% of nginx at %d clients (%s)", TargetReadShare*100,
				TargetReadClients, s.name),
				fmt.Sprintf("%.1f%% (%s/s, nginx %s/s)", share*100, f(Median(s.runs.RPS())),
					f(Median(lv.Nginx.RPS()))),
				shareGap(share, TargetReadShare), met(share >= TargetReadShare))
			m.row(fmt.Sprintf("read p99 < %.0f ms at %d clients (%s)", TargetReadP99Ms,
				TargetReadClients, s.name),
				fmt.Sprintf("%s ms", f(p99)), fmt.Sprintf("%+.1f ms", p99-TargetReadP99Ms),
				met(p99 < TargetReadP99Ms))
		}
		m.row(fmt.Sprintf("for reference: nginx at %d clients, same run", TargetReadClients),
			fmt.Sprintf("p50 %s ms, p99 %s ms", f(Median(lv.Nginx.P50())), f(Median(lv.Nginx.P99()))),
			"", "")
	}
	r.writeOpenTargets(m)
	for _, g := range r.Growth {
		if len(g.States) < 2 {
			continue
		}
		for li, lv := range g.States[1].Levels {
			q := growthRatio(g.States[0], g.States[1], lv.Clients, Runs.P50)
			m.row(fmt.Sprintf("no growth of read p50, %s → %s (%s, %s)", g.States[0].Name,
				g.States[1].Name, storeName(g.Store), clientsText(lv.Clients)),
				fmt.Sprintf("%.3f× %s", q, runsOf(growthRatios(g.States[0], g.States[1], li))),
				fmt.Sprintf("%+.1f%%", (q-1)*100), growthStatus(q, g.States[0].Levels[li].Runs))
		}
	}
	m.p("")
	m.p("Growth counts as measurable above %.0f%% (a ratio of %.2f). Where the small "+
		"database's own runs differ by more than %.1f× from each other, the machine was "+
		"too busy for a ratio to mean much, and the status says inconclusive.",
		(GrowthTolerance-1)*100, GrowthTolerance, noisySpread)
	m.p("")
}

// shareGap says how far share is from target: the factor it still needs,
// or how much above the target it is.
func shareGap(share, target float64) string {
	switch q := target / share; {
	case share <= 0:
		return "nothing measured"
	case q <= 1:
		return fmt.Sprintf("%.0f%% above", (share/target-1)*100)
	case q < 1.1:
		return fmt.Sprintf("×%.2f needed", q)
	default:
		return fmt.Sprintf("×%.1f needed", q)
	}
}

// noisySpread is the spread (largest over smallest p50) of one database's
// runs above which a growth ratio is inconclusive.
const noisySpread = 1.5

// growthStatus judges a growth ratio against the tolerance and the noise.
func growthStatus(q float64, small Runs) string {
	p50 := small.P50()
	if len(p50) > 0 && slices.Min(p50) > 0 && slices.Max(p50)/slices.Min(p50) > noisySpread {
		return fmt.Sprintf("inconclusive (small database's runs differ %.1f×)",
			slices.Max(p50)/slices.Min(p50))
	}
	return met(q <= GrowthTolerance)
}

// growthRatios are the per-run p50 ratios of state b over state a at level
// li.
func growthRatios(a, b GrowthState, li int) []float64 {
	return Ratios(b.Levels[li].Runs.P50(), a.Levels[li].Runs.P50())
}

// storeName names a store for the tables.
func storeName(s string) string {
	switch s {
	case "sqlite":
		return "SQLite"
	case "postgres":
		return "PostgreSQL"
	}
	return s
}

// writeEnroll writes the enrollment table.
func (r *Report) writeEnroll(m *md) {
	e := r.Enroll
	p := r.Plan
	m.p("## Enrollment")
	m.p("")
	m.p("End to end through `POST /api/federation/enrollment/{token}` of a real "+
		"`mosaic gateway serve`: token claim, CSR checks, signing, verification of the "+
		"issued certificate, activation transaction, audit. %d redeems per run and gateway "+
		"from %d keep-alive clients; grants, tokens and CSRs made beforehand (grants and "+
		"tokens through the admin API). The crypto ceiling is `pki.ParseCSR` (parse and "+
		"verify a P-256 CSR) and `embedded.CA.Sign` (a P-256 intermediate signs the "+
		"certificate) in a tight loop on every CPU for %s, measured just before the "+
		"gateways in the same run.", p.EnrollCount, p.EnrollClients, p.CeilingDuration)
	m.p("")
	m.header("what", "per second", "p50 ms", "p99 ms", "ratio", "runs (per second)")
	m.row("crypto ceiling: parse + verify CSR, sign", f(Median(e.Ceiling)), "", "",
		"1 (reference)", runsOf(e.Ceiling))
	m.row("crypto ceiling + verify the issued certificate", f(Median(e.CeilingVerify)), "", "",
		ratio(Ratios(e.CeilingVerify, e.Ceiling))+" of ceiling", runsOf(e.CeilingVerify))
	enrollRow(m, "gateway, SQLite, embedded CA", e.SQLite, Ratios(e.SQLite.RPS(), e.Ceiling),
		"of ceiling")
	enrollRow(m, "gateway, PostgreSQL, embedded CA", e.Postgres,
		Ratios(e.Postgres.RPS(), e.Ceiling), "of ceiling")
	enrollRow(m, fmt.Sprintf("step-ca alone: `stepca.CA.Sign` (JWK token, /1.0/sign), %d clients",
		p.EnrollClients), e.StepDirect, Ratios(e.StepDirect.RPS(), e.Ceiling), "of ceiling")
	enrollRow(m, "gateway, SQLite, step-ca as CA", e.StepGateway,
		Ratios(e.StepGateway.RPS(), e.StepDirect.RPS()), "of step-ca alone")
	m.p("")
	if p50 := Median(e.SQLite.P50()); p50 > 0 {
		m.p("Where the gap to the ceiling comes from: the ceiling's loop keeps every CPU "+
			"busy and waits for nothing, while each of the %d clients waits for its answer, "+
			"so the gateway's rate is %d over the time of one redeem (SQLite: p50 %s ms, "+
			"so about %s/s). A redeem waits for two commits to disk, the token's claim and "+
			"then the activation, each durable before the next step; the gateway's own "+
			"crypto is that of the second row; the load generator and, for PostgreSQL, "+
			"the database server run on the same CPUs.",
			p.EnrollClients, p.EnrollClients, f(p50), f(float64(p.EnrollClients)/p50*1000))
		m.p("")
	}
}

// enrollRow writes one enrollment row.
func enrollRow(m *md, name string, rs Runs, ratios []float64, of string) {
	m.row(name+errorsNote(rs), f(Median(rs.RPS())), f(Median(rs.P50())), f(Median(rs.P99())),
		ratio(ratios)+" "+of, runsOf(rs.RPS()))
}

// writeReads writes the federated read table.
func (r *Report) writeReads(m *md) {
	p := r.Plan
	m.p("## Federated reads")
	m.p("")
	m.p("`GET /api/federation/v1/tasks?limit=%d` (a page of %d rows, every request "+
		"grant-checked and audited) from N keep-alive HTTP/1.1 clients over mutual TLS, "+
		"each on its own connection, for %s after a %s warm-up; nginx serves the same "+
		"bytes as a static file with `ssl_verify_client on`, the same client "+
		"certificate and a P-256 server certificate. Ratios are the gateway's rate over "+
		"nginx's at the same concurrency in the same run.", PageRows, PageRows,
		p.ReadDuration, p.ReadWarmup)
	m.p("")
	m.header("clients", "SQLite req/s", "p50", "p99", "PostgreSQL req/s", "p50", "p99",
		"nginx req/s", "p50", "p99", "SQLite / nginx", "PostgreSQL / nginx")
	for _, lv := range r.Reads {
		cells := []string{fmt.Sprint(lv.Clients)}
		for _, rs := range []Runs{lv.SQLite, lv.Postgres, lv.Nginx} {
			cells = append(cells, f(Median(rs.RPS()))+errorsNote(rs), f(Median(rs.P50())),
				f(Median(rs.P99())))
		}
		cells = append(cells, ratio(Ratios(lv.SQLite.RPS(), lv.Nginx.RPS())),
			ratio(Ratios(lv.Postgres.RPS(), lv.Nginx.RPS())))
		m.row(cells...)
	}
	m.p("")
	m.p("Latencies in milliseconds. Runs (req/s), SQLite / PostgreSQL / nginx:")
	m.p("")
	for _, lv := range r.Reads {
		m.p("- %s: %s / %s / %s", clientsText(lv.Clients), runsOf(lv.SQLite.RPS()),
			runsOf(lv.Postgres.RPS()), runsOf(lv.Nginx.RPS()))
	}
	m.p("")
	r.writeOpenReads(m)
	r.writeClientCost(m)
}

// growthRatio is the median per-run ratio of a metric of state b over
// state a at a concurrency.
func growthRatio(a, b GrowthState, clients int, metric func(Runs) []float64) float64 {
	var ra, rb Runs
	for _, l := range a.Levels {
		if l.Clients == clients {
			ra = l.Runs
		}
	}
	for _, l := range b.Levels {
		if l.Clients == clients {
			rb = l.Runs
		}
	}
	return Median(Ratios(metric(rb), metric(ra)))
}

// writeGrowth writes the growth tables and the start-up times.
func (r *Report) writeGrowth(m *md) {
	p := r.Plan
	m.p("## Growth")
	m.p("")
	m.p("The same reads on gateways whose databases differ only in size, measured back "+
		"to back: %s grants and peers, %s, and %s with an audit log of %s rows. The extra "+
		"rows are written straight into the database in one transaction (active peers, "+
		"active grants, allowed read events, these linked into the audit hash chain as "+
		"the store links its own); the grant read is a real enrolled one. "+
		"PostgreSQL's tables are then vacuumed and analyzed, as autovacuum would do "+
		"soon after. Every read adds an audit row, so each database also holds the "+
		"audit rows of the runs before. Medians of %d runs of %s after a %s warm-up; "+
		"ratios are over the smallest database, run by run.", count(p.GrowthSmall),
		count(p.GrowthGrants), count(p.GrowthGrants), count(p.GrowthAudit),
		p.GrowthRuns, p.GrowthDuration, p.GrowthWarmup)
	for _, g := range r.Growth {
		m.p("")
		m.p("### %s", storeName(g.Store))
		m.p("")
		head := []string{"clients", "figure"}
		for _, st := range g.States {
			head = append(head, st.Name)
		}
		for _, st := range g.States[1:] {
			head = append(head, st.Name+" / "+g.States[0].Name)
		}
		m.header(head...)
		for li, lv := range g.States[0].Levels {
			growthRows(m, g, li, lv.Clients)
		}
	}
	m.p("")
	r.writeAuditVerify(m)
	r.writeStartup(m)
}

// growthRows writes the rate, p50 and p99 rows of one level.
func growthRows(m *md, g Growth, li, clients int) {
	for _, fig := range []struct {
		name   string
		metric func(Runs) []float64
	}{{"req/s", Runs.RPS}, {"p50 ms", Runs.P50}, {"p99 ms", Runs.P99}} {
		cells := []string{fmt.Sprint(clients), fig.name}
		for _, st := range g.States {
			rs := st.Levels[li].Runs
			cells = append(cells, f(Median(fig.metric(rs)))+errorsNote(rs))
		}
		for _, st := range g.States[1:] {
			cells = append(cells, fmt.Sprintf("%.3f×",
				growthRatio(g.States[0], st, clients, fig.metric)))
		}
		m.row(cells...)
	}
}

// writeStartup writes the start-up times.
func (r *Report) writeStartup(m *md) {
	m.p("## Start-up")
	m.p("")
	m.p("From exec of `mosaic gateway serve` to the first 200 of `GET /readyz` (polled every " +
		"5 ms), on the growth databases after their reads, stopped with SIGTERM and " +
		"started again. The first start, on an empty data directory, also makes the CA, " +
		"the TLS certificate and the schema.")
	m.p("")
	m.header("data directory", "restart, s", "runs", "first start, s")
	for _, s := range r.Startup {
		m.row(s.Name, fmt.Sprintf("%.3f", Median(s.Seconds)), seconds(s.Seconds),
			fmt.Sprintf("%.3f", s.First))
	}
	m.p("")
}

// writeMemory writes the peak memory table.
func (r *Report) writeMemory(m *md) {
	m.p("## Peak memory")
	m.p("")
	m.p("VmHWM of each gateway process (peak resident set size since it started), read " +
		"from `/proc/<pid>/status` right after its read runs (the gateways of the read " +
		"table after all read levels, up to 128 clients, before any enrollment).")
	m.p("")
	m.header("gateway", "peak RSS")
	for _, mem := range r.Memory {
		m.row(mem.Name, mib(mem.PeakRSS))
	}
	m.p("")
}

// writeProfiles writes the hot spots, when profiles were taken.
func (r *Report) writeProfiles(m *md) {
	m.p("## Hot spots")
	m.p("")
	if len(r.Profiles) == 0 {
		m.p("Not profiled in this run; `BENCH_PROFILE=1 make bench` adds the top 10 " +
			"functions of reads and of enrollment.")
		m.p("")
		return
	}
	m.p("CPU profiles of an in-process gateway (SQLite, embedded CA, logging at info "+
		"to a file) under the same loads: reads of %d rows from 32 clients, enrollment "+
		"from 8; the load generator runs in its own process, so only the gateway is "+
		"sampled, and the profile covers the load alone, not the set-up (`go test "+
		"-bench BenchmarkProfile ./bench/`, see bench/profile_test.go). Each block gives: "+
		"the samples' total against the wall time (100%% is one CPU busy; the machine "+
		"has %d), the top 10 functions by own time, the gateway's own functions each "+
		"counting the library code it calls, and the share of a few kinds of work "+
		"(including callees).", PageRows, r.Machine.CPUs)
	for _, p := range r.Profiles {
		m.p("")
		m.p("### %s", p.Name)
		m.p("")
		m.p("```text")
		m.p("%s", strings.TrimRight(p.Top, "\n"))
		m.p("```")
	}
	m.p("")
}

// writeMethod writes how the figures were measured.
func (r *Report) writeMethod(m *md) {
	m.p("## Method")
	m.p("")
	for _, line := range []string{
		"Servers are real processes on loopback: `mosaic gateway serve` (default log " +
			"level info, its request log on stderr to a file; enrollment rate limit off " +
			"with `MOSAIC_ENROLL_RATE_LIMIT=off`), PostgreSQL (a throwaway database per " +
			"gateway, dropped afterwards), step-ca configured by `deploy/step-ca/init.sh`, " +
			"and nginx from Debian with a generated configuration.",
		"The load generator is `bench/cmd/loadgen`, a separate Go process; it counts only " +
			"200 answers and reports failures apart (none, unless the tables say so).",
		fmt.Sprintf("nginx runs %d workers (one per CPU), TLS 1.2 and 1.3, its access log "+
			"on, and keeps connections alive without a request cap, as the gateway does.",
			r.Plan.NginxWorkers),
		"Raw results are in results.json in the working directory when `BENCH_KEEP=1`; " +
			"`bench -render` rewrites this file from them.",
	} {
		m.p("- %s", line)
	}
}
