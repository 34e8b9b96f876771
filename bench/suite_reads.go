package bench

import (
	"context"
	"fmt"
	"slices"
)

// reads measures federated reads of PageRows rows on the SQLite and
// PostgreSQL gateways and nginx at every level, run after run. Within a
// level the three are measured back to back, in an order that rotates
// from run to run, so that drift on the machine touches each alike. After
// the levels of each run come the open-loop reads (see openReads).
func (s *Suite) reads(ctx context.Context) error {
	targets := s.readTargets()
	levels := make([]ReadLevel, len(s.plan.ReadLevels))
	var open *ReadLevel
	if slices.Contains(s.plan.ReadLevels, TargetReadClients) {
		open = &ReadLevel{Clients: TargetReadClients}
	}
	for run := range s.plan.Runs {
		for i, clients := range s.plan.ReadLevels {
			lv := &levels[i]
			lv.Clients = clients
			if err := s.readLevel(ctx, run, targets, lv); err != nil {
				return err
			}
		}
		if open != nil {
			at := slices.Index(s.plan.ReadLevels, TargetReadClients)
			if err := s.openReads(ctx, run, targets, levels[at], open); err != nil {
				return err
			}
		}
	}
	s.report.Reads, s.report.OpenReads = levels, open
	return s.recordMemory("sqlite", "postgres")
}

// readLevel measures one run of a level: the targets in an order rotating
// from run to run, each current gateway back to back with its "before"
// twin at the level compared with the baseline.
func (s *Suite) readLevel(ctx context.Context, run int, targets []readTarget,
	lv *ReadLevel) error {
	for k := range targets {
		for _, t := range s.withBefore(targets[(k+run)%len(targets)], lv.Clients, run) {
			r, err := s.readLoad(ctx, t, lv.Clients, s.plan.ReadDuration, s.plan.ReadWarmup)
			if err != nil {
				return err
			}
			s.fileRead(lv, t.name, r)
		}
	}
	s.printf("reads run %d/%d, %3d clients: %s", run+1, s.plan.Runs, lv.Clients, lv.last())
	if b := s.report.Before; b != nil && lv.Clients == TargetReadClients {
		s.printf("reads run %d/%d, %3d clients, %s", run+1, s.plan.Runs, lv.Clients,
			beforeBrief(&b.Reads))
	}
	return nil
}

// readTargets are the SQLite and PostgreSQL gateways and nginx, which
// serves the same bytes to the SQLite gateway's reader.
func (s *Suite) readTargets() []readTarget {
	return []readTarget{
		s.nodes["sqlite"].reader.target("sqlite"),
		s.nodes["postgres"].reader.target("postgres"),
		{name: "nginx", url: s.nginx.URL, ca: s.nginx.CAFile,
			cert: s.nodes["sqlite"].reader.CertFile, key: s.nodes["sqlite"].reader.KeyFile},
	}
}

// openReads measures the targets open loop at closed.Clients connections,
// at half of the rate nginx reached closed loop at that concurrency in this
// run, with the warm-up and duration of the closed-loop runs and in the
// same rotating order.
func (s *Suite) openReads(ctx context.Context, run int, targets []readTarget,
	closed ReadLevel, open *ReadLevel) error {
	if len(closed.Nginx) <= run || closed.Nginx[run].RPS <= 0 {
		return fmt.Errorf("bench: nginx served nothing at %d clients: no rate for the "+
			"open-loop reads", closed.Clients)
	}
	rate := closed.Nginx[run].RPS * openShare
	for k := range targets {
		t := targets[(k+run)%len(targets)]
		r, err := s.readLoadAt(ctx, t, open.Clients, s.plan.ReadDuration, s.plan.ReadWarmup, rate)
		if err != nil {
			return err
		}
		open.add(t.name, r)
	}
	s.printf("open loop run %d/%d, %3d connections at %.0f/s: %s", run+1, s.plan.Runs,
		open.Clients, rate, open.last())
	return nil
}

// openShare is the share of nginx's closed-loop rate the open-loop reads
// ask for.
const openShare = 0.5

// last formats the latest run of each target for the progress lines.
func (l *ReadLevel) last() string {
	end := func(rs Runs) string {
		if len(rs) == 0 {
			return "–"
		}
		return brief(rs[len(rs)-1])
	}
	return fmt.Sprintf("sqlite %s | postgres %s | nginx %s", end(l.SQLite), end(l.Postgres),
		end(l.Nginx))
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
	if r.TargetRPS > 0 {
		s += fmt.Sprintf(" (%d late)", r.Late)
	}
	if r.Errors > 0 {
		s += fmt.Sprintf(" (%d errors: %s)", r.Errors, r.FirstError)
	}
	return s
}

// mib formats a size in bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
