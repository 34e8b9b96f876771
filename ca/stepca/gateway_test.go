package stepca_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// gateway is a real grantor gateway whose peer certificates come from a
// CA under test: a SQLite store in a temporary directory, a sealer, the
// embedded CA for its own TLS server certificate and CA pin, and the
// federation service.
type gateway struct {
	store  *sqlstore.DB
	sealer *seal.Sealer
	own    *embedded.CA
	svc    *federation.Service
}

// newGateway builds a gateway that issues peer certificates with ca.
func newGateway(t *testing.T, ca mosaic.CA) *gateway {
	t.Helper()
	ctx := context.Background()
	g := &gateway{}
	var err error
	g.store, err = sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "mosaic.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = g.store.Close() })
	if g.sealer, err = seal.New(bytes.Repeat([]byte("step-ca-test-secret-"), 2)); err != nil {
		t.Fatal(err)
	}
	if g.own, err = embedded.Load(ctx, g.store, g.sealer, embedded.Options{}); err != nil {
		t.Fatalf("embedded CA: %v", err)
	}
	g.svc = federation.New(federation.Config{
		Store:     g.store,
		CA:        ca,
		Sealer:    g.sealer,
		PublicURL: "https://127.0.0.1:8443",
		CAPin:     g.own.Pin(),
		CAPEM:     pki.EncodeCerts(g.own.Root()),
	})
	return g
}

// pendingGrant makes a user with one task and a pending grant of their
// tasks with a new peer, and an enrollment token for it.
func (g *gateway) pendingGrant(t *testing.T) (*mosaic.Grant, string) {
	t.Helper()
	ctx := context.Background()
	u, err := g.svc.CreateUser(ctx, mosaic.User{Name: "Alice", Email: mosaic.NewID() + "@b.example"})
	if err != nil {
		t.Fatal(err)
	}
	task := mosaic.Task{UserID: u.ID, Title: "federated task"}
	if _, err := g.svc.CreateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	gr, err := g.svc.CreateGrant(ctx, federation.GrantInput{
		UserID: u.ID, PeerName: "Gateway A",
		Scope: mosaic.Scope{Resources: []mosaic.Resource{mosaic.ResourceTasks}, MaxRowsPerQuery: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := g.svc.IssueToken(ctx, gr.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return gr, tok.Token.Reveal()
}

// redeem redeems token with csr through the federation flow.
func (g *gateway) redeem(token, csr string) (*federation.Enrolled, error) {
	return g.svc.Redeem(context.Background(), federation.RedeemInput{
		Token: token, CSRPEM: csr, Source: "127.0.0.1:1", RequestID: "enroll-" + mosaic.NewID(),
	})
}

// grantState returns the status of a grant and the state of its peer.
func (g *gateway) grantState(t *testing.T, id string) (mosaic.GrantStatus, mosaic.PeerState) {
	t.Helper()
	gr, err := g.svc.FindGrant(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := g.svc.FindPeer(context.Background(), gr.PeerID)
	if err != nil {
		t.Fatal(err)
	}
	return gr.Status, p.State
}

// audit returns the audit events of a grant, newest first.
func (g *gateway) audit(t *testing.T, grantID string) []*mosaic.AuditEvent {
	t.Helper()
	evs, err := g.svc.ListAudit(context.Background(), mosaic.AuditFilter{GrantID: grantID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// serveFederation serves the federation API over TLS on loopback the way
// the gateway does: our embedded CA's server certificate, client
// certificates verified against the CA's client roots.
func (g *gateway) serveFederation(t *testing.T, ca mosaic.CA) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	serverCert, err := g.own.ServerCertificate(ctx, g.store, g.sealer, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	roots, err := ca.ClientRoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(httpapi.NewFederationHandler(g.svc, g.own.ChainPEM(),
		slog.New(slog.DiscardHandler)))
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pki.NewPool(roots...),
		Certificates: []tls.Certificate{*serverCert},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// peerClient is an HTTPS client that trusts our embedded CA alone and
// presents the enrolled certificate with its intermediates.
func (g *gateway) peerClient(t *testing.T, key *ecdsa.PrivateKey, leaf *x509.Certificate,
	chain []*x509.Certificate) *http.Client {
	t.Helper()
	cert := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, c := range chain {
		if !bytes.Equal(c.RawIssuer, c.RawSubject) {
			cert.Certificate = append(cert.Certificate, c.Raw)
		}
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pki.NewPool(g.own.Root()), Certificates: []tls.Certificate{cert},
		MinVersion: tls.VersionTLS12,
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// get reads url with c and returns the status and body.
func get(t *testing.T, c *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
