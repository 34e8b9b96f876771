package bench

import (
	"strings"
	"testing"
	"time"
)

func TestCount(t *testing.T) {
	tests := []struct {
		in   int
		want string
	}{
		{0, "0"}, {10, "10"}, {999, "999"}, {1000, "1,000"}, {100000, "100,000"},
		{1000000, "1,000,000"}, {-1234, "-1,234"},
	}
	for _, tt := range tests {
		if got := count(tt.in); got != tt.want {
			t.Errorf("count(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPlanCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Plan)
		ok     bool
	}{
		{"full", func(*Plan) {}, true},
		{"two runs give no median", func(p *Plan) { p.Runs = 2 }, false},
		{"fewer growth runs than runs", func(p *Plan) { p.GrowthRuns = 2 }, false},
		{"no read levels", func(p *Plan) { p.ReadLevels = nil }, false},
		{"no enrollments", func(p *Plan) { p.EnrollCount = 0 }, false},
		{"large smaller than small", func(p *Plan) { p.GrowthGrants = 5 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPlan(false)
			tt.change(&p)
			if err := p.Check(); (err == nil) != tt.ok {
				t.Errorf("Check() = %v, want ok %v", err, tt.ok)
			}
		})
	}
	if q := NewPlan(true); q.Check() != nil || q.ReadDuration >= NewPlan(false).ReadDuration {
		t.Error("the quick plan is not a valid, shorter plan")
	}
}

// runs makes results with the given rates and p50s (p99 twice p50).
func runs(rps ...float64) Runs {
	out := make(Runs, len(rps))
	for i, r := range rps {
		out[i] = Result{Requests: int(r), RPS: r, P50Ms: 1000 / r, P99Ms: 2000 / r}
	}
	return out
}

// openRuns makes open-loop results that asked for rate and reached 98% of
// it, with the given p99s (p50 a quarter of them) and late requests.
func openRuns(rate float64, late int, p99 ...float64) Runs {
	out := make(Runs, len(p99))
	for i, p := range p99 {
		out[i] = Result{Requests: 1000, RPS: rate * 0.98, TargetRPS: rate, P50Ms: p / 4,
			P99Ms: p, Late: late}
	}
	return out
}

// withCPU gives each run a measured phase of seconds and the load
// generator's processor time cpu.
func withCPU(rs Runs, seconds, cpu float64) Runs {
	for i := range rs {
		rs[i].Seconds, rs[i].CPUSeconds = seconds, cpu
	}
	return rs
}

// sampleReport is a report with every section filled.
func sampleReport() *Report {
	state := func(name string, rate float64) GrowthState {
		return GrowthState{Name: name, Levels: []GrowthLevel{{Clients: 1, Runs: runs(rate, rate, rate)}}}
	}
	return &Report{
		Started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Elapsed: 11 * time.Minute, Runs: 3,
		Machine:  Machine{CPUs: 2, CPUModel: "Test CPU", MemoryMiB: 2048, GoVersion: "go1.26"},
		Versions: []Version{{"nginx", "1.22.1"}},
		Plan:     NewPlan(false),
		Load:     []float64{1, 2, 3},
		Enroll: EnrollReport{
			Ceiling: []float64{1000, 1000, 1000}, CeilingVerify: []float64{700, 700, 700},
			SQLite: runs(100, 100, 100), Postgres: runs(600, 600, 600),
			StepDirect: runs(50, 50, 50), StepGateway: runs(40, 40, 40),
		},
		Reads: []ReadLevel{{Clients: 32, SQLite: withCPU(runs(500, 500, 500), 5, 0.5),
			Postgres: runs(400, 400, 400), Nginx: withCPU(runs(2000, 2000, 2000), 5, 2)}},
		OpenReads: &ReadLevel{Clients: 32, SQLite: openRuns(1000, 10, 8, 9, 12),
			Postgres: openRuns(1000, 0, 20, 30, 25), Nginx: openRuns(1000, 0, 1, 1, 1)},
		Before: &BeforeAfter{Ref: "abc1234 (an old commit)",
			Reads:  StorePair{SQLite: runs(250, 250, 250), Postgres: runs(400, 400, 400)},
			Enroll: StorePair{SQLite: runs(50, 50, 50), Postgres: runs(600, 600, 600)}},
		Memory: []Memory{{Name: "SQLite, read table", PeakRSS: 64 << 20}},
		AuditVerify: []AuditVerify{{Name: "SQLite, 100,000 grants + 1,000,000 audit rows",
			Rows: []int64{1_000_500, 1_000_500, 1_000_500}, Seconds: []float64{2, 2.5, 4},
			Intact: []bool{true, true, true}}},
		Growth: []Growth{{Store: "sqlite", States: []GrowthState{
			state("10 grants", 100), state("100,000 grants", 50)}}},
		Startup:  []Startup{{Name: "SQLite, 10 grants", Seconds: []float64{0.1, 0.2, 0.3}, First: 1}},
		Profiles: []Profile{{Name: "Federated reads", Top: "flat flat%\n"}},
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b strings.Builder
	if err := sampleReport().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| CPUs (nproc) | 2 |",
		"| CPU model | Test CPU |",
		"2026-01-02 03:04 UTC",
		"took 11m0s",
		"## How to read this",
		"median of 3 runs (5 for growth)",
		// enrollment: 100 of 1000 is 10%, 5× short of half.
		"| enrollment ≥ 50% of the crypto ceiling (SQLite) | 10.0% (100/s of 1000/s) | " +
			"×5.0 needed | **not met** |",
		"| enrollment ≥ 50% of the crypto ceiling (PostgreSQL) | 60.0% (600/s of 1000/s) | " +
			"20% above | **met** |",
		// SQLite enrollment: 100/s, p50 10 ms.
		"over the time of one redeem (SQLite: p50 10.0 ms, so about",
		// reads at 32 clients: 500 of 2000, p99 4 ms.
		"| reads ≥ 50% of nginx at 32 clients (SQLite) | 25.0%",
		"| read p99 < 10 ms at 32 clients (SQLite) | 4.00 ms | -6.0 ms | **met** |",
		"| for reference: nginx at 32 clients, same run | p50 0.50 ms, p99 1.00 ms |  |  |",
		// growth: p50 doubles.
		"no growth of read p50, 10 grants → 100,000 grants (SQLite, 1 client) | 2.000×",
		"| 0.800× of step-ca alone |",
		"| 32 | 500 | 2.00 | 4.00 | 400 |",
		"| SQLite, 10 grants | 0.200 | [0.100, 0.200, 0.300] | 1.000 |",
		"| SQLite, read table | 64.0 MiB |",
		"### Federated reads",
		// open loop: SQLite's p99 median is 9 ms, PostgreSQL's 25 ms.
		"by Little's law",
		"more than 3,200 requests per second",
		"| read p99 < 10 ms at 32 connections at half of nginx's throughput (open loop) " +
			"(SQLite) | 9.00 ms at 980/s (asked 1000/s) | -1.0 ms | **met** |",
		"| read p99 < 10 ms at 32 connections at half of nginx's throughput (open loop) " +
			"(PostgreSQL) | 25.0 ms at 980/s (asked 1000/s) | +15.0 ms | **not met** |",
		// before and after: SQLite reads twice as fast, enrollment too.
		"## Before and after",
		"`mosaic` built from abc1234 (an old commit)",
		"| SQLite | reads at 32 clients, req/s | 250 [250, 250, 250] | 500 [500, 500, 500] | " +
			"2.000× [2.00, 2.00, 2.00] |",
		"| SQLite | reads at 32 clients, p50 ms | 4.00 [4.00, 4.00, 4.00] | " +
			"2.00 [2.00, 2.00, 2.00] | 0.500× [0.50, 0.50, 0.50] |",
		"| SQLite | enrollment, per second | 50.0 [50.0, 50.0, 50.0] | 100 [100, 100, 100] | " +
			"2.000× [2.00, 2.00, 2.00] |",
		"| PostgreSQL | reads at 32 clients, p99 ms | 5.00 [5.00, 5.00, 5.00] | " +
			"5.00 [5.00, 5.00, 5.00] | 1.000× [1.00, 1.00, 1.00] |",
		// audit verification: 1,000,500 rows in 2.5 s.
		"## Audit chain verification",
		"| SQLite, 100,000 grants + 1,000,000 audit rows | 1,000,500 | 2.50 | " +
			"[2.000, 2.500, 4.000] | 400,200 | yes |",
		// client CPU: 0.5 s over 2,500 requests in 5 s, a tenth of one CPU.
		"| SQLite | closed loop, 32 clients | 200 | 5.0% | [200, 200, 200] |",
		"| nginx | closed loop, 32 clients | 200 | 20.0% | [200, 200, 200] |",
		"| PostgreSQL | closed loop, 32 clients | – | – | [] |",
		"### Latency at half of nginx's throughput (open loop)",
		"| SQLite | 1000 [1000, 1000, 1000] | 980 [980, 980, 980] | 2.25 [2.00, 2.25, 3.00] | " +
			"9.00 [8.00, 9.00, 12.0] | 10 (1.0%) [10, 10, 10] |",
		"median 2.0, from 1.0 to 3.0 (3 samples)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "NaN") {
		t.Error("report holds NaN")
	}
}

func TestIntactText(t *testing.T) {
	tests := []struct {
		runs []bool
		want string
	}{
		{nil, "–"},
		{[]bool{true, true, true}, "yes"},
		{[]bool{true, false, false}, "**no** (run 2, 3)"},
	}
	for _, tt := range tests {
		if got := intactText(tt.runs); got != tt.want {
			t.Errorf("intactText(%v) = %q, want %q", tt.runs, got, tt.want)
		}
	}
}

func TestShareGap(t *testing.T) {
	tests := []struct {
		share float64
		want  string
	}{
		{0.1, "×5.0 needed"},
		{0.489, "×1.02 needed"},
		{0.5, "0% above"},
		{0.611, "22% above"},
		{0, "nothing measured"},
	}
	for _, tc := range tests {
		if got := shareGap(tc.share, 0.5); got != tc.want {
			t.Errorf("shareGap(%v, 0.5) = %q, want %q", tc.share, got, tc.want)
		}
	}
}

func TestGrowthStatus(t *testing.T) {
	tests := []struct {
		name  string
		q     float64
		small Runs
		want  string
	}{
		{"steady and flat", 1.02, runs(100, 101, 99), metYes},
		{"steady and grown", 1.5, runs(100, 101, 99), metNo},
		{"noisy", 1.0, runs(100, 20, 99), "inconclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := growthStatus(tt.q, tt.small); !strings.HasPrefix(got, tt.want) {
				t.Errorf("growthStatus = %q, want %q…", got, tt.want)
			}
		})
	}
}

func TestWriteOpenReads(t *testing.T) {
	failed := openRuns(1000, 0, 2, 2, 2)
	failed[1].Errors, failed[1].FirstError = 3, "status 503 audit_unavailable"
	tests := []struct {
		name     string
		open     *ReadLevel
		want     []string
		wantNone string
	}{
		{"not measured", nil, nil, "open loop"},
		{"failed requests miss the target", &ReadLevel{Clients: 32, SQLite: failed,
			Postgres: openRuns(1000, 0, 2, 2, 2), Nginx: openRuns(1000, 0, 1, 1, 1)},
			[]string{
				"(open loop) (SQLite) | 2.00 ms at 980/s (asked 1000/s) | -8.0 ms | " +
					"**not met** (3 requests failed) |",
				"(open loop) (PostgreSQL) | 2.00 ms at 980/s (asked 1000/s) | -8.0 ms | " +
					"**met** |",
				"| SQLite (3 failed: status 503 audit_unavailable) | 1000",
			}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleReport()
			r.OpenReads = tt.open
			var b strings.Builder
			r.writeTargets(&md{w: &b})
			r.writeReads(&md{w: &b})
			out := b.String()
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q", want)
				}
			}
			if tt.wantNone != "" && strings.Contains(out, tt.wantNone) {
				t.Errorf("report speaks of %q", tt.wantNone)
			}
		})
	}
}
