package bench

import "time"

// Runs are the results of the repeated runs of one measurement, in run
// order, so that two Runs measured side by side pair up by index.
type Runs []Result

// RPS returns the rate of each run.
func (rs Runs) RPS() []float64 { return rs.field(func(r Result) float64 { return r.RPS }) }

// P50 returns the median latency of each run, in milliseconds.
func (rs Runs) P50() []float64 { return rs.field(func(r Result) float64 { return r.P50Ms }) }

// P99 returns the 99th percentile latency of each run, in milliseconds.
func (rs Runs) P99() []float64 { return rs.field(func(r Result) float64 { return r.P99Ms }) }

// Errors returns the failed requests of every run together.
func (rs Runs) Errors() int {
	n := 0
	for _, r := range rs {
		n += r.Errors
	}
	return n
}

// FirstError returns the first error any run saw, or "".
func (rs Runs) FirstError() string {
	for _, r := range rs {
		if r.FirstError != "" {
			return r.FirstError
		}
	}
	return ""
}

// field maps each run to one number.
func (rs Runs) field(f func(Result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// Report is everything one benchmark run measured, and how.
type Report struct {
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"elapsed"`
	Quick    bool          `json:"quick"`
	Runs     int           `json:"runs"`
	Machine  Machine       `json:"machine"`
	Versions []Version     `json:"versions"`
	Plan     Plan          `json:"plan"`
	// Load holds the one-minute load average sampled through the run.
	Load []float64 `json:"load"`

	Enroll EnrollReport `json:"enroll"`
	Reads  []ReadLevel  `json:"reads"`
	// OpenReads are the open-loop reads at TargetReadClients connections,
	// each run at half of the rate nginx reached closed loop at that
	// concurrency in the same run; nil when no read level has that many
	// clients.
	OpenReads *ReadLevel `json:"openReads,omitempty"`
	// Before holds the runs of the gateways of the baseline binary, nil
	// when there was none.
	Before  *BeforeAfter `json:"before,omitempty"`
	Memory  []Memory     `json:"memory"`
	Growth  []Growth     `json:"growth"`
	Startup []Startup    `json:"startup"`
	// AuditVerify are the verifications of the growth gateways' audit
	// chains, those with a seeded audit log.
	AuditVerify []AuditVerify `json:"auditVerify,omitempty"`

	// Profiles are the pprof summaries of the in-process profiling
	// benchmarks, when they ran.
	Profiles []Profile `json:"profiles,omitempty"`
}

// Version names a component and its version.
type Version struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// EnrollReport holds the enrollment runs and the references measured
// beside them, run by run.
type EnrollReport struct {
	// Ceiling and CeilingVerify are operations per second of the crypto
	// loop, without and with the check of the issued certificate.
	Ceiling       []float64 `json:"ceiling"`
	CeilingVerify []float64 `json:"ceilingVerify"`
	SQLite        Runs      `json:"sqlite"`
	Postgres      Runs      `json:"postgres"`
	// StepDirect is step-ca signing through package stepca alone;
	// StepGateway the gateway enrolling with step-ca as its CA.
	StepDirect  Runs `json:"stepDirect"`
	StepGateway Runs `json:"stepGateway"`
}

// BeforeAfter holds the runs of the "before" gateways, which run a
// binary built from an earlier commit and are set up as the current ones
// are; each run pairs up with the current gateways' run of the same index.
type BeforeAfter struct {
	// Ref names the earlier commit.
	Ref string `json:"ref"`
	// Reads are closed loop at TargetReadClients clients, each run back
	// to back with the current gateway of the same store.
	Reads StorePair `json:"reads"`
	// Enroll is the enrollment load, run right after the current gateways.
	Enroll StorePair `json:"enroll"`
}

// StorePair holds runs of a SQLite and a PostgreSQL gateway.
type StorePair struct {
	SQLite   Runs `json:"sqlite"`
	Postgres Runs `json:"postgres"`
}

// ReadLevel holds the read runs at one concurrency.
type ReadLevel struct {
	Clients  int  `json:"clients"`
	SQLite   Runs `json:"sqlite"`
	Postgres Runs `json:"postgres"`
	Nginx    Runs `json:"nginx"`
}

// Memory is the peak resident set size of one gateway.
type Memory struct {
	Name    string `json:"name"`
	PeakRSS int64  `json:"peakRss"`
}

// Growth holds the growth runs of one store.
type Growth struct {
	Store  string        `json:"store"`
	States []GrowthState `json:"states"`
}

// GrowthState is one database size and the reads measured on it.
type GrowthState struct {
	Name   string        `json:"name"`
	Grants int           `json:"grants"`
	Audit  int           `json:"audit"`
	Levels []GrowthLevel `json:"levels"`
}

// GrowthLevel holds the runs at one concurrency.
type GrowthLevel struct {
	Clients int  `json:"clients"`
	Runs    Runs `json:"runs"`
}

// Startup is the start-up time of one gateway on an existing data
// directory, run by run, in seconds.
type Startup struct {
	Name    string    `json:"name"`
	Seconds []float64 `json:"seconds"`
	// First is the very first start, on an empty data directory.
	First float64 `json:"first"`
}

// AuditVerify is the verification of one gateway's audit chain by
// `mosaic federation audit verify --json`, run by run: the rows it
// checked, its wall time in seconds (the CLI's start included) and whether
// the chain was intact.
type AuditVerify struct {
	Name    string    `json:"name"`
	Rows    []int64   `json:"rows"`
	Seconds []float64 `json:"seconds"`
	Intact  []bool    `json:"intact"`
}

// Profile is the pprof summary of one profiled workload.
type Profile struct {
	Name string `json:"name"`
	Top  string `json:"top"`
}
