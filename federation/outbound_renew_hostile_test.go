package federation_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/remote"
)

// hostileGrantor is a grantor served over TLS whose renewal answers the
// test writes: every other route is the real federation API.
type hostileGrantor struct {
	*servedGrantor
	renew atomic.Pointer[http.HandlerFunc]
	// before, when set, runs before every request is served.
	before atomic.Pointer[func(*http.Request)]
}

// serveHostileGrantor starts a grantor whose renewal route runs the
// handler the test sets, or the real one while none is set.
func serveHostileGrantor(t *testing.T, opts fedtest.Options) *hostileGrantor {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	opts.PublicURL = "https://" + srv.Listener.Addr().String()
	g := fedtest.New(t, opts)
	serverCert, err := g.CA.ServerCertificate(context.Background(), g.Store, g.Sealer,
		"127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileGrantor{servedGrantor: &servedGrantor{Gateway: g, srv: srv}}
	real := httpapi.NewFederationHandler(g.Svc, g.CA.ChainPEM(), g.Logger,
		httpapi.WithEnrollmentLimit(httpapi.EnrollmentLimit{PerMinute: -1}))
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := h.before.Load(); f != nil {
			(*f)(r)
		}
		if f := h.renew.Load(); f != nil && r.URL.Path == federation.RenewPath {
			(*f)(w, r)
			return
		}
		real.ServeHTTP(w, r)
	})
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   httpapi.FederationClientAuth,
		Certificates: []tls.Certificate{*serverCert},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return h
}

// answerWith makes the grantor answer renewals with what answer builds
// from the request's CSR.
func (h *hostileGrantor) answerWith(t *testing.T,
	answer func(csr *x509.CertificateRequest) (int, string)) {
	f := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ CSRPEM string }
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &req)
		csr, err := pki.ParseCSR(req.CSRPEM)
		if err != nil {
			t.Errorf("the renewal's CSR: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		status, text := answer(csr)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, text)
	})
	h.renew.Store(&f)
}

// sign signs tmpl for pub with the grantor's real intermediate key.
func (h *hostileGrantor) sign(t *testing.T, tmpl *x509.Certificate, pub any) *x509.Certificate {
	t.Helper()
	sk, err := h.Store.GetKey(context.Background(), embedded.KeyIntermediate)
	if err != nil {
		t.Fatal(err)
	}
	der, err := h.Sealer.Open(sk.SealedKey, []byte("mosaic/key/"+embedded.KeyIntermediate))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := pki.ParsePrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, h.CA.Intermediate(), pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// enrollJSON is an enrollment-shaped answer.
func enrollJSON(cert string, chain string, ca string) string {
	data, _ := json.Marshal(map[string]string{"certPem": cert, "certChainPem": chain,
		"caPem": ca})
	return string(data)
}

// TestRenewOutboundHostileGrantor has the grantor answer A's renewal with
// certificates A must not take: for another grant, for a key other than
// the one A asked for, with CA rights, expired, from another CA, and with
// answers that are not certificates at all. A refuses each, keeps its
// certificate and key, counts the failure, and still reads.
func TestRenewOutboundHostileGrantor(t *testing.T) {
	c := &clock{}
	b := serveHostileGrantor(t, fedtest.Options{Now: c.now, CAOnServiceClock: true})
	a := fedtest.New(t, fedtest.Options{Now: c.now})
	ada := b.User(t, "Ada")
	if _, err := b.Svc.CreateTask(context.Background(),
		mosaic.Task{UserID: ada.ID, Title: "t"}); err != nil {
		t.Fatal(err)
	}
	grant := b.Grant(t, ada.ID, fedtest.Scope(5, "tasks"))
	e := &outboundEnv{a: a, b: b.servedGrantor, clock: c, grant: grant}
	e.peerID = enrollOverTLS(t, a, b.servedGrantor, grant)
	id := mosaic.Identity{GrantID: grant.ID, SubjectUserID: ada.ID}

	for _, tc := range hostileAnswers(t, b, c, id) {
		t.Run(tc.name, func(t *testing.T) {
			before := e.peer(t)
			stored, _ := a.Store.FindPeer(context.Background(), e.peerID)
			b.answerWith(t, tc.answer)
			_, err := a.Svc.RenewOutbound(context.Background(), e.peerID)
			if got := mosaic.ErrorCode(err); got != tc.code {
				t.Fatalf("renewal with a hostile answer: %v, want %s", err, tc.code)
			}
			if s := federation.StatusOf(err); s != http.StatusBadGateway {
				t.Errorf("status %d, want 502", s)
			}
			after, _ := a.Store.FindPeer(context.Background(), e.peerID)
			if after.CertSerial != before.CertSerial || after.CertPEM != stored.CertPEM ||
				string(after.SealedKey) != string(stored.SealedKey) ||
				after.RenewFailures != before.RenewFailures+1 {
				t.Fatalf("peer after a hostile answer: serial %s, failures %d", after.CertSerial,
					after.RenewFailures)
			}
			e.assertReads(t)
		})
	}

	// Once the grantor answers properly again, A renews.
	b.renew.Store(nil)
	before := e.peer(t)
	if _, err := a.Svc.RenewOutbound(context.Background(), e.peerID); err != nil {
		t.Fatalf("renewal with a proper answer: %v", err)
	}
	e.assertRenewed(t, before, e.peer(t))
	e.assertReads(t)
}

// TestRemoveOutboundPeerDuringQuery removes our outbound peer while a
// query to it is under way: the query ends without a server error, and
// from then on nothing is sent to the peer, its key is gone and neither
// a query nor a renewal can use it.
func TestRemoveOutboundPeerDuringQuery(t *testing.T) {
	ctx := context.Background()
	b := serveHostileGrantor(t, fedtest.Options{})
	a := fedtest.New(t, fedtest.Options{})
	ada := b.User(t, "Ada")
	grant := b.Grant(t, ada.ID, fedtest.Scope(5, "tasks"))
	peerID := enrollOverTLS(t, a, b.servedGrantor, grant)

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func(r *http.Request) {
		if r.URL.Path == "/api/federation/v1/tasks" {
			once.Do(func() { close(entered) })
			<-release
		}
	}
	b.before.Store(&hold)
	var status int
	var queryErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		var resp *remote.Response
		resp, queryErr = a.Svc.QueryPeer(ctx, peerID, "tasks", nil)
		if resp != nil {
			status = resp.Status
		}
	}()
	<-entered
	if _, err := a.Svc.RemovePeer(ctx, peerID, "mid-query"); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	if queryErr != nil && federation.StatusOf(queryErr) >= 500 {
		t.Fatalf("the query under way: %v", queryErr)
	}
	if queryErr == nil && status != http.StatusOK {
		t.Fatalf("the query under way answered %d", status)
	}

	b.before.Store(nil)
	_, err := a.Svc.QueryPeer(ctx, peerID, "tasks", nil)
	wantCode(t, err, 409, "peer_removed")
	_, err = a.Svc.RenewOutbound(ctx, peerID)
	wantCode(t, err, 409, "peer_removed")
	p, err := a.Store.FindPeer(ctx, peerID)
	if err != nil || p.SealedKey != nil || p.CertPEM != "" || p.State != mosaic.PeerRevoked {
		t.Fatalf("removed peer = %+v, %v", p, err)
	}
}

// hostileAnswer is a renewal answer a hostile grantor builds from the
// CSR it got, and the code our renewal must fail with.
type hostileAnswer struct {
	name   string
	answer func(csr *x509.CertificateRequest) (int, string)
	code   string
}

// hostileAnswers are the answers of a grantor b, on clock c, to the
// renewal of the certificate of identity id.
func hostileAnswers(t *testing.T, b *hostileGrantor, c *clock,
	id mosaic.Identity) []hostileAnswer {
	stranger := fedtest.New(t, fedtest.Options{})
	root := pki.EncodeCerts(b.CA.Root())
	inter := pki.EncodeCerts(b.CA.Intermediate())
	otherKey, _ := fedtest.NewCSR(t)
	grant, ada := &mosaic.Grant{ID: id.GrantID}, &mosaic.User{ID: id.SubjectUserID}
	return []hostileAnswer{
		{"another grant", func(csr *x509.CertificateRequest) (int, string) {
			other := mosaic.Identity{GrantID: mosaic.NewID(), SubjectUserID: ada.ID}
			cert := b.sign(t, fedtest.ClientTemplate(t, other), csr.PublicKey)
			return 200, enrollJSON(pki.EncodeCerts(cert), inter, root)
		}, "renewal_identity_changed"},
		{"another subject user", func(csr *x509.CertificateRequest) (int, string) {
			other := mosaic.Identity{GrantID: grant.ID, SubjectUserID: mosaic.NewID()}
			cert := b.sign(t, fedtest.ClientTemplate(t, other), csr.PublicKey)
			return 200, enrollJSON(pki.EncodeCerts(cert), inter, root)
		}, "renewal_identity_changed"},
		{"another key", func(*x509.CertificateRequest) (int, string) {
			cert := b.sign(t, fedtest.ClientTemplate(t, id), &otherKey.PublicKey)
			return 200, enrollJSON(pki.EncodeCerts(cert), inter, root)
		}, "renewal_cert_invalid"},
		{"CA rights", func(csr *x509.CertificateRequest) (int, string) {
			tmpl := fedtest.ClientTemplate(t, id)
			tmpl.IsCA, tmpl.KeyUsage = true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
			cert := b.sign(t, tmpl, csr.PublicKey)
			return 200, enrollJSON(pki.EncodeCerts(cert), inter, root)
		}, "renewal_cert_invalid"},
		{"expired", func(csr *x509.CertificateRequest) (int, string) {
			tmpl := fedtest.ClientTemplate(t, id)
			tmpl.NotBefore, tmpl.NotAfter = c.now().Add(-2*time.Hour), c.now().Add(-time.Hour)
			cert := b.sign(t, tmpl, csr.PublicKey)
			return 200, enrollJSON(pki.EncodeCerts(cert), inter, root)
		}, "renewal_cert_invalid"},
		{"another CA", func(csr *x509.CertificateRequest) (int, string) {
			f := stranger.Forge(t, fedtest.ClientTemplate(t, id))
			return 200, enrollJSON(pki.EncodeCerts(f.Cert),
				pki.EncodeCerts(stranger.CA.Intermediate()), pki.EncodeCerts(stranger.CA.Root()))
		}, "renewal_cert_invalid"},
		{"two certificates", func(csr *x509.CertificateRequest) (int, string) {
			cert := b.sign(t, fedtest.ClientTemplate(t, id), csr.PublicKey)
			return 200, enrollJSON(pki.EncodeCerts(cert, cert), inter, root)
		}, "renewal_cert_invalid"},
		{"no certificate", func(*x509.CertificateRequest) (int, string) {
			return 200, `{"caPem":"x"}`
		}, "invalid_renewal_answer"},
		{"not JSON", func(*x509.CertificateRequest) (int, string) {
			return 200, "<html>hello</html>"
		}, "invalid_renewal_answer"},
		{"server error page", func(*x509.CertificateRequest) (int, string) {
			return 500, "<html>oops</html>"
		}, "unexpected_answer"},
	}
}
