package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
)

// Timing of the sealing check. Counting reads the header of every sealed
// value, which /readyz, polled often, must not wait for: the check answers
// from its last count and counts again in the background once that is
// older than sealCheckEvery or the keys in use changed. Doctor asks for a
// fresh count instead, and waits sealFreshWait at most for it.
const (
	sealCheckEvery   = 30 * time.Second
	sealCountTimeout = time.Minute
	sealFreshWait    = 3 * time.Second
)

// checkSealing names the readiness check of the sealed values.
const checkSealing = "sealing"

// Codes of the sealing check's findings that doctor's previous_secret
// check acts on, so that the two agree.
const (
	sealCodeStillPrevious    = "values_under_previous_version"
	sealCodePreviousUnneeded = "previous_secret_unneeded"
)

// sealCheck is the readiness check of the sealed values. One count runs at
// a time; each keeps its result as the last.
type sealCheck struct {
	keys *keyring

	mu     sync.Mutex
	last   mosaic.Check
	sealer *seal.Sealer // the one last was judged for
	at     time.Time    // when the count behind last began
	lastN  uint64       // the number of the count behind last
	begun  uint64       // how many counts began
	run    *sealCount   // the count under way, nil when none
}

// sealCount is one count under way.
type sealCount struct {
	n      uint64
	sealer *seal.Sealer
	began  time.Time
	done   chan struct{} // closed once its result is kept
}

// newSealCheck makes the sealing check with its first count.
func newSealCheck(ctx context.Context, keys *keyring) *sealCheck {
	c := &sealCheck{keys: keys, at: time.Now()}
	c.sealer = keys.sealer()
	c.last = c.count(ctx, c.sealer)
	return c
}

// check reports whether every sealed value is under the key version the
// gateway seals with: ok when it is; a warning when values remain under an
// old version (a rotation to finish), under a version this gateway has no
// secret for, or when the previous secret is given though no value needs
// it any more. It never fails readiness: the gateway serves either way.
// It answers without waiting, from the last count; when the keys changed
// since, that count is not shown, and the check says a count is running.
func (c *sealCheck) check() mosaic.Check {
	c.mu.Lock()
	defer c.mu.Unlock()
	sealer := c.keys.sealer()
	if (sealer != c.sealer || time.Since(c.at) >= sealCheckEvery) && c.run == nil {
		c.start(sealer)
	}
	if sealer != c.sealer {
		return countingCheck("the sealing secrets changed; counting the sealed values again")
	}
	return c.last
}

// fresh is check as of a count that began after fresh was called, so that
// it never reports a count from before a change it was asked to see (a
// rotation that just finished). It waits for a count already under way,
// then counts again. When wait or ctx ends first, the check says the count
// is still running: the count goes on, and a later call may find it done.
func (c *sealCheck) fresh(ctx context.Context, wait time.Duration) mosaic.Check {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	c.mu.Lock()
	need := c.begun + 1
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sealer := c.keys.sealer()
		if c.lastN >= need && c.sealer == sealer {
			last := c.last
			c.mu.Unlock()
			return last
		}
		run := c.run
		if run == nil {
			run = c.start(sealer)
		}
		c.mu.Unlock()

		select {
		case <-run.done:
			continue
		case <-timer.C:
		case <-ctx.Done():
		}
		return countingCheck("still counting the sealed values; check again shortly")
	}
}

// countingCheck is the sealing check while its count runs.
func countingCheck(reason string) mosaic.Check {
	return mosaic.Check{Name: checkSealing, Status: mosaic.CheckWarn, Reason: reason}
}

// start begins a count in the background; c.mu is held.
func (c *sealCheck) start(sealer *seal.Sealer) *sealCount {
	c.begun++
	run := &sealCount{n: c.begun, sealer: sealer, began: time.Now(), done: make(chan struct{})}
	c.run = run
	go c.finish(run)
	return run
}

// finish runs a count and keeps its result.
func (c *sealCheck) finish(run *sealCount) {
	ctx, cancel := context.WithTimeout(context.Background(), sealCountTimeout)
	defer cancel()
	result := c.count(ctx, run.sealer)
	c.mu.Lock()
	c.last, c.sealer, c.at, c.lastN, c.run = result, run.sealer, run.began, run.n, nil
	c.mu.Unlock()
	close(run.done)
}

// count counts the sealed values by version and judges them.
func (c *sealCheck) count(ctx context.Context, sealer *seal.Sealer) mosaic.Check {
	counts, err := seal.CountVersions(ctx, c.keys.store)
	if err != nil {
		return mosaic.Check{Name: checkSealing, Status: mosaic.CheckWarn,
			Reason: "cannot count the sealed values"}
	}
	return judgeSealed(sealer, counts)
}

// judgeSealed is the sealing check of counts as seen by sealer.
func judgeSealed(sealer *seal.Sealer, counts []seal.VersionCount) mosaic.Check {
	c := mosaic.Check{Name: checkSealing, Status: mosaic.CheckWarn}
	current := sealer.Current()
	var total, old, missing int64
	var oldVersions, missingVersions []uint32
	for _, vc := range counts {
		total += vc.Count
		switch {
		case vc.Version == current:
		case sealer.Holds(vc.Version):
			old += vc.Count
			oldVersions = appendOnce(oldVersions, vc.Version)
		default:
			missing += vc.Count
			missingVersions = appendOnce(missingVersions, vc.Version)
		}
	}
	switch {
	case missing > 0:
		c.Reason = fmt.Sprintf("%d sealed values are under key version %s, whose secret "+
			"this gateway was not given", missing, versionList(missingVersions))
	case old > 0:
		c.Code = sealCodeStillPrevious
		c.Reason = fmt.Sprintf("%d sealed values are still under the previous key version %s: "+
			"run mosaic gateway rotate-secret", old, versionList(oldVersions))
	case len(sealer.Versions()) > 1:
		c.Code = sealCodePreviousUnneeded
		c.Reason = fmt.Sprintf("all %d sealed values are under key version %d; "+
			"the previous secret is no longer needed: remove %s or %s", total, current,
			seal.EnvSecretPrevious, seal.PreviousSecretFileName)
	default:
		c.Status = mosaic.CheckOK
		c.Reason = fmt.Sprintf("all %d sealed values are under key version %d", total, current)
	}
	return c
}

// appendOnce appends v to vs unless it is there.
func appendOnce(vs []uint32, v uint32) []uint32 {
	if slices.Contains(vs, v) {
		return vs
	}
	return append(vs, v)
}

// versionList renders versions as "1" or "1, 3".
func versionList(vs []uint32) string {
	slices.Sort(vs)
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}
