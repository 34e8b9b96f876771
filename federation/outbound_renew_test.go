package federation_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/remote"
)

// servedGrantor is a grantor whose federation API listens on loopback TLS,
// as the gateway serves it.
type servedGrantor struct {
	*fedtest.Gateway
	srv *httptest.Server
}

// serveGrantor starts a grantor with opts, its federation API served over
// TLS on loopback until the test ends.
func serveGrantor(t *testing.T, opts fedtest.Options) *servedGrantor {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	opts.PublicURL = "https://" + srv.Listener.Addr().String()
	g := fedtest.New(t, opts)
	serverCert, err := g.CA.ServerCertificate(context.Background(), g.Store, g.Sealer,
		"127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = httpapi.NewFederationHandler(g.Svc, g.CA.ChainPEM(), g.Logger,
		httpapi.WithEnrollmentLimit(httpapi.EnrollmentLimit{PerMinute: -1}))
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   httpapi.FederationClientAuth,
		Certificates: []tls.Certificate{*serverCert},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &servedGrantor{Gateway: g, srv: srv}
}

// enrollOverTLS has a enroll with b for grant, over TLS as "peer add"
// does, and returns a's outbound peer id.
func enrollOverTLS(t *testing.T, a *fedtest.Gateway, b *servedGrantor, grant *mosaic.Grant) string {
	t.Helper()
	ctx := context.Background()
	u, err := remote.ParseEnrollmentURL(b.Token(t, grant.ID).EnrollmentURL())
	if err != nil {
		t.Fatal(err)
	}
	peerID, csr, err := a.Svc.CreateKeypair(ctx, federation.KeypairInput{
		CommonName: "gateway-a", DisplayName: "B", EndpointURL: u.BaseURL, CAPin: u.Pin,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := remote.Enroll(ctx, u, csr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Svc.StoreOutboundCert(ctx, peerID, res.CertPEM, res.CertChainPEM,
		res.CAPEM); err != nil {
		t.Fatal(err)
	}
	return peerID
}

// outboundEnv is a peer a enrolled over TLS with a grantor b, both on one
// clock the test moves.
type outboundEnv struct {
	a      *fedtest.Gateway
	b      *servedGrantor
	clock  *clock
	grant  *mosaic.Grant
	peerID string
}

func newOutboundEnv(t *testing.T) *outboundEnv {
	t.Helper()
	c := &clock{}
	e := &outboundEnv{clock: c,
		b: serveGrantor(t, fedtest.Options{Now: c.now, CAOnServiceClock: true}),
		a: fedtest.New(t, fedtest.Options{Now: c.now}),
	}
	ada := e.b.User(t, "Ada")
	if _, err := e.b.Svc.CreateTask(context.Background(),
		mosaic.Task{UserID: ada.ID, Title: "t"}); err != nil {
		t.Fatal(err)
	}
	e.grant = e.b.Grant(t, ada.ID, fedtest.Scope(5, "tasks"))
	e.peerID = enrollOverTLS(t, e.a, e.b, e.grant)
	return e
}

// peer returns a's outbound peer as the service shows it.
func (e *outboundEnv) peer(t *testing.T) *mosaic.Peer {
	t.Helper()
	p, err := e.a.Svc.FindPeer(context.Background(), e.peerID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// assertReads fails the test unless a reads Ada's tasks from b.
func (e *outboundEnv) assertReads(t *testing.T) {
	t.Helper()
	resp, err := e.a.Svc.QueryPeer(context.Background(), e.peerID, "tasks", nil)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("query after renewal: %v %+v", err, resp)
	}
}

// assertRenewed checks that p's certificate replaced was, that b's grant
// now has it, and that it carries the identity of the one before.
func (e *outboundEnv) assertRenewed(t *testing.T, before, p *mosaic.Peer) {
	t.Helper()
	if p.CertSerial == before.CertSerial || p.RenewFailures != 0 || p.RenewLastError != "" ||
		p.Renewal != mosaic.RenewalOK || p.RenewNextAt == nil {
		t.Fatalf("peer after renewal = %+v", p)
	}
	c, err := e.b.Store.GrantCert(context.Background(), e.grant.ID)
	if err != nil || c.Serial != p.CertSerial || c.PrevSerial != before.CertSerial {
		t.Fatalf("grantor's certificate state %+v (%v), want current %s", c, err, p.CertSerial)
	}
	oldCerts, _ := pki.ParseCerts(before.CertPEM)
	newCerts, _ := pki.ParseCerts(p.CertPEM)
	oldID, _ := pki.ParseIdentity(oldCerts[0])
	if id, err := pki.ParseIdentity(newCerts[0]); err != nil || id != oldID {
		t.Fatalf("renewed identity %+v (%v), want %+v", id, err, oldID)
	}
	stored, _ := e.a.Store.FindPeer(context.Background(), e.peerID)
	der, err := e.a.Sealer.Open(stored.SealedKey, []byte("mosaic/peer-key/"+e.peerID))
	if err != nil {
		t.Fatalf("unseal the new key: %v", err)
	}
	key, err := pki.ParsePrivateKey(der)
	if err != nil || !key.PublicKey.Equal(newCerts[0].PublicKey) {
		t.Fatalf("sealed key is not the renewed certificate's: %v", err)
	}
}

func TestRenewOutbound(t *testing.T) {
	e := newOutboundEnv(t)
	ctx := context.Background()
	p0 := e.peer(t)
	left := p0.CertNotAfter.Sub(e.clock.now())
	if p0.Renewal != mosaic.RenewalOK || p0.RenewNextAt == nil ||
		p0.RenewNextAt.Sub(e.clock.now()) < left*2/3-time.Minute {
		t.Fatalf("enrolled peer renewal %q at %v, want ok at two thirds of %s",
			p0.Renewal, p0.RenewNextAt, left)
	}
	if sum, err := e.a.Svc.RenewDue(ctx); err != nil || sum != (federation.RenewSummary{}) {
		t.Fatalf("RenewDue before the renewal is due: %+v, %v", sum, err)
	}

	// Renewed on demand, then when due.
	p1, err := e.a.Svc.RenewOutbound(ctx, e.peerID)
	if err != nil {
		t.Fatal(err)
	}
	e.assertRenewed(t, p0, p1)
	e.assertReads(t)

	e.clock.advance(p1.RenewNextAt.Sub(e.clock.now()) + time.Second)
	if got := e.peer(t).Renewal; got != mosaic.RenewalDue {
		t.Fatalf("renewal state %q past two thirds of the certificate's life, want due", got)
	}
	sum, err := e.a.Svc.RenewDue(ctx)
	if err != nil || sum.Renewed != 1 || sum.Failed != 0 {
		t.Fatalf("RenewDue when due: %+v, %v", sum, err)
	}
	p2 := e.peer(t)
	e.assertRenewed(t, p1, p2)
	e.assertReads(t)
	audits := 0
	for _, ev := range e.b.Audit(t, mosaic.AuditFilter{GrantID: e.grant.ID}) {
		if ev.Verb == mosaic.VerbRenew && ev.Outcome == mosaic.OutcomeAllowed {
			audits++
		}
	}
	if audits != 2 {
		t.Fatalf("grantor audited %d renewals, want 2", audits)
	}
}

// TestRenewOutboundRevoked renews after the grantor revoked the grant: the
// refusal is recorded on the peer, whose next attempt waits the longest
// backoff, and the grantor audits it.
func TestRenewOutboundRevoked(t *testing.T) {
	e := newOutboundEnv(t)
	ctx := context.Background()
	if _, err := e.b.Svc.Revoke(ctx, e.grant.ID, "over"); err != nil {
		t.Fatal(err)
	}
	before := e.peer(t)
	_, err := e.a.Svc.RenewOutbound(ctx, e.peerID)
	wantCode(t, err, 502, "renewal_refused")
	p := e.peer(t)
	if p.CertSerial != before.CertSerial || p.RenewFailures != 1 ||
		!strings.Contains(p.RenewLastError, "grant_not_active") ||
		p.Renewal != mosaic.RenewalFailing {
		t.Fatalf("peer after a refused renewal = %+v", p)
	}
	if d := p.RenewNextAt.Sub(e.clock.now()); d < federation.RenewRetryMax-time.Minute {
		t.Fatalf("next attempt in %s after a final refusal, want %s", d, federation.RenewRetryMax)
	}
	last := lastEvent(t, e.b.Gateway)
	if last.Verb != mosaic.VerbRenew || last.Reason != "grant_not_active" ||
		last.CertSerial != before.CertSerial {
		t.Fatalf("grantor's last audit event %+v", last)
	}
	if sum, _ := e.a.Svc.RenewDue(ctx); sum != (federation.RenewSummary{}) {
		t.Fatalf("RenewDue retried at once: %+v", sum)
	}
	if !strings.Contains(e.a.Logs.String(), "outbound certificate renewal failed") {
		t.Error("the failure is not logged")
	}
}

// TestRenewOutboundUnreachable retries a grantor that does not answer with
// a doubling backoff, never later than a third of the time the certificate
// has left, and clears the failures once it answers again.
func TestRenewOutboundUnreachable(t *testing.T) {
	e := newOutboundEnv(t)
	ctx := context.Background()
	e.b.srv.Listener.Close() // no new connections; the server stays to be restarted
	e.b.srv.CloseClientConnections()
	before := e.peer(t)
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute} {
		_, err := e.a.Svc.RenewOutbound(ctx, e.peerID)
		wantCode(t, err, 502, "peer_unreachable")
		p := e.peer(t)
		if p.RenewFailures != i+1 || !strings.HasPrefix(p.RenewLastError, "peer_unreachable: ") {
			t.Fatalf("failure %d recorded as %d %q", i+1, p.RenewFailures, p.RenewLastError)
		}
		if d := p.RenewNextAt.Sub(e.clock.now()); d < want-time.Second || d > want {
			t.Fatalf("failure %d: next attempt in %s, want %s", i+1, d, want)
		}
	}

	// Close to the end, the wait is a third of the time left.
	e.clock.advance(before.CertNotAfter.Sub(e.clock.now()) - 30*time.Second)
	_, err := e.a.Svc.RenewOutbound(ctx, e.peerID)
	wantCode(t, err, 502, "peer_unreachable")
	if d := e.peer(t).RenewNextAt.Sub(e.clock.now()); d > 10*time.Second || d < 9*time.Second {
		t.Fatalf("next attempt in %s with 30s left, want 10s", d)
	}

	// Expired: no attempt at all.
	e.clock.advance(time.Minute)
	_, err = e.a.Svc.RenewOutbound(ctx, e.peerID)
	wantCode(t, err, 409, "certificate_expired")
	if p := e.peer(t); p.Renewal != mosaic.RenewalExpired || p.RenewFailures != 4 {
		t.Fatalf("expired peer = %+v", p)
	}
	if sum, _ := e.a.Svc.RenewDue(ctx); sum != (federation.RenewSummary{}) {
		t.Fatalf("RenewDue tried an expired certificate: %+v", sum)
	}
}

// TestRenewOutboundOneAtATime renews one peer from two goroutines: the
// lease lets one through and refuses the other, which changes nothing.
func TestRenewOutboundOneAtATime(t *testing.T) {
	e := newOutboundEnv(t)
	ctx := context.Background()
	before := e.peer(t)
	entered, release := e.b.FaultCA.Hold()
	var first error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, first = e.a.Svc.RenewOutbound(ctx, e.peerID)
	}()
	<-entered
	_, second := e.a.Svc.RenewOutbound(ctx, e.peerID)
	release()
	wg.Wait()
	wantCode(t, second, 409, "renewal_in_progress")
	if first != nil {
		t.Fatalf("the renewal holding the lease: %v", first)
	}
	e.assertRenewed(t, before, e.peer(t))
}

func TestRenewOutboundRefusals(t *testing.T) {
	e := newOutboundEnv(t)
	ctx := context.Background()
	pending, _, err := e.a.Svc.CreateKeypair(ctx, keypairInput(e.b.CA.Pin()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.a.Svc.RenewOutbound(ctx, pending)
	wantCode(t, err, 409, "peer_not_active")
	_, err = e.a.Svc.RenewOutbound(ctx, mosaic.NewID())
	wantCode(t, err, 404, "peer_not_found")
	_, err = e.b.Svc.RenewOutbound(ctx, e.grant.PeerID)
	wantCode(t, err, 409, "peer_not_active")
	if p := e.peer(t); p.RenewFailures != 0 {
		t.Fatalf("refusals counted as failures: %+v", p)
	}
}
