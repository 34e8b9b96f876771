package federation

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"

	"github.com/mosaicgw/mosaic/pki"
)

// chainCacheSize bounds the presented chains remembered as verified.
// Only chains that verified against our own CA get in, so the working set
// is the certificates we issued that are in use.
const chainCacheSize = 4096

// chainCache remembers client certificate chains that verified, so that a
// keep-alive client's every request does not pay for the same signature
// checks again. An entry holds for the roots pool it was verified against
// and within the validity window of the chain it verified through; a new
// pool (the CA's roots fetched again, as after a rotation) or a time
// outside the window verifies afresh. Everything else about a request (the
// leaf's own checks, its identity, the grant) is checked every time.
type chainCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]chainEntry
}

// chainEntry is one verified chain: the pool it chained to and when every
// certificate of that chain is valid.
type chainEntry struct {
	roots               *x509.CertPool
	notBefore, notAfter time.Time
}

// chainKey is the digest of the certificates as presented, in order.
func chainKey(certs []*x509.Certificate) [sha256.Size]byte { return pki.CertsDigest(certs) }

// verified reports whether certs verified before against roots through a
// chain valid at now.
func (c *chainCache) verified(key [sha256.Size]byte, roots *x509.CertPool,
	now time.Time) bool {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	return ok && e.roots == roots && !now.Before(e.notBefore) && !now.After(e.notAfter)
}

// add remembers that the certificates of key verified against roots
// through chain. A full cache starts again empty: simpler than an LRU, and
// only the chains in use come back.
func (c *chainCache) add(key [sha256.Size]byte, roots *x509.CertPool,
	chain []*x509.Certificate) {
	if len(chain) == 0 {
		return
	}
	e := chainEntry{roots: roots}
	e.notBefore, e.notAfter = pki.ValidityOf(chain)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= chainCacheSize {
		c.entries = make(map[[sha256.Size]byte]chainEntry)
	}
	c.entries[key] = e
}
