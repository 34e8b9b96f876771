package bench

import (
	"context"
	"fmt"
	"strings"
)

// beforeStores are the stores of the "before" gateways, which run the
// baseline binary (Tools.Baseline).
var beforeStores = []string{"sqlite", "postgres"}

// beforeSuffix ends the name of a "before" gateway.
const beforeSuffix = "-before"

// beforeName names the "before" gateway of a store.
func beforeName(store string) string { return store + beforeSuffix }

// withBefore returns t, followed or preceded by its "before" twin when t
// has one and the level is the one compared with the baseline: the two
// back to back, in an order that alternates from run to run.
func (s *Suite) withBefore(t readTarget, clients, run int) []readTarget {
	twin, ok := s.nodes[beforeName(t.name)]
	if s.report.Before == nil || clients != TargetReadClients || !ok {
		return []readTarget{t}
	}
	b := twin.reader.target(twin.name)
	if run%2 == 1 {
		return []readTarget{b, t}
	}
	return []readTarget{t, b}
}

// fileRead files a read result under its target's name: on the level for
// the current gateways and nginx, with the baseline's for a "before"
// gateway.
func (s *Suite) fileRead(lv *ReadLevel, name string, r Result) {
	if store, ok := strings.CutSuffix(name, beforeSuffix); ok {
		s.report.Before.Reads.add(store, r)
		return
	}
	lv.add(name, r)
}

// enrollBefore runs the enrollment load of one run on the "before"
// gateways, when there are some.
func (s *Suite) enrollBefore(ctx context.Context, jobs map[string][]EnrollJob) error {
	b := s.report.Before
	if b == nil {
		return nil
	}
	for _, store := range beforeStores {
		r, err := s.enrollLoad(ctx, beforeName(store), jobs[beforeName(store)])
		if err != nil {
			return err
		}
		b.Enroll.add(store, *r)
	}
	return nil
}

// beforeNames are the names of the "before" gateways, none without a
// baseline.
func (s *Suite) beforeNames() []string {
	if s.report.Before == nil {
		return nil
	}
	names := make([]string, len(beforeStores))
	for i, store := range beforeStores {
		names[i] = beforeName(store)
	}
	return names
}

// beforeBrief formats the latest runs of the "before" gateways for the
// progress lines, or "" without a baseline.
func beforeBrief(p *StorePair) string {
	if p == nil || len(p.SQLite) == 0 || len(p.Postgres) == 0 {
		return ""
	}
	return fmt.Sprintf("before: sqlite %s | postgres %s", brief(p.SQLite[len(p.SQLite)-1]),
		brief(p.Postgres[len(p.Postgres)-1]))
}

// add files a result under its store.
func (p *StorePair) add(store string, r Result) {
	if store == "postgres" {
		p.Postgres = append(p.Postgres, r)
		return
	}
	p.SQLite = append(p.SQLite, r)
}
