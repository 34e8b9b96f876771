package seal

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestCheckValue(t *testing.T) {
	a, b := testSecret("check-a"), testSecret("check-b")
	ca := CheckValue(a)
	if len(ca) != 2*checkValueLen {
		t.Fatalf("check value %q is not %d hex digits", ca, 2*checkValueLen)
	}
	if CheckValue(a) != ca {
		t.Error("the check value of one secret changed between calls")
	}
	if CheckValue(b) == ca {
		t.Error("two secrets have the same check value")
	}
	// It is not the start of the sealing key derived from the same secret.
	key, err := hkdf.Key(sha256.New, a, nil, keyInfo, keyLen)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(hex.EncodeToString(key), ca[:8]) {
		t.Error("the check value shares its start with the sealing key")
	}
}

func TestRegistry(t *testing.T) {
	var r Registry
	if r.Newest() != 0 || r.Lookup("x") != 0 {
		t.Fatal("an empty registry knows a version")
	}
	one, two := CheckValue(testSecret("one")), CheckValue(testSecret("two"))
	r, v := r.With(one)
	if v != 1 {
		t.Fatalf("first version = %d, want 1", v)
	}
	r2, v := r.With(two)
	if v != 2 || r2.Lookup(two) != 2 || r2.Lookup(one) != 1 || r2.Newest() != 2 {
		t.Fatalf("after adding a second key: %v", r2)
	}
	if r.Lookup(two) != 0 {
		t.Fatal("With changed the registry it was called on")
	}

	parsed, err := ParseRegistry(r2.String())
	if err != nil {
		t.Fatalf("ParseRegistry(%s): %v", r2, err)
	}
	if parsed.String() != r2.String() {
		t.Fatalf("round trip: %s, want %s", parsed, r2)
	}
	// String orders the versions whatever the order held.
	swapped := Registry{Keys: []RegisteredKey{r2.Keys[1], r2.Keys[0]}}
	if swapped.String() != r2.String() {
		t.Errorf("String of reordered keys = %s, want %s", swapped, r2)
	}
}

func TestParseRegistryRejects(t *testing.T) {
	c1, c2 := CheckValue(testSecret("one")), CheckValue(testSecret("two"))
	tests := []struct {
		name, text string
	}{
		{"not JSON", "seal"},
		{"version 0", `{"keys":[{"version":0,"check":"` + c1 + `"}]}`},
		{"repeated version", `{"keys":[{"version":1,"check":"` + c1 + `"},` +
			`{"version":1,"check":"` + c2 + `"}]}`},
		{"repeated check", `{"keys":[{"version":1,"check":"` + c1 + `"},` +
			`{"version":2,"check":"` + c1 + `"}]}`},
		{"short check", `{"keys":[{"version":1,"check":"abcd"}]}`},
		{"negative version", `{"keys":[{"version":-1,"check":"` + c1 + `"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := ParseRegistry(tt.text); err == nil {
				t.Fatalf("ParseRegistry accepted %s as %v", tt.text, r)
			}
		})
	}
}

func TestSealerVersions(t *testing.T) {
	s, err := NewWithVersions(3, map[uint32][]byte{1: testSecret("a"), 3: testSecret("c")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Current() != 3 || !s.Holds(1) || s.Holds(2) || !s.Holds(3) {
		t.Fatalf("current %d, holds 1 %v 2 %v 3 %v", s.Current(), s.Holds(1), s.Holds(2),
			s.Holds(3))
	}
	if got := s.Versions(); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("Versions = %v, want [1 3]", got)
	}
}
