package bench

import (
	"slices"
	"testing"
)

func TestWithBefore(t *testing.T) {
	nodes := map[string]*node{}
	for _, name := range []string{"sqlite", "sqlite-before", "postgres", "postgres-before"} {
		nodes[name] = &node{name: name, reader: &Reader{URL: "https://" + name}}
	}
	tests := []struct {
		name     string
		baseline bool
		target   string
		clients  int
		run      int
		want     []string
	}{
		{"no baseline", false, "sqlite", TargetReadClients, 0, []string{"sqlite"}},
		{"after first in even runs", true, "sqlite", TargetReadClients, 0,
			[]string{"sqlite", "sqlite-before"}},
		{"before first in odd runs", true, "postgres", TargetReadClients, 1,
			[]string{"postgres-before", "postgres"}},
		{"other levels alone", true, "sqlite", 8, 0, []string{"sqlite"}},
		{"nginx has no twin", true, "nginx", TargetReadClients, 0, []string{"nginx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Suite{nodes: nodes, report: &Report{}}
			if tt.baseline {
				s.report.Before = &BeforeAfter{}
			}
			var got []string
			for _, rt := range s.withBefore(readTarget{name: tt.target}, tt.clients, tt.run) {
				got = append(got, rt.name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("order %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFileRead(t *testing.T) {
	s := &Suite{report: &Report{Before: &BeforeAfter{}}}
	var lv ReadLevel
	for _, name := range []string{"sqlite", "sqlite-before", "postgres-before", "nginx"} {
		s.fileRead(&lv, name, Result{RPS: 1})
	}
	b := s.report.Before.Reads
	if len(lv.SQLite) != 1 || len(lv.Nginx) != 1 || len(lv.Postgres) != 0 ||
		len(b.SQLite) != 1 || len(b.Postgres) != 1 {
		t.Errorf("level %+v, before %+v: want each result under its own target", lv, b)
	}
}
