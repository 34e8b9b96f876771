package bench

import (
	"context"
	"fmt"
	"time"
)

// growthSize is one database size of the growth runs.
type growthSize struct {
	name          string
	grants, audit int
}

// growth measures, for SQLite and then PostgreSQL, reads on gateways
// whose databases differ only in size, the verification of the seeded
// audit chain, then their peak memory and their start-up time on the
// existing data directory.
func (s *Suite) growth(ctx context.Context) error {
	for _, store := range []string{"sqlite", "postgres"} {
		g, err := s.growStore(ctx, store)
		if err != nil {
			return fmt.Errorf("%s: %w", store, err)
		}
		s.report.Growth = append(s.report.Growth, *g)
	}
	return nil
}

// sizes returns the database sizes of the plan.
func (s *Suite) sizes() []growthSize {
	p := s.plan
	return []growthSize{
		{count(p.GrowthSmall) + " grants", p.GrowthSmall, 0},
		{count(p.GrowthGrants) + " grants", p.GrowthGrants, 0},
		{count(p.GrowthGrants) + " grants + " + count(p.GrowthAudit) + " audit rows",
			p.GrowthGrants, p.GrowthAudit},
	}
}

// growStore runs the growth measurements of one store.
func (s *Suite) growStore(ctx context.Context, store string) (*Growth, error) {
	sizes := s.sizes()
	nodes := make([]*node, len(sizes))
	g := &Growth{Store: store, States: make([]GrowthState, len(sizes))}
	for i, size := range sizes {
		name := fmt.Sprintf("growth-%s-%d", store, i+1)
		n, err := s.startNode(ctx, nodeSpec{name: name, ca: "embedded", postgres: store == "postgres"})
		if err != nil {
			return nil, err
		}
		s.nodes[name], nodes[i] = n, n
		if err := s.seed(ctx, n, size); err != nil {
			return nil, err
		}
		g.States[i] = GrowthState{Name: size.name, Grants: size.grants, Audit: size.audit}
	}
	if err := s.growthReads(ctx, store, nodes, g); err != nil {
		return nil, err
	}
	for i, size := range sizes {
		if size.audit == 0 {
			continue
		}
		if err := s.verifyAudit(ctx, nodes[i], storeName(store)+", "+size.name); err != nil {
			return nil, err
		}
	}
	for i, n := range nodes {
		rss, err := n.gw.PeakRSS()
		if err != nil {
			return nil, err
		}
		s.report.Memory = append(s.report.Memory,
			Memory{Name: storeName(store) + ", " + sizes[i].name, PeakRSS: rss})
	}
	if err := s.startups(ctx, store, nodes, sizes); err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if err := n.gw.Stop(); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// seed grows a node's database to size: grants and peers besides the
// reader's own (which counts as one), then audit rows.
func (s *Suite) seed(ctx context.Context, n *node, size growthSize) error {
	start := time.Now()
	sd, err := OpenSeeder(n.dataDir, n.dbURL)
	if err != nil {
		return err
	}
	defer sd.Close()
	if err := sd.Grants(ctx, n.reader.UserID, size.grants-1); err != nil {
		return err
	}
	if err := sd.Audit(ctx, n.reader.UserID, size.audit, size.grants-1); err != nil {
		return err
	}
	if err := sd.Settle(ctx); err != nil {
		return err
	}
	grants, err := sd.Count(ctx, "grants")
	if err != nil {
		return err
	}
	audit, err := sd.Count(ctx, "audit_events")
	if err != nil {
		return err
	}
	s.printf("%s: %d grants, %d audit rows (seeded in %.1fs)", n.name, grants, audit,
		time.Since(start).Seconds())
	return nil
}

// growthReads reads from every size at every growth level, run after run,
// the sizes back to back in an order rotating from run to run.
func (s *Suite) growthReads(ctx context.Context, store string, nodes []*node, g *Growth) error {
	for i := range g.States {
		g.States[i].Levels = make([]GrowthLevel, len(s.plan.GrowthLevels))
	}
	for run := range s.plan.GrowthRuns {
		for li, clients := range s.plan.GrowthLevels {
			line := fmt.Sprintf("growth %s run %d/%d, %3d clients:", store, run+1,
				s.plan.GrowthRuns, clients)
			for k := range nodes {
				i := (k + run) % len(nodes)
				r, err := s.readLoad(ctx, nodes[i].reader.target(nodes[i].name), clients,
					s.plan.GrowthDuration, s.plan.GrowthWarmup)
				if err != nil {
					return err
				}
				lv := &g.States[i].Levels[li]
				lv.Clients, lv.Runs = clients, append(lv.Runs, r)
			}
			for i := range nodes {
				line += fmt.Sprintf(" [%s] %s", g.States[i].Name, brief(lastRun(g.States[i].Levels[li])))
			}
			s.printf("%s", line)
		}
	}
	return nil
}

// lastRun returns the latest run of a level.
func lastRun(l GrowthLevel) Result { return l.Runs[len(l.Runs)-1] }

// startups restarts each node on its existing data directory, run after
// run, and records how long each start took until /readyz answered 200.
func (s *Suite) startups(ctx context.Context, store string, nodes []*node,
	sizes []growthSize) error {
	rows := make([]Startup, len(nodes))
	for i, n := range nodes {
		rows[i] = Startup{Name: storeName(store) + ", " + sizes[i].name,
			First: n.gw.StartedIn.Seconds()}
	}
	for range s.plan.Runs {
		for i, n := range nodes {
			if err := n.gw.Stop(); err != nil {
				return err
			}
			if err := n.gw.Start(ctx); err != nil {
				return err
			}
			rows[i].Seconds = append(rows[i].Seconds, n.gw.StartedIn.Seconds())
		}
	}
	for _, r := range rows {
		s.printf("start-up %s: %.3fs (median of %v)", r.Name, Median(r.Seconds), r.Seconds)
	}
	s.report.Startup = append(s.report.Startup, rows...)
	return nil
}
