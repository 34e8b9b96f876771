package federation

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/remote"
)

// KeypairInput describes a gateway we are about to enroll with: the names we
// give it, its federation base URL and the pin of its CA from the
// enrollment URL.
type KeypairInput struct {
	CommonName  string
	DisplayName string
	EndpointURL string
	CAPin       string
}

// CreateKeypair starts an outbound enrollment: it makes a P-256 key pair and
// a CSR, seals the private key bound to the new peer's id, and stores a
// pending outbound peer. It returns the peer id and the CSR in PEM.
func (s *Service) CreateKeypair(ctx context.Context, in KeypairInput) (string, string, error) {
	endpoint, err := validateKeypairInput(in)
	if err != nil {
		return "", "", err
	}
	key, err := pki.GenerateKey()
	if err != nil {
		return "", "", err
	}
	csrPEM, err := pki.NewCSR(key, in.CommonName)
	if err != nil {
		return "", "", err
	}

	// The key is sealed before it reaches the store, bound to the peer.
	id := mosaic.NewID()
	der, err := pki.EncodePrivateKey(key)
	if err != nil {
		return "", "", err
	}
	sealed, err := s.cfg.Sealer.Seal(der, peerKeyAAD(id))
	clear(der)
	if err != nil {
		return "", "", err
	}
	now := s.now()
	p := &mosaic.Peer{
		ID:          id,
		Role:        mosaic.PeerOutbound,
		CommonName:  in.CommonName,
		DisplayName: in.DisplayName,
		State:       mosaic.PeerPending,
		EndpointURL: endpoint,
		CAPin:       strings.ToLower(in.CAPin),
		SealedKey:   sealed,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if err := s.cfg.Store.CreatePeer(ctx, p); err != nil {
		return "", "", err
	}
	s.log.InfoContext(ctx, "outbound peer key pair created",
		slog.String(logRequestID, RequestID(ctx)),
		slog.String(logPeerID, id),
		slog.String("endpoint_url", endpoint))
	return id, csrPEM, nil
}

// validateKeypairInput checks the names, the pin and the endpoint URL, and
// returns the URL in its normal form.
func validateKeypairInput(in KeypairInput) (string, error) {
	if err := mosaic.ValidatePeerName("commonName", in.CommonName); err != nil {
		return "", err
	}
	if err := mosaic.ValidatePeerName("displayName", in.DisplayName); err != nil {
		return "", err
	}
	if _, err := pki.ParsePin(in.CAPin); err != nil {
		return "", err
	}
	return normalizeEndpoint(in.EndpointURL)
}

// normalizeEndpoint checks a remote gateway's base URL: https, a host, a
// port between 1 and 65535 if any, no user information, query or fragment,
// and an empty or "/" path. It returns "https://host[:port]".
func normalizeEndpoint(s string) (string, error) {
	u, err := url.Parse(s)
	bad := err != nil || u.Scheme != "https" || u.Opaque != "" || u.User != nil ||
		u.Hostname() == "" || strings.HasSuffix(u.Host, ":") ||
		(u.Path != "" && u.Path != "/") || u.RawPath != "" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(s, "#")
	if bad {
		return "", mosaic.Errorf(mosaic.KindInvalid, "invalid_endpointUrl",
			"endpointUrl: must be https://host[:port] with no path, query, fragment or user")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
			return "", mosaic.Errorf(mosaic.KindInvalid, "invalid_endpointUrl",
				"endpointUrl: the port must be a number from 1 to 65535")
		}
	}
	return "https://" + u.Host, nil
}

// peerKeyAAD binds a sealed outbound peer key to its peer.
func peerKeyAAD(id string) []byte {
	return mosaic.SealedRef{Table: mosaic.SealedPeerKeys, ID: id}.AAD()
}

// StoreOutboundCert finishes an outbound enrollment: it checks the
// certificate the remote gateway issued (our key, both identity extensions,
// a chain to a CA whose pin is the one stored at keypair time) and stores it
// with its chain and CA, making the peer active. A peer that is not a
// pending outbound peer is KindConflict "peer_not_pending"; a certificate
// that fails a check is KindInvalid.
func (s *Service) StoreOutboundCert(ctx context.Context, peerID, certPEM, chainPEM,
	caPEM string) (*mosaic.Peer, error) {
	p, err := s.FindPeer(ctx, peerID)
	if err != nil {
		return nil, err
	}
	if p.Role != mosaic.PeerOutbound || p.State != mosaic.PeerPending {
		return nil, mosaic.Errorf(mosaic.KindConflict, "peer_not_pending",
			"peer is not an outbound peer waiting for its certificate")
	}
	key, err := s.openPeerKey(p)
	if err != nil {
		return nil, err
	}
	leaf, anchors, _, err := s.verifyOutboundCert(p, certPEM, chainPEM, caPEM, key.Public())
	if err != nil {
		return nil, err
	}
	now := s.now()

	err = s.cfg.Store.ActivateOutboundPeer(ctx, mosaic.OutboundActivation{
		PeerID:          p.ID,
		CertPEM:         pki.EncodeCerts(leaf),
		CertChainPEM:    chainPEM,
		CertSerial:      pki.SerialHex(leaf),
		CertFingerprint: pki.Fingerprint(leaf),
		CertNotAfter:    leaf.NotAfter.UTC(),
		CAPEM:           pki.EncodeCerts(anchors...),
		RenewAt:         renewAt(leaf, now),
		At:              now,
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "outbound peer active",
		slog.String(logRequestID, RequestID(ctx)),
		slog.String(logPeerID, p.ID),
		slog.String(logSerial, pki.SerialHex(leaf)),
		slog.Time("not_after", leaf.NotAfter.UTC()))
	return s.FindPeer(ctx, p.ID)
}

// verifyOutboundCert parses an enrollment or renewal answer and checks the
// certificate against our public key pub and the pinned CA. It returns the
// leaf, the pinned CA certificate (the only one of caPEM that is kept) and
// the identity the certificate carries.
func (s *Service) verifyOutboundCert(p *mosaic.Peer, certPEM, chainPEM, caPEM string,
	pub crypto.PublicKey) (*x509.Certificate, []*x509.Certificate, mosaic.Identity, error) {
	var none mosaic.Identity
	leaves, err := pki.ParseCerts(certPEM)
	if err != nil {
		return nil, nil, none, err
	}
	if len(leaves) != 1 {
		return nil, nil, none, mosaic.Errorf(mosaic.KindInvalid, "invalid_certificate",
			"certPem: want exactly one certificate, got %d", len(leaves))
	}
	var chain []*x509.Certificate
	if strings.TrimSpace(chainPEM) != "" {
		if chain, err = pki.ParseCerts(chainPEM); err != nil {
			return nil, nil, none, err
		}
	}
	cas, err := pki.ParseCerts(caPEM)
	if err != nil {
		return nil, nil, none, err
	}
	digest, err := pki.ParsePin(p.CAPin)
	if err != nil {
		return nil, nil, none, storedError(p, "CA pin", err)
	}
	anchors := pinned(cas, digest)
	if len(anchors) == 0 {
		return nil, nil, none, mosaic.Errorf(mosaic.KindInvalid, "peer_cert_invalid",
			"caPem: not the CA pinned at enrollment")
	}

	id, err := pki.VerifyPeerCert(leaves[0], append(chain, anchors...), p.CAPin, pub, s.now())
	if err != nil {
		return nil, nil, none, err
	}
	return leaves[0], anchors, id, nil
}

// pinned returns the certificates of certs that have the pinned key.
func pinned(certs []*x509.Certificate, digest []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		if pki.MatchesPin(c, digest) {
			out = append(out, c)
		}
	}
	return out
}

// openPeerKey unseals an outbound peer's private key.
func (s *Service) openPeerKey(p *mosaic.Peer) (*ecdsa.PrivateKey, error) {
	der, err := s.cfg.Sealer.Open(p.SealedKey, peerKeyAAD(p.ID))
	if err != nil {
		return nil, err
	}
	defer clear(der)
	return pki.ParsePrivateKey(der)
}

// QueryPeer reads a resource from an active outbound peer over mutual TLS
// with the certificate it issued to us, trusting only its CA stored at
// enrollment. The peer's answer comes back as it is, denials included; the
// error is for a call that got no answer (KindUpstream "peer_unreachable")
// or a peer that cannot be queried (KindConflict "peer_removed" once it was
// removed, else "peer_not_active").
func (s *Service) QueryPeer(ctx context.Context, peerID, resource string,
	q url.Values) (*remote.Response, error) {
	p, err := s.FindPeer(ctx, peerID)
	if err != nil {
		return nil, err
	}
	if p.Role == mosaic.PeerOutbound && p.State == mosaic.PeerRevoked {
		return nil, mosaic.Errorf(mosaic.KindConflict, "peer_removed",
			"peer was removed: its key and certificate are gone; enroll again with a new enrollment URL")
	}
	if p.Role != mosaic.PeerOutbound || p.State != mosaic.PeerActive {
		return nil, mosaic.Errorf(mosaic.KindConflict, "peer_not_active",
			"peer is not an active outbound peer")
	}
	if !mosaic.Resource(resource).Valid() {
		return nil, mosaic.Errorf(mosaic.KindNotFound, "unknown_resource", "unknown resource")
	}
	creds, err := s.credentials(p)
	if err != nil {
		return nil, err
	}
	return remote.Query(ctx, *creds, resource, q)
}

// credentials assembles what a call to an outbound peer needs: our
// certificate with its intermediates and our key, and the peer's CA. The
// stored values were checked when they were stored, so a failure here is a
// fault of ours.
func (s *Service) credentials(p *mosaic.Peer) (*remote.Credentials, error) {
	leaves, err := pki.ParseCerts(p.CertPEM)
	if err != nil {
		return nil, storedError(p, "certificate", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leaves[0].Raw}, Leaf: leaves[0]}
	if strings.TrimSpace(p.CertChainPEM) != "" {
		chain, err := pki.ParseCerts(p.CertChainPEM)
		if err != nil {
			return nil, storedError(p, "certificate chain", err)
		}
		for _, c := range chain {
			if !isSelfSigned(c) {
				cert.Certificate = append(cert.Certificate, c.Raw)
			}
		}
	}
	key, err := s.openPeerKey(p)
	if err != nil {
		return nil, err
	}
	cert.PrivateKey = key

	roots, err := pki.ParseCerts(p.CAPEM)
	if err != nil {
		return nil, storedError(p, "CA", err)
	}
	return &remote.Credentials{BaseURL: p.EndpointURL, Cert: cert, Roots: pki.NewPool(roots...)}, nil
}

// storedError is the internal error of a stored value that does not parse.
// The cause is flattened so that its client-facing kind does not leak.
func storedError(p *mosaic.Peer, what string, err error) error {
	return fmt.Errorf("federation: stored %s of peer %s: %v", what, p.ID, err)
}

// isSelfSigned reports whether c is a root: issued by itself and signed by
// its own key. A client sends its intermediates, not the root.
func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignatureFrom(c) == nil
}
