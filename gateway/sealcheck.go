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
// older than sealCheckEvery or the keys in use changed.
const (
	sealCheckEvery   = 30 * time.Second
	sealCountTimeout = time.Minute
)

// sealCheck is the readiness check of the sealed values.
type sealCheck struct {
	keys *keyring

	mu       sync.Mutex
	last     mosaic.Check
	sealer   *seal.Sealer // the one last was judged for
	at       time.Time    // when last was made
	counting bool         // a count runs in the background
}

// newSealCheck makes the sealing check with its first count.
func newSealCheck(ctx context.Context, keys *keyring) *sealCheck {
	c := &sealCheck{keys: keys}
	sealer := keys.sealer()
	c.last, c.sealer, c.at = c.count(ctx, sealer), sealer, time.Now()
	return c
}

// check reports whether every sealed value is under the key version the
// gateway seals with: ok when it is; a warning when values remain under an
// old version (a rotation to finish), under a version this gateway has no
// secret for, or when the previous secret is given though no value needs
// it any more. It never fails readiness: the gateway serves either way.
func (c *sealCheck) check() mosaic.Check {
	c.mu.Lock()
	defer c.mu.Unlock()
	sealer := c.keys.sealer()
	if (sealer != c.sealer || time.Since(c.at) >= sealCheckEvery) && !c.counting {
		c.counting = true
		go c.recount(sealer)
	}
	return c.last
}

// recount counts again and keeps the result.
func (c *sealCheck) recount(sealer *seal.Sealer) {
	ctx, cancel := context.WithTimeout(context.Background(), sealCountTimeout)
	defer cancel()
	result := c.count(ctx, sealer)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last, c.sealer, c.at, c.counting = result, sealer, time.Now(), false
}

// count counts the sealed values by version and judges them.
func (c *sealCheck) count(ctx context.Context, sealer *seal.Sealer) mosaic.Check {
	counts, err := seal.CountVersions(ctx, c.keys.store)
	if err != nil {
		return mosaic.Check{Name: "sealing", Status: mosaic.CheckWarn,
			Reason: "cannot count the sealed values"}
	}
	return judgeSealed(sealer, counts)
}

// judgeSealed is the sealing check of counts as seen by sealer.
func judgeSealed(sealer *seal.Sealer, counts []seal.VersionCount) mosaic.Check {
	c := mosaic.Check{Name: "sealing", Status: mosaic.CheckWarn}
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
		c.Reason = fmt.Sprintf("%d sealed values are still under the previous key version "+
			"%s: run mosaic gateway rotate-secret", old, versionList(oldVersions))
	case len(sealer.Versions()) > 1:
		c.Reason = fmt.Sprintf("all %d sealed values are under key version %d; the previous "+
			"secret is no longer needed: remove %s or %s", total, current,
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
