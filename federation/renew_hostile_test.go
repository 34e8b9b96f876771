package federation_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
)

// oidGrantID is the identity extension naming the grant.
var oidGrantID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}

// grantState is what a refused renewal must leave as it was: the grant's
// certificate state, the inbound peer's certificate and the number of
// certificates the CA signed.
type grantState struct {
	cert   mosaic.GrantCert
	peer   string
	signed int
}

// state reads the grant's and the peer's certificate state.
func (e *renewEnv) state(t *testing.T) grantState {
	t.Helper()
	ctx := context.Background()
	c, err := e.g.Store.GrantCert(ctx, e.peer.Grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.g.Store.FindPeer(ctx, e.peer.Grant.PeerID)
	if err != nil {
		t.Fatal(err)
	}
	return grantState{cert: *c, peer: p.CertSerial + "|" + p.CertPEM,
		signed: e.g.FaultCA.Signed()}
}

// same reports whether two states hold the same certificates.
func (s grantState) same(o grantState) bool {
	return s.cert.Serial == o.cert.Serial && s.cert.PrevSerial == o.cert.PrevSerial &&
		timeEq(s.cert.PrevUntil, o.cert.PrevUntil) && timeEq(s.cert.NotAfter, o.cert.NotAfter) &&
		s.peer == o.peer
}

// timeEq compares two optional times.
func timeEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// hostileCSR signs tmpl with key and returns the CSR in PEM.
func hostileCSR(t *testing.T, tmpl *x509.CertificateRequest, key any) string {
	t.Helper()
	return csrPEM(t, tmpl, key)
}

// TestRenewHostileCSRs sends renewals whose CSR a careless or hostile peer
// could send. Each is refused with a 400 before any certificate is signed,
// and changes nothing.
func TestRenewHostileCSRs(t *testing.T) {
	e := newRenewEnv(t)
	other := e.g.Enroll(t, e.ada.ID, fedtest.Scope(5, "tasks"))
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherGrant, err := pki.MarshalUTF8String(other.Grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, good := fedtest.NewCSR(t)
	tests := []struct {
		name string
		csr  string
		code string
	}{
		{"RSA key", rsaCSR(t), "csr_key_unsupported"},
		{"P-384 key", p384CSR(t), "csr_key_unsupported"},
		{"ed25519 key", hostileCSR(t, &x509.CertificateRequest{}, edKey),
			"csr_key_unsupported"},
		{"claims another grant", extensionCSR(t, pkix.Extension{Id: oidGrantID,
			Value: otherGrant}), "csr_forbidden_extension"},
		{"asks for CA rights", extensionCSR(t, pkix.Extension{
			Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true,
			Value: mustASN1(t, struct{ IsCA bool }{true})}), "csr_forbidden_extension"},
		{"bad signature", badSignatureCSR(t), "csr_signature_invalid"},
		{"two PEM blocks", good + good, "invalid_csr"},
		{"certificate PEM", pki.EncodeCerts(e.peer.Leaf), "invalid_csr"},
		{"trailing text", good + "junk", "invalid_csr"},
		{"empty", "", "invalid_csr"},
		{"huge", "-----BEGIN CERTIFICATE REQUEST-----\n" +
			strings.Repeat("QUFB", pki.MaxCSRPEM/4) + "\n-----END CERTIFICATE REQUEST-----\n",
			"invalid_csr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state(t)
			_, err := e.renew(e.peer.Chain(t), tc.csr)
			wantCode(t, err, 400, tc.code)
			if after := e.state(t); !after.same(before) || after.signed != before.signed {
				t.Fatalf("refused renewal changed %+v into %+v", before, after)
			}
			evs := e.renewEvents(t)
			if len(evs) == 0 || evs[0].Outcome != mosaic.OutcomeDenied ||
				evs[0].Reason != tc.code || evs[0].CertSerial != pki.SerialHex(e.peer.Leaf) {
				t.Fatalf("newest renewal event %+v, want the denial %s", evs, tc.code)
			}
		})
	}
	if err := e.read(e.peer.Chain(t)); err != nil {
		t.Fatalf("the peer no longer reads after refused renewals: %v", err)
	}
}

// TestRenewIgnoresRequestedNames sends a CSR asking for another subject,
// names and extensions: the certificate carries none of it, only the
// grant's identity and the peer's common name.
func TestRenewIgnoresRequestedNames(t *testing.T) {
	e := newRenewEnv(t)
	key, _ := fedtest.NewCSR(t)
	u, _ := url.Parse("spiffe://evil.example/admin")
	csr := hostileCSR(t, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "root", Organization: []string{"Evil"}},
		DNSNames:       []string{"gateway.b.example", "*.example"},
		EmailAddresses: []string{"admin@b.example"},
		IPAddresses:    []net.IP{net.ParseIP("127.0.0.1")},
		URIs:           []*url.URL{u},
		ExtraExtensions: []pkix.Extension{{
			Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 3}, Value: []byte{5, 0},
		}},
	}, key)
	out, err := e.renew(e.peer.Chain(t), csr)
	if err != nil {
		t.Fatalf("renewal with extra names: %v", err)
	}
	nu := renewed(t, e.peer.Grant, key, out)
	c := nu.Leaf
	if c.Subject.CommonName != e.peer.Leaf.Subject.CommonName ||
		len(c.Subject.Organization) != 0 || len(c.DNSNames)+len(c.EmailAddresses)+
		len(c.IPAddresses)+len(c.URIs) != 0 || c.IsCA {
		t.Fatalf("renewed certificate took requested names: %+v", c.Subject)
	}
	for _, ext := range c.Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 3}) {
			t.Fatal("renewed certificate carries an extension the CSR asked for")
		}
	}
	if id, err := pki.ParseIdentity(c); err != nil || id.GrantID != e.peer.Grant.ID ||
		id.SubjectUserID != e.ada.ID {
		t.Fatalf("renewed identity %+v, %v", id, err)
	}
}

// TestRenewChainKeepsTwoSerials renews many times in a row: after each
// renewal exactly two certificates speak for the grant, the newest and the
// one it replaced, whatever the peer did before, so a peer cannot keep a
// collection of valid certificates alive.
func TestRenewChainKeepsTwoSerials(t *testing.T) {
	e := newRenewEnv(t)
	held := []*fedtest.Enrollment{e.peer}
	for i := range 8 {
		key, csr := fedtest.NewCSR(t)
		// Alternate between the current and the replaced certificate.
		from := held[len(held)-1]
		if i%2 == 1 && len(held) > 1 {
			from = held[len(held)-2]
		}
		out, err := e.renew(from.Chain(t), csr)
		if err != nil {
			t.Fatalf("renewal %d: %v", i, err)
		}
		held = append(held, renewed(t, e.peer.Grant, key, out))

		valid := 0
		for _, h := range held {
			if e.read(h.Chain(t)) == nil {
				valid++
			}
		}
		if valid > 2 {
			t.Fatalf("after renewal %d, %d certificates read, want at most 2", i, valid)
		}
		if e.read(held[len(held)-1].Chain(t)) != nil {
			t.Fatalf("after renewal %d, the newest certificate does not read", i)
		}
	}

	// Once the overlap is over, only the newest.
	e.clock.advance(federation.DefaultRenewOverlap + time.Second)
	for i, h := range held {
		err := e.read(h.Chain(t))
		if i == len(held)-1 {
			if err != nil {
				t.Fatalf("newest certificate after the overlap: %v", err)
			}
			continue
		}
		wantCode(t, err, 403, "serial_superseded")
		_, csr := fedtest.NewCSR(t)
		_, err = e.renew(h.Chain(t), csr)
		wantCode(t, err, 403, "serial_superseded")
	}
}

// TestRenewRefusedForDeadGrants presents certificates whose grant can no
// longer be renewed: revoked, of a removed peer, expired, or the
// certificate itself expired. Each is refused, audited, and changes
// nothing.
func TestRenewRefusedForDeadGrants(t *testing.T) {
	ctx := context.Background()
	e := newRenewEnv(t)
	revoked := e.g.Enroll(t, e.ada.ID, fedtest.Scope(5, "tasks"))
	if _, err := e.g.Svc.Revoke(ctx, revoked.Grant.ID, "done"); err != nil {
		t.Fatal(err)
	}
	removed := e.g.Enroll(t, e.ada.ID, fedtest.Scope(5, "tasks"))
	if _, err := e.g.Svc.RemovePeer(ctx, removed.Grant.PeerID, "gone"); err != nil {
		t.Fatal(err)
	}
	expiring := enrollExpiring(t, e.g, e.ada.ID, e.clock.now().Add(time.Hour))
	expChain := currentChainOf(t, e, expiring)

	e.clock.advance(time.Hour + time.Second)
	tests := []struct {
		name  string
		certs []*x509.Certificate
		code  string
	}{
		{"revoked grant", revoked.Chain(t), "grant_not_active"},
		{"removed peer", removed.Chain(t), "grant_not_active"},
		{"grant past its expiry", expChain, "grant_expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signed := e.g.FaultCA.Signed()
			_, csr := fedtest.NewCSR(t)
			_, err := e.renew(tc.certs, csr)
			wantCode(t, err, 403, tc.code)
			if e.g.FaultCA.Signed() != signed {
				t.Fatal("a certificate was signed for a dead grant")
			}
			last := lastEvent(t, e.g)
			if last.Verb != mosaic.VerbRenew || last.Reason != tc.code ||
				last.CertSerial != pki.SerialHex(tc.certs[0]) {
				t.Fatalf("last audit event %+v", last)
			}
		})
	}

	// The peer's own certificate, expired: refused like any expired one.
	e.clock.advance(e.peer.Leaf.NotAfter.Sub(e.clock.now()) + time.Second)
	before := e.state(t)
	_, csr := fedtest.NewCSR(t)
	_, err := e.renew(e.peer.Chain(t), csr)
	wantCode(t, err, 403, "certificate_invalid")
	if !e.state(t).same(before) {
		t.Fatal("an expired certificate changed the grant")
	}
}

// currentChainOf is the chain of the certificate the grantor issued for
// grant, as the peer received it, read back through the retry of a token:
// here simply the inbound peer's current certificate and the CA chain.
func currentChainOf(t *testing.T, e *renewEnv, gr *mosaic.Grant) []*x509.Certificate {
	t.Helper()
	p, err := e.g.Store.FindPeer(context.Background(), gr.PeerID)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCerts(p.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	return append(certs, e.g.CA.Intermediate())
}

// TestRenewRacingRevoke revokes the grant while a renewal is inside the
// CA: the renewal is refused with the 403 a read would get, the grant
// keeps its old serial, and the certificate signed meanwhile reads
// nothing.
func TestRenewRacingRevoke(t *testing.T) {
	for _, how := range []string{"revoke", "remove peer"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			e := newRenewEnv(t)
			before := e.state(t)
			entered, release := e.g.FaultCA.Hold()
			key, csr := fedtest.NewCSR(t)
			var out *federation.Enrolled
			var err error
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err = e.renew(e.peer.Chain(t), csr)
			}()
			<-entered
			var stopErr error
			if how == "revoke" {
				_, stopErr = e.g.Svc.Revoke(ctx, e.peer.Grant.ID, "stop")
			} else {
				_, stopErr = e.g.Svc.RemovePeer(ctx, e.peer.Grant.PeerID, "stop")
			}
			release()
			wg.Wait()
			if stopErr != nil {
				t.Fatal(stopErr)
			}
			if err == nil {
				nu := renewed(t, e.peer.Grant, key, out)
				t.Fatalf("renewal racing a %s succeeded with serial %s", how,
					pki.SerialHex(nu.Leaf))
			}
			// The same refusal as the next request gets: retrying is useless.
			wantCode(t, err, 403, "grant_not_active")
			after := e.state(t)
			if after.cert.Serial != before.cert.Serial || after.cert.PrevSerial != "" {
				t.Fatalf("grant certificate after the race: %+v", after.cert)
			}
			last := lastEvent(t, e.g)
			if last.Verb != mosaic.VerbRenew || last.Outcome != mosaic.OutcomeDenied ||
				last.CertSerial == "" || last.CertSerial == before.cert.Serial {
				t.Fatalf("denied renewal event %+v, want the undelivered serial", last)
			}
			wantCode(t, e.read(e.peer.Chain(t)), 403, "grant_not_active")
		})
	}
}
