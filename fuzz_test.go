package mosaic

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The seed corpus is in testdata/fuzz/FuzzParseScope/. scripts/fuzz.sh runs
// every target for a bounded time.

// FuzzParseScope checks that ParseScope never panics, refuses only with
// "invalid_scope", and accepts only a scope that holds on its own: exactly
// one JSON value, at least one resource, every name known, none listed
// twice, none both allowed and excluded, a row cap of 1..10000, and the same
// scope back after marshalling it again.
func FuzzParseScope(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScope(data)
		if err != nil {
			if ErrorKind(err) != KindInvalid || ErrorCode(err) != "invalid_scope" {
				t.Fatalf("ParseScope(%q) error %v, want invalid_scope", data, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("ParseScope accepted %q, which is not one JSON value", data)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted scope %+v does not validate: %v", s, err)
		}
		if s.MaxRowsPerQuery < 1 || s.MaxRowsPerQuery > 10000 {
			t.Fatalf("accepted row cap %d", s.MaxRowsPerQuery)
		}
		if len(s.Resources) == 0 {
			t.Fatalf("accepted an empty resource list from %q", data)
		}
		checkScopeResources(t, s)

		again, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal accepted scope: %v", err)
		}
		back, err := ParseScope(again)
		if err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("scope %+v marshals to %s, which parses to %+v, %v", s, again, back, err)
		}
	})
}

// checkScopeResources checks that every resource of an accepted scope is one
// of the five, listed once, and that Allows agrees with the two lists.
func checkScopeResources(t *testing.T, s Scope) {
	t.Helper()
	seen := map[Resource]string{}
	for list, rs := range map[string][]Resource{
		"resources": s.Resources, "excluded_resources": s.ExcludedResources,
	} {
		for _, r := range rs {
			if !r.Valid() {
				t.Fatalf("accepted unknown resource %q in %s", r, list)
			}
			if prev, dup := seen[r]; dup {
				t.Fatalf("accepted %q in %s and in %s", r, prev, list)
			}
			seen[r] = list
		}
	}
	for _, r := range append([]Resource{"", "Tasks", "task"}, Resources...) {
		if want := seen[r] == "resources"; s.Allows(r) != want {
			t.Fatalf("scope %+v: Allows(%q) = %v", s, r, !want)
		}
	}
}
