package remote

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// peer is an mTLS federation server on loopback that answers reads with the
// client certificate's common name, and counts requests and connections.
type peer struct {
	srv      *httptest.Server
	requests atomic.Int32
	conns    atomic.Int32
}

// startPeer starts a peer whose server certificate comes from serverCA and
// that requires client certificates from clientCA.
func startPeer(t *testing.T, serverCA, clientCA *testCA) *peer {
	t.Helper()
	p := &peer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/federation/v1/{resource}", func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		if r.PathValue("resource") == "credentials" {
			writeAnswer(w, http.StatusForbidden, apiError("resource_not_in_scope", "not shared"))
			return
		}
		writeAnswer(w, http.StatusOK, map[string]string{
			"cn":       r.TLS.PeerCertificates[0].Subject.CommonName,
			"resource": r.PathValue("resource"),
			"query":    r.URL.RawQuery,
		})
	})
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.Config.ErrorLog = quietLog()
	p.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			p.conns.Add(1)
		}
	}
	p.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCA.serverCert(t)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.pool(),
	}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

func TestQuerySendsClientCertificate(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "b server"), newTestCA(t, "b clients")
	p := startPeer(t, serverCA, clientCA)
	creds := Credentials{BaseURL: p.srv.URL, Cert: clientCA.clientCert(t, "peer-a"),
		Roots: serverCA.pool()}
	var c Client
	defer c.CloseIdleConnections()

	resp, err := c.Query(context.Background(), creds, "tasks", url.Values{"limit": {"5"}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK || got["cn"] != "peer-a" || got["resource"] != "tasks" ||
		got["query"] != "limit=5" {
		t.Fatalf("answer %d %v", resp.Status, got)
	}

	// A denial is an answer, not an error.
	resp, err = c.Query(context.Background(), creds, "credentials", nil)
	if err != nil || resp.Status != http.StatusForbidden {
		t.Fatalf("denied read: %v, %v", resp, err)
	}
	if code := mosaic.ErrorCode(DecodeError(resp.Status, resp.Body)); code != "resource_not_in_scope" {
		t.Fatalf("denial code %q", code)
	}

	// Both reads used one connection.
	if n := p.conns.Load(); n != 1 {
		t.Errorf("%d connections for two reads, want 1", n)
	}
}

func TestQueryRefuses(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "b server"), newTestCA(t, "b clients")
	stranger := newTestCA(t, "stranger")
	p := startPeer(t, serverCA, clientCA)
	good := Credentials{BaseURL: p.srv.URL, Cert: clientCA.clientCert(t, "peer-a"),
		Roots: serverCA.pool()}

	tests := []struct {
		name     string
		edit     func(c *Credentials)
		resource string
		wantCode string
		wantKind mosaic.Kind
	}{
		{"server not from the trusted CA", func(c *Credentials) { c.Roots = stranger.pool() },
			"tasks", "peer_unreachable", mosaic.KindUpstream},
		{"client certificate from another CA",
			func(c *Credentials) { c.Cert = stranger.clientCert(t, "peer-a") },
			"tasks", "peer_unreachable", mosaic.KindUpstream},
		{"no client certificate", func(c *Credentials) { c.Cert = tls.Certificate{} },
			"tasks", "invalid_credentials", mosaic.KindInvalid},
		{"no roots", func(c *Credentials) { c.Roots = nil },
			"tasks", "invalid_credentials", mosaic.KindInvalid},
		{"plain http", func(c *Credentials) { c.BaseURL = "http://" + p.srv.Listener.Addr().String() },
			"tasks", "invalid_base_url", mosaic.KindInvalid},
		{"unknown resource", func(*Credentials) {}, "../admin", "unknown_resource",
			mosaic.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := p.requests.Load()
			creds := good
			tt.edit(&creds)
			var c Client
			defer c.CloseIdleConnections()

			resp, err := c.Query(context.Background(), creds, tt.resource, nil)
			if err == nil {
				t.Fatalf("answer %d, want an error", resp.Status)
			}
			if mosaic.ErrorCode(err) != tt.wantCode || !mosaic.IsKind(err, tt.wantKind) {
				t.Fatalf("error %v, want %s", err, tt.wantCode)
			}
			if p.requests.Load() != before {
				t.Error("the request reached the handler")
			}
		})
	}
}

func TestQueryConcurrent(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "b server"), newTestCA(t, "b clients")
	p1, p2 := startPeer(t, serverCA, clientCA), startPeer(t, serverCA, clientCA)
	cert := clientCA.clientCert(t, "peer-a")
	var c Client
	defer c.CloseIdleConnections()

	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		base := p1.srv.URL
		if i%2 == 1 {
			base = p2.srv.URL
		}
		wg.Go(func() {
			creds := Credentials{BaseURL: base, Cert: cert, Roots: serverCA.pool()}
			resp, err := c.Query(context.Background(), creds, "notes", nil)
			if err == nil && resp.Status != http.StatusOK {
				err = DecodeError(resp.Status, resp.Body)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := p1.requests.Load() + p2.requests.Load(); n != 40 {
		t.Fatalf("%d requests reached the peers, want 40", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.clients) != 2 {
		t.Fatalf("%d pooled clients, want one per peer", len(c.clients))
	}
}

func TestQueryPackageLevel(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "b server"), newTestCA(t, "b clients")
	p := startPeer(t, serverCA, clientCA)
	creds := Credentials{BaseURL: p.srv.URL, Cert: clientCA.clientCert(t, "peer-a"),
		Roots: serverCA.pool()}
	resp, err := Query(context.Background(), creds, "users", nil)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("Query: %v, %v", resp, err)
	}
}

func TestClientPoolBounded(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "b server"), newTestCA(t, "b clients")
	cert := clientCA.clientCert(t, "peer-a")
	var c Client
	defer c.CloseIdleConnections()

	first, _, err := c.clientFor(Credentials{BaseURL: "https://peer-0.example", Cert: cert,
		Roots: serverCA.pool()})
	if err != nil {
		t.Fatal(err)
	}
	// The same peer with equal roots reuses the pool; other roots replace it.
	again, _, _ := c.clientFor(Credentials{BaseURL: "https://peer-0.example/", Cert: cert,
		Roots: serverCA.pool()})
	if again != first {
		t.Error("equal credentials got a new pool")
	}
	other, _, _ := c.clientFor(Credentials{BaseURL: "https://peer-0.example", Cert: cert,
		Roots: clientCA.pool()})
	if other == first {
		t.Error("changed roots kept the old pool")
	}

	for i := range 2 * maxCachedClients {
		creds := Credentials{BaseURL: "https://peer-" + string(rune('a'+i%26)) +
			string(rune('a'+i/26)) + ".example", Cert: cert, Roots: serverCA.pool()}
		if _, _, err := c.clientFor(creds); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.clients); n != maxCachedClients {
		t.Fatalf("%d pooled clients, want at most %d", n, maxCachedClients)
	}
}
