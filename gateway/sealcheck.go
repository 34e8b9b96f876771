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

// sealCheckEvery is how long the sealing check reuses its counts: counting
// reads the header of every sealed value, and /readyz may be polled often.
const sealCheckEvery = 30 * time.Second

// sealCheck is the readiness check of the sealed values, cached.
type sealCheck struct {
	keys *keyring

	mu     sync.Mutex
	at     time.Time
	sealer *seal.Sealer // the one the cached check was made for
	last   mosaic.Check
}

// check reports whether every sealed value is under the key version the
// gateway seals with: ok when it is; a warning when values remain under an
// old version (a rotation to finish), under a version this gateway has no
// secret for, or when the previous secret is given though no value needs
// it any more. It never fails readiness: the gateway serves either way.
func (c *sealCheck) check(ctx context.Context) mosaic.Check {
	c.mu.Lock()
	defer c.mu.Unlock()
	sealer := c.keys.sealer()
	if sealer == c.sealer && time.Since(c.at) < sealCheckEvery {
		return c.last
	}
	counts, err := seal.CountVersions(ctx, c.keys.store)
	if err != nil {
		return mosaic.Check{Name: "sealing", Status: mosaic.CheckWarn,
			Reason: "cannot count the sealed values"}
	}
	c.at, c.sealer, c.last = time.Now(), sealer, judgeSealed(sealer, counts)
	return c.last
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
