package bench

import (
	"context"
	"fmt"
)

// reads measures federated reads of PageRows rows on the SQLite and
// PostgreSQL gateways and nginx at every level, run after run. Within a
// level the three are measured back to back, in an order that rotates
// from run to run, so that drift on the machine touches each alike.
func (s *Suite) reads(ctx context.Context) error {
	targets := []readTarget{
		s.nodes["sqlite"].reader.target("sqlite"),
		s.nodes["postgres"].reader.target("postgres"),
		{name: "nginx", url: s.nginx.URL, ca: s.nginx.CAFile,
			cert: s.nodes["sqlite"].reader.CertFile, key: s.nodes["sqlite"].reader.KeyFile},
	}
	levels := make([]ReadLevel, len(s.plan.ReadLevels))
	for run := range s.plan.Runs {
		for i, clients := range s.plan.ReadLevels {
			lv := &levels[i]
			lv.Clients = clients
			for k := range targets {
				t := targets[(k+run)%len(targets)]
				r, err := s.readLoad(ctx, t, clients, s.plan.ReadDuration, s.plan.ReadWarmup)
				if err != nil {
					return err
				}
				lv.add(t.name, r)
			}
			last := len(lv.Nginx) - 1
			s.printf("reads run %d/%d, %3d clients: sqlite %s | postgres %s | nginx %s",
				run+1, s.plan.Runs, clients, brief(lv.SQLite[last]), brief(lv.Postgres[last]),
				brief(lv.Nginx[last]))
		}
	}
	s.report.Reads = levels
	return s.recordMemory("sqlite", "postgres")
}

// add files a result under its target's name.
func (l *ReadLevel) add(name string, r Result) {
	switch name {
	case "sqlite":
		l.SQLite = append(l.SQLite, r)
	case "postgres":
		l.Postgres = append(l.Postgres, r)
	case "nginx":
		l.Nginx = append(l.Nginx, r)
	}
}

// recordMemory adds the peak RSS of the named nodes to the report.
func (s *Suite) recordMemory(names ...string) error {
	for _, name := range names {
		rss, err := s.nodes[name].gw.PeakRSS()
		if err != nil {
			return err
		}
		s.report.Memory = append(s.report.Memory,
			Memory{Name: storeName(name) + ", read table", PeakRSS: rss})
		s.printf("peak RSS of gateway %s: %s", name, mib(rss))
	}
	return nil
}

// brief formats a result for the progress lines.
func brief(r Result) string {
	s := fmt.Sprintf("%.0f/s p50 %.2f p99 %.2f ms", r.RPS, r.P50Ms, r.P99Ms)
	if n := r.RPS * r.Seconds; r.CPUSeconds > 0 && n > 0 {
		s += fmt.Sprintf(" (client %.0f µs/req)", r.CPUSeconds/n*1e6)
	}
	if r.Errors > 0 {
		s += fmt.Sprintf(" (%d errors: %s)", r.Errors, r.FirstError)
	}
	return s
}

// mib formats a size in bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
