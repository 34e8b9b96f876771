package federation_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
)

// renewEnv is a grantor on a clock the test moves, its CA issuing on that
// clock too, with a peer enrolled for Ada's tasks.
type renewEnv struct {
	g     *fedtest.Gateway
	clock *clock
	ada   *mosaic.User
	peer  *fedtest.Enrollment
}

// newRenewEnv enrolls a peer for Ada's tasks on a new grantor.
func newRenewEnv(t *testing.T) *renewEnv {
	t.Helper()
	c := &clock{}
	g := fedtest.New(t, fedtest.Options{Now: c.now, CAOnServiceClock: true})
	e := &renewEnv{g: g, clock: c, ada: g.User(t, "Ada")}
	if _, err := g.Svc.CreateTask(context.Background(),
		mosaic.Task{UserID: e.ada.ID, Title: "t"}); err != nil {
		t.Fatal(err)
	}
	e.peer = g.Enroll(t, e.ada.ID, fedtest.Scope(5, "tasks"))
	return e
}

// renew asks for a new certificate presenting certs, for csr.
func (e *renewEnv) renew(certs []*x509.Certificate, csr string) (*federation.Enrolled, error) {
	return e.g.Svc.Renew(context.Background(), federation.RenewInput{
		Certs: certs, CSRPEM: csr, Source: source, RequestID: "req-" + mosaic.NewID(),
	})
}

// read reads Ada's tasks presenting certs.
func (e *renewEnv) read(certs []*x509.Certificate) error {
	_, err := e.g.Svc.ReadFederated(context.Background(), federation.FederatedRequest{
		Certs: certs, Resource: "tasks", Source: source, RequestID: "req-" + mosaic.NewID(),
	})
	return err
}

// renewed is the enrollment of a certificate a renewal returned for key.
func renewed(t *testing.T, grant *mosaic.Grant, key *ecdsa.PrivateKey,
	out *federation.Enrolled) *fedtest.Enrollment {
	t.Helper()
	certs, err := pki.ParseCerts(out.CertPEM)
	if err != nil || len(certs) != 1 {
		t.Fatalf("renewed certPem: %d certificates, %v", len(certs), err)
	}
	return &fedtest.Enrollment{Grant: grant, Key: key, Enrolled: out, Leaf: certs[0]}
}

// currentSerial returns the grant's current serial on the grantor.
func (e *renewEnv) currentSerial(t *testing.T) string {
	t.Helper()
	c, err := e.g.Store.GrantCert(context.Background(), e.peer.Grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c.Serial
}

// renewEvents returns the renewal audit events of the peer's grant, newest
// first.
func (e *renewEnv) renewEvents(t *testing.T) []*mosaic.AuditEvent {
	t.Helper()
	var out []*mosaic.AuditEvent
	for _, ev := range e.g.Audit(t, mosaic.AuditFilter{GrantID: e.peer.Grant.ID}) {
		if ev.Verb == mosaic.VerbRenew {
			out = append(out, ev)
		}
	}
	return out
}

func TestRenew(t *testing.T) {
	e := newRenewEnv(t)
	old := e.peer
	key, csr := fedtest.NewCSR(t)
	out, err := e.renew(old.Chain(t), csr)
	if err != nil {
		t.Fatal(err)
	}
	nu := renewed(t, old.Grant, key, out)

	// Same identity and common name, our new key, a new serial, a chain to
	// the CA, and the grantor's CA root.
	oldID, _ := pki.ParseIdentity(old.Leaf)
	newID, err := pki.ParseIdentity(nu.Leaf)
	if err != nil || newID != oldID {
		t.Fatalf("renewed identity %+v (%v), want %+v", newID, err, oldID)
	}
	if nu.Leaf.Subject.CommonName != old.Leaf.Subject.CommonName ||
		!key.PublicKey.Equal(nu.Leaf.PublicKey) ||
		nu.Leaf.SerialNumber.Cmp(old.Leaf.SerialNumber) == 0 {
		t.Fatalf("renewed certificate: CN %q, serial %s", nu.Leaf.Subject.CommonName,
			pki.SerialHex(nu.Leaf))
	}
	if out.CAPEM != pki.EncodeCerts(e.g.CA.Root()) {
		t.Error("caPem is not the grantor's root")
	}
	if _, err := nu.Leaf.Verify(x509.VerifyOptions{
		Roots: pki.NewPool(e.g.CA.Root()), Intermediates: pki.NewPool(nu.Chain(t)[1:]...),
		CurrentTime: e.clock.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		t.Fatalf("renewed certificate does not verify: %v", err)
	}
	if got := e.currentSerial(t); got != pki.SerialHex(nu.Leaf) {
		t.Fatalf("grant serial %s, want the renewed %s", got, pki.SerialHex(nu.Leaf))
	}
	if p, _ := e.g.Svc.FindPeer(context.Background(), old.Grant.PeerID); p.CertSerial !=
		pki.SerialHex(nu.Leaf) {
		t.Errorf("inbound peer serial %s after renewal", p.CertSerial)
	}
	evs := e.renewEvents(t)
	if len(evs) != 1 || evs[0].Outcome != mosaic.OutcomeAllowed || evs[0].Status != 200 ||
		evs[0].CertSerial != pki.SerialHex(nu.Leaf) || evs[0].SourceAddr != source ||
		evs[0].PeerID != old.Grant.PeerID || evs[0].SubjectUserID != e.ada.ID {
		t.Fatalf("renewal audit = %+v, want one allowed event with the new serial", evs)
	}

	// Both certificates read during the overlap; the old one no more after.
	if err := e.read(nu.Chain(t)); err != nil {
		t.Fatalf("read with the renewed certificate: %v", err)
	}
	e.clock.advance(federation.DefaultRenewOverlap - time.Minute)
	if err := e.read(old.Chain(t)); err != nil {
		t.Fatalf("read with the replaced certificate during the overlap: %v", err)
	}
	e.clock.advance(2 * time.Minute)
	wantCode(t, e.read(old.Chain(t)), 403, "serial_superseded")
	if err := e.read(nu.Chain(t)); err != nil {
		t.Fatalf("read with the renewed certificate after the overlap: %v", err)
	}
	_, csr2 := fedtest.NewCSR(t)
	_, err = e.renew(old.Chain(t), csr2)
	wantCode(t, err, 403, "serial_superseded")
}

// TestRenewWithReplacedCertificate is the peer whose renewal answer was
// lost: it renews again with its old certificate during the overlap and
// gets a certificate that replaces the undelivered one, without making the
// overlap longer.
func TestRenewWithReplacedCertificate(t *testing.T) {
	e := newRenewEnv(t)
	old := e.peer
	_, csr := fedtest.NewCSR(t)
	lost, err := e.renew(old.Chain(t), csr)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.advance(5 * time.Minute)
	key, csr := fedtest.NewCSR(t)
	out, err := e.renew(old.Chain(t), csr)
	if err != nil {
		t.Fatalf("renewal with the replaced certificate during the overlap: %v", err)
	}
	nu := renewed(t, old.Grant, key, out)
	undelivered := renewed(t, old.Grant, nil, lost)
	if err := e.read(nu.Chain(t)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.read(undelivered.Chain(t)), 403, "serial_superseded")
	e.clock.advance(federation.DefaultRenewOverlap - 4*time.Minute)
	wantCode(t, e.read(old.Chain(t)), 403, "serial_superseded")
}

func TestRenewRefusals(t *testing.T) {
	e := newRenewEnv(t)
	other := e.g.Enroll(t, e.ada.ID, fedtest.Scope(5, "tasks"))
	_, csr := fedtest.NewCSR(t)
	sameKeyCSR, err := pki.NewCSR(e.peer.Key, "peer")
	if err != nil {
		t.Fatal(err)
	}
	stranger := fedtest.New(t, fedtest.Options{})
	forged := e.g.Forge(t, fedtest.ClientTemplate(t, mosaic.Identity{
		GrantID: e.peer.Grant.ID, SubjectUserID: e.ada.ID,
	}))
	tests := []struct {
		name   string
		certs  []*x509.Certificate
		csr    string
		status int
		code   string
	}{
		{"same key", e.peer.Chain(t), sameKeyCSR, 400, "renewal_key_reused"},
		{"no certificate", nil, csr, 401, "client_certificate_required"},
		{"garbage CSR", e.peer.Chain(t), "junk", 400, "invalid_csr"},
		{"certificate not the grant's", forged.Chain(e.g.CA.Intermediate()), csr, 403,
			"serial_superseded"},
		{"certificate of another CA", stranger.Forge(t, fedtest.ClientTemplate(t, mosaic.Identity{
			GrantID: e.peer.Grant.ID, SubjectUserID: e.ada.ID,
		})).Chain(stranger.CA.Intermediate()), csr, 403, "certificate_invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.currentSerial(t)
			_, err := e.renew(tc.certs, tc.csr)
			wantCode(t, err, tc.status, tc.code)
			if got := e.currentSerial(t); got != before {
				t.Fatalf("refused renewal changed the serial to %s", got)
			}
			evs := e.renewEvents(t)
			audited := len(evs) > 0 && evs[0].Outcome == mosaic.OutcomeDenied &&
				evs[0].Reason == tc.code
			if tc.certs != nil && tc.code != "certificate_invalid" && !audited {
				t.Fatalf("renewal events %+v, want the denial %s first", evs, tc.code)
			}
		})
	}

	// A revoked grant renews no more, and the refusal is audited.
	if _, err := e.g.Svc.Revoke(context.Background(), other.Grant.ID, "done"); err != nil {
		t.Fatal(err)
	}
	_, err = e.renew(other.Chain(t), csr)
	wantCode(t, err, 403, "grant_not_active")
	last := lastEvent(t, e.g)
	if last.Verb != mosaic.VerbRenew || last.Outcome != mosaic.OutcomeDenied ||
		last.Reason != "grant_not_active" || last.GrantID != other.Grant.ID ||
		last.CertSerial != pki.SerialHex(other.Leaf) || last.Status != 403 {
		t.Fatalf("last audit event %+v, want the denied renewal of the revoked grant", last)
	}
}

// TestRenewConcurrentOneWinner has two renewals with the same certificate
// authorized before either is stored: the first to store wins, the other
// is 409 and changes nothing.
func TestRenewConcurrentOneWinner(t *testing.T) {
	e := newRenewEnv(t)
	entered, release := e.g.FaultCA.Hold()
	var slow error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, csr := fedtest.NewCSR(t)
		_, slow = e.renew(e.peer.Chain(t), csr)
	}()
	<-entered

	key, csr := fedtest.NewCSR(t)
	out, err := e.renew(e.peer.Chain(t), csr)
	if err != nil {
		release()
		wg.Wait()
		t.Fatalf("the renewal that was not held: %v", err)
	}
	release()
	wg.Wait()
	wantCode(t, slow, 409, "certificate_replaced")
	winner := renewed(t, e.peer.Grant, key, out)
	if got := e.currentSerial(t); got != pki.SerialHex(winner.Leaf) {
		t.Fatalf("grant serial %s, want the winner's", got)
	}
	allowed := 0
	for _, ev := range e.renewEvents(t) {
		if ev.Outcome == mosaic.OutcomeAllowed {
			allowed++
		} else if ev.Reason != "certificate_replaced" || ev.CertSerial == "" {
			t.Errorf("denied renewal event %+v", ev)
		}
	}
	if allowed != 1 {
		t.Fatalf("%d allowed renewal events, want 1", allowed)
	}
}

// TestReenrollExpired lets the peer's certificate expire: it can no
// longer renew or read, a token for its active grant can be issued only
// now, and redeeming it gives the grant a new certificate with the same
// identity.
func TestReenrollExpired(t *testing.T) {
	e := newRenewEnv(t)
	ctx := context.Background()
	old := e.peer
	_, err := e.g.Svc.IssueToken(ctx, old.Grant.ID, "", time.Minute)
	wantCode(t, err, 409, "grant_not_pending")

	e.clock.advance(old.Leaf.NotAfter.Sub(e.clock.now()) + time.Second)
	_, csr := fedtest.NewCSR(t)
	_, err = e.renew(old.Chain(t), csr)
	wantCode(t, err, 403, "certificate_invalid")
	wantCode(t, e.read(old.Chain(t)), 403, "certificate_invalid")

	tok, err := e.g.Svc.IssueToken(ctx, old.Grant.ID, old.Grant.PeerID, time.Minute)
	if err != nil {
		t.Fatalf("token for an active grant with an expired certificate: %v", err)
	}
	key, csr := fedtest.NewCSR(t)
	out, err := redeem(e.g, tok.Token.Reveal(), csr)
	if err != nil {
		t.Fatalf("re-enrollment: %v", err)
	}
	nu := renewed(t, old.Grant, key, out)
	oldID, _ := pki.ParseIdentity(old.Leaf)
	if id, _ := pki.ParseIdentity(nu.Leaf); id != oldID {
		t.Fatalf("re-enrolled identity %+v, want %+v", id, oldID)
	}
	if got := e.currentSerial(t); got != pki.SerialHex(nu.Leaf) {
		t.Fatalf("grant serial %s after re-enrollment", got)
	}
	if err := e.read(nu.Chain(t)); err != nil {
		t.Fatalf("read after re-enrollment: %v", err)
	}
	g, _ := e.g.Svc.FindGrant(ctx, old.Grant.ID)
	if g.Status != mosaic.GrantActive || !g.ActivatedAt.Equal(*old.Grant.ActivatedAt) {
		t.Errorf("grant after re-enrollment = %+v", g)
	}

	// The token is spent: the same key gets the same certificate again, a
	// new key nothing; a new token is refused while the certificate is
	// valid.
	again, err := redeem(e.g, tok.Token.Reveal(), csr)
	if err != nil || again.CertPEM != out.CertPEM {
		t.Fatalf("retried re-enrollment with the same key: %v", err)
	}
	_, otherCSR := fedtest.NewCSR(t)
	_, err = redeem(e.g, tok.Token.Reveal(), otherCSR)
	wantCode(t, err, 410, "token_used")
	_, err = e.g.Svc.IssueToken(ctx, old.Grant.ID, "", time.Minute)
	wantCode(t, err, 409, "grant_not_pending")
	if bytes.Equal(nu.Leaf.Raw, old.Leaf.Raw) {
		t.Fatal("re-enrollment returned the old certificate")
	}
}
