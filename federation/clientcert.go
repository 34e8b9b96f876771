package federation

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// DefaultRootsRefresh is how long the service keeps the CA's client roots
// before asking the CA for them again.
const DefaultRootsRefresh = 5 * time.Minute

// maxSerialHex bounds the serial of a presented certificate that goes to
// the audit trail: RFC 5280 serials are at most 20 octets. A longer one
// comes from a certificate we did not issue and is left out.
const maxSerialHex = 40

// Reasons a client certificate is refused, in the message of a 403
// "certificate_invalid".
const (
	certUntrusted   = "untrusted issuer"
	certExpired     = "expired"
	certNotYetValid = "not yet valid"
	certWrongUsage  = "wrong usage"
	certIsCA        = "CA certificate"
)

// rootsCache keeps the pool of the CA's client roots, fetched again once it
// is older than the refresh interval.
type rootsCache struct {
	mu      sync.Mutex
	pool    *x509.CertPool
	fetched time.Time
}

// clientRoots returns the pool of roots client certificates must chain to.
// The CA is asked outside the lock, so a slow CA holds up only the requests
// that find the pool stale, not every read. When the CA cannot be asked, a
// pool fetched before is used for another interval and the failure
// logged; without one the request is refused as 503 "ca_unavailable".
func (s *Service) clientRoots(ctx context.Context) (*x509.CertPool, error) {
	c, now := s.roots, s.now()
	c.mu.Lock()
	pool, age := c.pool, now.Sub(c.fetched)
	c.mu.Unlock()
	if pool != nil && age >= 0 && age < s.cfg.RootsRefresh {
		return pool, nil
	}

	roots, err := s.cfg.CA.ClientRoots(ctx)
	if err == nil && len(roots) == 0 {
		err = errors.New("the CA named no client roots")
	}
	if err != nil {
		if pool != nil {
			// Ask again after another interval, not on every request.
			s.log.WarnContext(ctx, "client roots refresh failed; keeping the previous ones",
				slog.String(logRequestID, RequestID(ctx)), slog.Any(logError, err))
			c.mu.Lock()
			c.fetched = now
			c.mu.Unlock()
			return pool, nil
		}
		return nil, mosaic.WrapError(mosaic.KindUnavailable, "ca_unavailable",
			"client certificates cannot be checked now", err)
	}
	pool = pki.NewPool(roots...)
	c.mu.Lock()
	c.pool, c.fetched = pool, now
	c.mu.Unlock()
	return pool, nil
}

// verifyClientCert checks the certificates a client presented on this
// request's connection, leaf first, then the intermediates it sent: the
// leaf must be a client certificate (extended key usage exactly client
// authentication, not a CA), valid at the service clock's time, and chain
// through the intermediates to one of the CA's client roots. No certificate
// is 401 "client_certificate_required"; any other failure is 403
// "certificate_invalid" whose message names the reason.
func (s *Service) verifyClientCert(ctx context.Context,
	certs []*x509.Certificate) (*x509.Certificate, error) {
	if len(certs) == 0 || certs[0] == nil {
		return nil, mosaic.Errorf(mosaic.KindUnauthorized, "client_certificate_required",
			"a client certificate is required")
	}
	leaf, now := certs[0], s.now()
	if reason := leafProblem(leaf, now); reason != "" {
		return nil, certInvalid(reason, nil)
	}

	roots, err := s.clientRoots(ctx)
	if err != nil {
		return nil, err
	}
	key := chainKey(certs)
	if s.chains.verified(key, roots, now) {
		return leaf, nil
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		if c != nil {
			intermediates.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, certInvalid(chainProblem(err), err)
	}
	s.chains.add(key, roots, chains[0])
	return leaf, nil
}

// leafProblem returns what makes leaf on its own unfit to authenticate a
// client at now, or "".
func leafProblem(leaf *x509.Certificate, now time.Time) string {
	switch {
	case leaf.BasicConstraintsValid && leaf.IsCA,
		leaf.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0:
		return certIsCA
	case len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth ||
		len(leaf.UnknownExtKeyUsage) != 0:
		return certWrongUsage
	case now.Before(leaf.NotBefore):
		return certNotYetValid
	case now.After(leaf.NotAfter):
		return certExpired
	}
	return ""
}

// chainProblem names why a chain did not verify.
func chainProblem(err error) string {
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		switch invalid.Reason {
		case x509.Expired:
			return certExpired
		case x509.IncompatibleUsage:
			return certWrongUsage
		}
	}
	return certUntrusted
}

// certInvalid is the 403 of a client certificate that does not verify.
func certInvalid(reason string, err error) error {
	return mosaic.WrapError(mosaic.KindForbidden, "certificate_invalid",
		"client certificate invalid: "+reason, err)
}

// presentedSerial returns the serial of a presented certificate for the
// audit trail, or "" when there is none or it is longer than any serial we
// issue.
func presentedSerial(certs []*x509.Certificate) string {
	if len(certs) == 0 || certs[0] == nil || certs[0].SerialNumber == nil {
		return ""
	}
	serial := pki.SerialHex(certs[0])
	if len(serial) > maxSerialHex {
		return ""
	}
	return serial
}
