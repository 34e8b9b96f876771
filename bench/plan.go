package bench

import (
	"fmt"
	"runtime"
	"slices"
	"time"
)

// Plan is how much a run measures: how many times, how long and at which
// concurrencies.
type Plan struct {
	// Runs is how many times every measurement is repeated (at least 3).
	Runs int `json:"runs"`

	// ReadLevels are the concurrent clients of the read runs; each run of
	// a level lasts ReadDuration after ReadWarmup.
	ReadLevels   []int         `json:"readLevels"`
	ReadDuration time.Duration `json:"readDuration"`
	ReadWarmup   time.Duration `json:"readWarmup"`

	// EnrollCount enrollments per run and gateway, sent by EnrollClients
	// clients; the crypto ceiling loops for CeilingDuration.
	EnrollCount     int           `json:"enrollCount"`
	EnrollClients   int           `json:"enrollClients"`
	CeilingDuration time.Duration `json:"ceilingDuration"`

	// Growth: a small database holds GrowthSmall grants and peers, a large
	// one GrowthGrants, and the large one with an audit log of
	// GrowthAudit rows; reads at GrowthLevels last GrowthDuration, and are
	// repeated GrowthRuns times (at least Runs: the differences sought are
	// small beside the machine's noise).
	GrowthRuns     int           `json:"growthRuns"`
	GrowthSmall    int           `json:"growthSmall"`
	GrowthGrants   int           `json:"growthGrants"`
	GrowthAudit    int           `json:"growthAudit"`
	GrowthLevels   []int         `json:"growthLevels"`
	GrowthDuration time.Duration `json:"growthDuration"`
	GrowthWarmup   time.Duration `json:"growthWarmup"`

	// NginxWorkers is nginx's worker_processes: one per CPU, as the
	// gateway uses every CPU.
	NginxWorkers int `json:"nginxWorkers"`

	// Only, when not empty, names the steps to run besides the set-up
	// ("federated reads", "enrollment", "growth"), to look at one part
	// while working on it; a report of such a run is incomplete.
	Only []string `json:"only,omitempty"`
}

// runs reports whether the plan runs the step of that name.
func (p Plan) runs(step string) bool {
	return step == "set-up" || len(p.Only) == 0 || slices.Contains(p.Only, step)
}

// NewPlan returns the full plan, or the quick one (a smoke run of every
// measurement in a few minutes, with a smaller audit log).
func NewPlan(quick bool) Plan {
	p := Plan{
		Runs:            3,
		ReadLevels:      []int{1, 8, 32, 128},
		ReadDuration:    5 * time.Second,
		ReadWarmup:      time.Second,
		EnrollCount:     400,
		EnrollClients:   8,
		CeilingDuration: 3 * time.Second,
		GrowthRuns:      5,
		GrowthSmall:     10,
		GrowthGrants:    100_000,
		GrowthAudit:     1_000_000,
		GrowthLevels:    []int{1, 32},
		GrowthDuration:  3 * time.Second,
		GrowthWarmup:    500 * time.Millisecond,
		NginxWorkers:    runtime.NumCPU(),
	}
	if quick {
		p.ReadDuration, p.ReadWarmup = time.Second, 300*time.Millisecond
		p.EnrollCount = 50
		p.CeilingDuration = time.Second
		p.GrowthAudit = 100_000
		p.GrowthLevels = []int{8}
		p.GrowthRuns = 3
		p.GrowthDuration, p.GrowthWarmup = time.Second, 200*time.Millisecond
	}
	return p
}

// Check refuses a plan that cannot give medians of several runs.
func (p Plan) Check() error {
	switch {
	case p.Runs < 3 || p.GrowthRuns < p.Runs:
		return fmt.Errorf("bench: %d runs (%d of growth): at least 3 are needed for a median",
			p.Runs, p.GrowthRuns)
	case len(p.ReadLevels) == 0 || len(p.GrowthLevels) == 0:
		return fmt.Errorf("bench: no concurrency levels")
	case p.EnrollCount < 1 || p.EnrollClients < 1:
		return fmt.Errorf("bench: no enrollments")
	case p.GrowthSmall < 1 || p.GrowthGrants < p.GrowthSmall:
		return fmt.Errorf("bench: growth sizes %d and %d", p.GrowthSmall, p.GrowthGrants)
	}
	return nil
}
