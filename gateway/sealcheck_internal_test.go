package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
)

func TestJudgeSealed(t *testing.T) {
	one, two := strings.Repeat("1", 40), strings.Repeat("2", 40)
	alone, err := seal.NewWithVersions(2, map[uint32][]byte{2: []byte(two)})
	if err != nil {
		t.Fatal(err)
	}
	both, err := seal.NewWithVersions(2, map[uint32][]byte{1: []byte(one), 2: []byte(two)})
	if err != nil {
		t.Fatal(err)
	}
	count := func(pairs ...int) []seal.VersionCount {
		var out []seal.VersionCount
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, seal.VersionCount{Table: mosaic.SealedCredentials,
				Version: uint32(pairs[i]), Count: int64(pairs[i+1])})
		}
		return out
	}
	tests := []struct {
		name   string
		sealer *seal.Sealer
		counts []seal.VersionCount
		status mosaic.CheckStatus
		reason string
	}{
		{"all current", alone, count(2, 5), mosaic.CheckOK, "all 5 sealed values"},
		{"nothing sealed", alone, nil, mosaic.CheckOK, "all 0 sealed values"},
		{"rotation to finish", both, count(1, 3, 2, 4), mosaic.CheckWarn,
			"3 sealed values are still under the previous key version 1"},
		{"previous secret no longer needed", both, count(2, 7), mosaic.CheckWarn,
			"no longer needed"},
		{"version without its secret", alone, count(1, 2, 2, 1, 3, 1), mosaic.CheckWarn,
			"3 sealed values are under key version 1, 3, whose secret"},
		{"not sealed values", alone, count(0, 1, 2, 1), mosaic.CheckWarn,
			"under key version 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := judgeSealed(tt.sealer, tt.counts)
			if c.Name != "sealing" || c.Status != tt.status || !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("check %+v, want %s with %q", c, tt.status, tt.reason)
			}
		})
	}
}

// TestSealCheckFresh rotates the secret files beside a sealing check, as
// "rotate-secret --generate" does beside a serving gateway, and stores one
// more value: the check answering from its last count does not present
// that count as current, and a fresh count has the new numbers at once.
// The previous_secret advice agrees with it.
func TestSealCheckFresh(t *testing.T) {
	e := newKeyringEnv(t, nil)
	owner := e.owner(t)
	for i := range 3 {
		e.credential(t, owner, fmt.Sprintf("secret %d", i))
	}
	c := newSealCheck(t.Context(), e.keys)
	if got := c.check(); got.Status != mosaic.CheckOK ||
		!strings.HasPrefix(got.Reason, "all 3 sealed values are under key version 1") {
		t.Fatalf("first check %+v, want all 3 under version 1", got)
	}

	res, err := RotateSecret(t.Context(), e.cfg, RotateOptions{Generate: true})
	if err != nil || !res.Done() {
		t.Fatalf("RotateSecret = %+v, %v", res, err)
	}
	e.credential(t, owner, "secret 3")

	if got := c.check(); strings.Contains(got.Reason, "all 3") {
		t.Errorf("check after the rotation presents the last count: %+v", got)
	}
	got := c.fresh(t.Context(), 10*time.Second)
	want := "all 4 sealed values are under key version 2; the previous secret is no longer needed"
	if got.Status != mosaic.CheckWarn || !strings.HasPrefix(got.Reason, want) {
		t.Fatalf("fresh check %+v, want %q", got, want)
	}
	if advice := previousSecretAdvice(got); !strings.Contains(advice, "remove it now") {
		t.Errorf("previous secret advice %q after a finished rotation", advice)
	}
}

// TestSealCheckFreshWaitsForANewCount holds a count that began before the
// fresh check was asked for: the fresh check says it is still counting
// rather than wait past its bound, and once that count ends with its
// numbers, counts again instead of answering them.
func TestSealCheckFreshWaitsForANewCount(t *testing.T) {
	e := newKeyringEnv(t, nil)
	c := newSealCheck(t.Context(), e.keys)

	// A count under way that ends only when the test says so.
	c.mu.Lock()
	c.begun++
	earlier := &sealCount{n: c.begun, sealer: c.sealer, began: time.Now(),
		done: make(chan struct{})}
	c.run = earlier
	c.mu.Unlock()

	got := c.fresh(t.Context(), 50*time.Millisecond)
	if got.Name != checkSealing || got.Status != mosaic.CheckWarn ||
		!strings.Contains(got.Reason, "still counting") {
		t.Fatalf("fresh check behind a long count %+v, want still counting", got)
	}

	answer := make(chan mosaic.Check, 1)
	go func() { answer <- c.fresh(t.Context(), 10*time.Second) }()
	c.mu.Lock()
	c.last = mosaic.Check{Name: checkSealing, Status: mosaic.CheckOK, Reason: "the earlier count"}
	c.lastN, c.run = earlier.n, nil
	c.mu.Unlock()
	close(earlier.done)

	got = <-answer
	if got.Reason == "the earlier count" || !strings.HasPrefix(got.Reason, "all 0 sealed values") {
		t.Errorf("fresh check %+v, want a count begun after it was asked for", got)
	}
}

func TestPreviousSecretAdvice(t *testing.T) {
	one, two := strings.Repeat("1", 40), strings.Repeat("2", 40)
	both, err := seal.NewWithVersions(2, map[uint32][]byte{1: []byte(one), 2: []byte(two)})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := seal.NewWithVersions(2, map[uint32][]byte{2: []byte(two)})
	if err != nil {
		t.Fatal(err)
	}
	counts := func(pairs ...int64) []seal.VersionCount {
		var out []seal.VersionCount
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, seal.VersionCount{Table: mosaic.SealedCredentials,
				Version: uint32(pairs[i]), Count: pairs[i+1]})
		}
		return out
	}
	tests := []struct {
		name    string
		sealing mosaic.Check
		want    string
	}{
		{"rotation finished", judgeSealed(both, counts(2, 4)), "remove it now"},
		{"gateway without the previous secret", judgeSealed(alone, counts(2, 4)),
			"remove it now"},
		{"rotation to finish", judgeSealed(both, counts(1, 1, 2, 3)), "values still need it"},
		{"still counting", countingCheck("still counting the sealed values"),
			"remove it once every value"},
		{"no sealing check", mosaic.Check{}, "remove it once every value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := previousSecretAdvice(tt.sealing); !strings.Contains(got, tt.want) {
				t.Errorf("advice %q for %+v, want %q", got, tt.sealing, tt.want)
			}
		})
	}
}
