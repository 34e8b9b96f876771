// Package fedtest builds real gateways for the tests of the federation and
// httpapi packages: a SQLite store in a temporary directory, a sealer, the
// embedded CA, and a federation.Service that uses the CA and the store
// through fault-injecting wrappers, with helpers for the usual set-up
// steps. Nothing in it is a mock; faults are injected over the real parts.
package fedtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// Gateway is one real gateway's parts.
type Gateway struct {
	Dir    string
	DBPath string
	Store  *sqlstore.DB
	Sealer *seal.Sealer
	CA     *embedded.CA
	// FaultCA wraps CA; the service signs through it.
	FaultCA *FaultCA
	// Faults wraps Store; the service uses the store through it.
	Faults *FaultStore
	Svc    *federation.Service
	// Logs collects everything the service logs, as text.
	Logs *SyncBuffer
	// Logger writes to Logs.
	Logger *slog.Logger
	// PublicURL is the federation URL the service puts in enrollment URLs.
	PublicURL string
}

// Options adjust a Gateway.
type Options struct {
	// PublicURL defaults to https://127.0.0.1:8443.
	PublicURL string
	// Now is the service's clock; nil means time.Now.
	Now func() time.Time
	// CAOnServiceClock makes the embedded CA issue certificates on Now
	// too, so that a test that moves Now forward gets certificates valid
	// at the moved time.
	CAOnServiceClock bool
	// CertLifetime is the service's Config.CertLifetime.
	CertLifetime time.Duration
	// RenewOverlap is the service's Config.RenewOverlap.
	RenewOverlap time.Duration
}

// New builds a gateway whose database lives in t.TempDir().
func New(t testing.TB, opts Options) *Gateway {
	t.Helper()
	ctx := context.Background()
	g := &Gateway{Dir: t.TempDir(), Logs: &SyncBuffer{}, PublicURL: opts.PublicURL}
	if g.PublicURL == "" {
		g.PublicURL = "https://127.0.0.1:8443"
	}
	g.DBPath = filepath.Join(g.Dir, "mosaic.db")
	var err error
	if g.Store, err = sqlstore.OpenSQLite(ctx, g.DBPath); err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = g.Store.Close() })
	if g.Sealer, err = seal.New(bytes.Repeat([]byte("test-secret-"), 4)); err != nil {
		t.Fatalf("sealer: %v", err)
	}
	var caOpts embedded.Options
	if opts.CAOnServiceClock {
		caOpts.Now = opts.Now
	}
	if g.CA, err = embedded.Load(ctx, g.Store, g.Sealer, caOpts); err != nil {
		t.Fatalf("embedded CA: %v", err)
	}
	g.FaultCA = &FaultCA{CA: g.CA}
	g.Faults = &FaultStore{DB: g.Store}
	g.Logger = slog.New(slog.NewTextHandler(g.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g.Svc = federation.New(federation.Config{
		Store:     g.Faults,
		CA:        g.FaultCA,
		Sealer:    g.Sealer,
		Logger:    g.Logger,
		Now:       opts.Now,
		PublicURL: g.PublicURL,
		CAPin:     g.CA.Pin(),
		CAPEM:     pki.EncodeCerts(g.CA.Root()),

		CertLifetime: opts.CertLifetime,
		RenewOverlap: opts.RenewOverlap,
	})
	return g
}

// User creates a user named name.
func (g *Gateway) User(t testing.TB, name string) *mosaic.User {
	t.Helper()
	u, err := g.Svc.CreateUser(context.Background(), mosaic.User{
		Name: name, Email: mosaic.NewID() + "@example.com",
	})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// Scope returns a valid scope sharing resources with a row cap.
func Scope(maxRows int, resources ...mosaic.Resource) mosaic.Scope {
	return mosaic.Scope{Resources: resources, MaxRowsPerQuery: maxRows}
}

// Grant creates a pending grant of userID's data with a new inbound peer.
func (g *Gateway) Grant(t testing.TB, userID string, scope mosaic.Scope) *mosaic.Grant {
	t.Helper()
	gr, err := g.Svc.CreateGrant(context.Background(), federation.GrantInput{
		UserID: userID, PeerName: "Peer of " + userID, Scope: scope,
	})
	if err != nil {
		t.Fatalf("create grant: %v", err)
	}
	return gr
}

// Token issues an enrollment token for a grant.
func (g *Gateway) Token(t testing.TB, grantID string) *federation.IssuedToken {
	t.Helper()
	tok, err := g.Svc.IssueToken(context.Background(), grantID, "", 0)
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return tok
}

// NewCSR returns a fresh P-256 key and a CSR for it.
func NewCSR(t testing.TB) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, "test peer")
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// Enrollment is what a peer holds after enrolling.
type Enrollment struct {
	Grant    *mosaic.Grant
	Key      *ecdsa.PrivateKey
	Enrolled *federation.Enrolled
	Leaf     *x509.Certificate
}

// ClientCert returns the TLS client certificate of the enrollment: the
// leaf, its intermediates and its key.
func (e *Enrollment) ClientCert(t testing.TB) tls.Certificate {
	t.Helper()
	chain, err := pki.ParseCerts(e.Enrolled.CertChainPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Certificate{Certificate: [][]byte{e.Leaf.Raw}, PrivateKey: e.Key, Leaf: e.Leaf}
	for _, x := range chain {
		if !bytes.Equal(x.RawIssuer, x.RawSubject) {
			c.Certificate = append(c.Certificate, x.Raw)
		}
	}
	return c
}

// Chain returns the certificates the peer presents on a connection: its
// leaf, then the intermediates of its chain (the root left out).
func (e *Enrollment) Chain(t testing.TB) []*x509.Certificate {
	t.Helper()
	chain, err := pki.ParseCerts(e.Enrolled.CertChainPEM)
	if err != nil {
		t.Fatal(err)
	}
	out := []*x509.Certificate{e.Leaf}
	for _, x := range chain {
		if !bytes.Equal(x.RawIssuer, x.RawSubject) {
			out = append(out, x)
		}
	}
	return out
}

// Enroll creates a grant of userID's data and redeems a token for it
// through the service, returning the peer's side of it.
func (g *Gateway) Enroll(t testing.TB, userID string, scope mosaic.Scope) *Enrollment {
	t.Helper()
	gr := g.Grant(t, userID, scope)
	tok := g.Token(t, gr.ID)
	key, csr := NewCSR(t)
	out, err := g.Svc.Redeem(context.Background(), federation.RedeemInput{
		Token: tok.Token.Reveal(), CSRPEM: csr, Source: "127.0.0.1:1", RequestID: "enroll",
	})
	if err != nil {
		t.Fatalf("redeem: %v", err)
	}
	certs, err := pki.ParseCerts(out.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	gr, err = g.Svc.FindGrant(context.Background(), gr.ID)
	if err != nil {
		t.Fatal(err)
	}
	return &Enrollment{Grant: gr, Key: key, Enrolled: out, Leaf: certs[0]}
}

// Audit lists the audit events matching f, newest first.
func (g *Gateway) Audit(t testing.TB, f mosaic.AuditFilter) []*mosaic.AuditEvent {
	t.Helper()
	f.Limit = mosaic.MaxListLimit
	evs, err := g.Svc.ListAudit(context.Background(), f)
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	return evs
}

// FilesContain reports whether any file of the gateway's data directory
// (the database with its journal files) contains s.
func (g *Gateway) FilesContain(t testing.TB, s string) bool {
	t.Helper()
	entries, err := os.ReadDir(g.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(g.Dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(s)) {
			return true
		}
	}
	return false
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
