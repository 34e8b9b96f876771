package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// anchorCacheSize bounds the CA chains VerifyIssued remembers.
const anchorCacheSize = 16

// issuerAnchors remembers, for each set of intermediates and roots VerifyIssued
// was given, the chain above the issuing intermediate once a certificate
// verified through it in full. Every CA backend hands the same chain with
// every certificate it issues, so after the first the signatures above
// the issuer need not be checked again: a certificate is then verified
// with its issuer as the only root, which checks its own signature, its
// issuer's rights and the extended key usage of both, while the cached
// full verification stands for the rest of the chain as long as every one
// of its certificates is valid.
//
// That is the same verification only where the rest of the chain puts no
// condition on each new certificate: a chain whose CA certificates carry
// name constraints, policy constraints or critical extensions the
// standard library does not handle is verified in full every time.
var issuerAnchors anchorCache

// anchorHits counts verifications that went through a remembered anchor,
// for the tests.
var anchorHits atomic.Int64

// anchorCache is a small map of anchored chains.
type anchorCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*anchor
}

// anchor is a chain above an issuing certificate that verified in full.
type anchor struct {
	issuer              *x509.Certificate
	pool                *x509.CertPool
	notBefore, notAfter time.Time
}

// anchorKey is the digest of intermediates and roots as given, in order.
func anchorKey(intermediates, roots []*x509.Certificate) [sha256.Size]byte {
	return CertsDigest(intermediates, roots)
}

// CertsDigest returns the SHA-256 of lists of certificates, each list and
// each certificate's DER preceded by its length, so that no two different
// lists have the same digest. Nil certificates are left out.
func CertsDigest(lists ...[]*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, list := range lists {
		binary.BigEndian.PutUint64(n[:], uint64(len(list)))
		h.Write(n[:])
		for _, c := range list {
			if c == nil {
				continue
			}
			binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
			h.Write(n[:])
			h.Write(c.Raw)
		}
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// lookup returns the anchor of key valid at now, or nil.
func (c *anchorCache) lookup(key [sha256.Size]byte, now time.Time) *anchor {
	c.mu.Lock()
	a := c.entries[key]
	c.mu.Unlock()
	if a == nil || now.Before(a.notBefore) || now.After(a.notAfter) {
		return nil
	}
	return a
}

// remember records the chain a certificate verified through in full
// (chain[0] is that certificate), when it can stand for later ones.
func (c *anchorCache) remember(key [sha256.Size]byte, chain []*x509.Certificate) {
	if len(chain) < 3 {
		return // issued by a root: nothing above the issuer to skip
	}
	for _, ca := range chain[1:] {
		if !anchorable(ca) {
			return
		}
	}
	a := &anchor{issuer: chain[1], pool: x509.NewCertPool()}
	a.pool.AddCert(chain[1])
	a.notBefore, a.notAfter = ValidityOf(chain[1:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= anchorCacheSize {
		c.entries = make(map[[sha256.Size]byte]*anchor)
	}
	c.entries[key] = a
}

// anchorable reports whether a CA certificate puts no condition on the
// certificates below it that verifying each of them would have to apply
// again: no name constraints, no policy constraints or mappings, and no
// critical extension the standard library leaves unhandled.
func anchorable(ca *x509.Certificate) bool {
	names := len(ca.PermittedDNSDomains) + len(ca.ExcludedDNSDomains) +
		len(ca.PermittedIPRanges) + len(ca.ExcludedIPRanges) +
		len(ca.PermittedEmailAddresses) + len(ca.ExcludedEmailAddresses) +
		len(ca.PermittedURIDomains) + len(ca.ExcludedURIDomains)
	policies := len(ca.PolicyMappings) > 0 ||
		ca.RequireExplicitPolicy > 0 || ca.RequireExplicitPolicyZero ||
		ca.InhibitPolicyMapping > 0 || ca.InhibitPolicyMappingZero ||
		ca.InhibitAnyPolicy > 0 || ca.InhibitAnyPolicyZero
	return names == 0 && !ca.PermittedDNSDomainsCritical && !policies &&
		len(ca.UnhandledCriticalExtensions) == 0
}

// verifyChainAnchored is verifyChain through a remembered anchor when
// there is one for intermediates and roots and cert verifies through it;
// otherwise (another issuer of the same name, say) it verifies in full and
// remembers the chain.
func verifyChainAnchored(cert *x509.Certificate, intermediates, roots []*x509.Certificate,
	now time.Time) error {
	key := anchorKey(intermediates, roots)
	if a := issuerAnchors.lookup(key, now); a != nil &&
		string(cert.RawIssuer) == string(a.issuer.RawSubject) {
		_, err := cert.Verify(x509.VerifyOptions{
			Roots:       a.pool,
			CurrentTime: now,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err == nil {
			anchorHits.Add(1)
			return nil
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         NewPool(roots...),
		Intermediates: NewPool(intermediates...),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}
	issuerAnchors.remember(key, chains[0])
	return nil
}

// ValidityOf returns when every certificate of chain is valid: from the
// latest notBefore to the earliest notAfter. chain must not be empty.
func ValidityOf(chain []*x509.Certificate) (notBefore, notAfter time.Time) {
	notBefore, notAfter = chain[0].NotBefore, chain[0].NotAfter
	for _, c := range chain[1:] {
		if c.NotBefore.After(notBefore) {
			notBefore = c.NotBefore
		}
		if c.NotAfter.Before(notAfter) {
			notAfter = c.NotAfter
		}
	}
	return notBefore, notAfter
}
