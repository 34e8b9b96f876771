package httpapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
)

// readPage is the federation API's answer to a read.
type readPage struct {
	Items        []map[string]any `json:"items"`
	NextCursor   string           `json:"nextCursor"`
	LimitApplied int              `json:"limitApplied"`
	LimitCapped  bool             `json:"limitCapped"`
}

// readSetup seeds tasks for Ada (5) and Bob (2), grants Ada's tasks with a
// row cap of 3 and enrolls over TLS. It returns the grant and the client
// certificate.
func readSetup(t *testing.T, g *gateway) (*mosaic.User, *mosaic.Grant, tls.Certificate) {
	t.Helper()
	ada, bob := g.createUser(t, "Ada"), g.createUser(t, "Bob")
	for i := range 7 {
		owner := ada
		if i%3 == 1 {
			owner = bob
		}
		g.adminDo(t, "POST", "/api/admin/tasks", map[string]any{"userId": owner.ID, "title": "t"}).
			wantStatus(t, http.StatusCreated)
	}
	g.adminDo(t, "POST", "/api/admin/notes", map[string]any{"userId": ada.ID, "title": "n",
		"body": "b"}).wantStatus(t, http.StatusCreated)
	gr := g.createGrant(t, ada.ID, map[string]any{"resources": []string{"tasks"},
		"excluded_resources": []string{"notes"}, "max_rows_per_query": 3})
	return ada, gr, g.enroll(t, g.issueToken(t, gr.ID).Token)
}

func TestFederatedReadsOverMTLS(t *testing.T) {
	g := startGateway(t)
	ada, gr, cert := readSetup(t, g)
	c := g.fedClient(t, cert)

	// Every page within the cap, Ada's rows only, the cursor to the end.
	seen := 0
	path := "/api/federation/v1/tasks?limit=50"
	for pages := 0; path != ""; pages++ {
		if pages > 4 {
			t.Fatal("the cursor does not end")
		}
		a := g.fedDo(t, c, "GET", path, nil)
		a.wantStatus(t, http.StatusOK)
		var page readPage
		a.decode(t, &page)
		if page.LimitApplied != 3 || !page.LimitCapped || len(page.Items) > 3 {
			t.Errorf("page: %d items, limit %d, capped %v", len(page.Items), page.LimitApplied,
				page.LimitCapped)
		}
		for _, it := range page.Items {
			if it["userId"] != ada.ID {
				t.Errorf("row of user %v leaked", it["userId"])
			}
		}
		seen += len(page.Items)
		path = ""
		if page.NextCursor != "" {
			path = "/api/federation/v1/tasks?limit=50&cursor=" + page.NextCursor
		}
	}
	if seen != 5 {
		t.Errorf("read %d of Ada's 5 tasks", seen)
	}

	tests := []struct {
		name   string
		path   string
		status int
		code   string
	}{
		{"excluded resource", "/api/federation/v1/notes", 403, "resource_not_in_scope"},
		{"resource not shared", "/api/federation/v1/users", 403, "resource_not_in_scope"},
		{"unknown resource", "/api/federation/v1/files", 404, "unknown_resource"},
		{"bad cursor", "/api/federation/v1/tasks?cursor=!!", 400, "invalid_cursor"},
		{"bad limit", "/api/federation/v1/tasks?limit=0", 400, "invalid_limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g.fedDo(t, c, "GET", tc.path, nil).wantError(t, tc.status, tc.code)
		})
	}

	// Every request left one audit event, with the peer's serial.
	evs := g.audit(t, "grant="+gr.ID+"&limit=100")
	reads := map[mosaic.Outcome]int{}
	for _, ev := range evs {
		if ev.Verb == mosaic.VerbRead {
			reads[ev.Outcome]++
			if ev.CertSerial == "" || ev.PeerID != gr.PeerID || ev.SourceAddr == "" {
				t.Errorf("read event = %+v", ev)
			}
		}
	}
	if reads[mosaic.OutcomeAllowed] != 2 || reads[mosaic.OutcomeDenied] != len(tests) {
		t.Errorf("read events = %v, want 2 allowed and %d denied", reads, len(tests))
	}
	if !strings.Contains(g.Logs.String(), "peer_cert_serial=") {
		t.Error("the access log does not name the client certificate's serial")
	}
}

// forcedClient returns a client of the federation API that presents cert
// whatever CAs the server asks for.
func (g *gateway) forcedClient(t *testing.T, cert tls.Certificate) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: g.roots, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		},
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestFederatedReadNeedsVerifiedCertificate(t *testing.T) {
	g := startGateway(t)
	ada, gr, good := readSetup(t, g)
	inter := g.CA.Intermediate()
	id := mosaic.Identity{GrantID: gr.ID, SubjectUserID: ada.ID}
	forge := func(edit func(*x509.Certificate)) tls.Certificate {
		tmpl := fedtest.ClientTemplate(t, id)
		edit(tmpl)
		return g.Forge(t, tmpl).TLS(inter)
	}
	other := fedtest.New(t, fedtest.Options{})
	foreign := other.Enroll(t, other.User(t, "Eve").ID, fedtest.Scope(3, "tasks")).ClientCert(t)
	leafOnly := good
	leafOnly.Certificate = leafOnly.Certificate[:1]

	tests := []struct {
		name   string
		client *http.Client
		status int
		code   string
		reason string
	}{
		{"no certificate", g.fedClient(t), 401, "client_certificate_required", ""},
		{"another CA", g.forcedClient(t, foreign), 403, "certificate_invalid", "untrusted issuer"},
		{"leaf without its intermediate", g.forcedClient(t, leafOnly), 403, "certificate_invalid",
			"untrusted issuer"},
		{"expired", g.forcedClient(t, forge(func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
		})), 403, "certificate_invalid", "expired"},
		{"not yet valid", g.forcedClient(t, forge(func(c *x509.Certificate) {
			c.NotBefore = time.Now().Add(time.Hour)
		})), 403, "certificate_invalid", "not yet valid"},
		{"server authentication only", g.forcedClient(t, forge(func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		})), 403, "certificate_invalid", "wrong usage"},
		{"CA certificate", g.forcedClient(t, forge(func(c *x509.Certificate) {
			c.IsCA, c.KeyUsage = true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
		})), 403, "certificate_invalid", "CA certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := g.fedDo(t, tc.client, "GET", "/api/federation/v1/tasks", nil)
			a.wantError(t, tc.status, tc.code)
			var e apiError
			a.decode(t, &e)
			if !strings.Contains(e.Error.Message, tc.reason) {
				t.Errorf("message %q does not say %q", e.Error.Message, tc.reason)
			}
			if strings.Contains(string(a.body), `"items"`) {
				t.Errorf("refused request got data: %s", a.body)
			}
			evs := g.audit(t, "outcome=denied&limit=1")
			if len(evs) != 1 {
				t.Fatal("no denied audit event")
			}
			ev := evs[0]
			if ev.RequestID != a.header.Get("X-Request-Id") || ev.Verb != mosaic.VerbRead ||
				ev.Reason != tc.code || ev.Status != tc.status || ev.GrantID != "" ||
				ev.SourceAddr == "" {
				t.Errorf("audit event = %+v", ev)
			}
		})
	}

	// The enrolled certificate, with its intermediate, reads.
	g.fedDo(t, g.fedClient(t, good), "GET", "/api/federation/v1/tasks", nil).
		wantStatus(t, http.StatusOK)
}

func TestUnrelatedCertificateIgnoredOffReads(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	tok := g.issueToken(t, gr.ID)
	other := fedtest.New(t, fedtest.Options{})
	foreign := other.Enroll(t, other.User(t, "Eve").ID, fedtest.Scope(3, "tasks")).ClientCert(t)
	c := g.forcedClient(t, foreign)

	g.fedDo(t, c, "GET", "/api/federation/ca", nil).wantStatus(t, http.StatusOK)
	_, csr := fedtest.NewCSR(t)
	g.fedDo(t, c, "POST", "/api/federation/enrollment/"+tok.Token,
		map[string]string{"csrPem": csr}).wantStatus(t, http.StatusOK)
}

func TestRevocationOnKeepAliveConnection(t *testing.T) {
	g := startGateway(t)
	_, gr, cert := readSetup(t, g)
	c := g.fedClient(t, cert)

	read := func() (*answer, bool) {
		t.Helper()
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			reused = info.Reused
		}}
		ctx := httptrace.WithClientTrace(context.Background(), trace)
		req, _ := http.NewRequestWithContext(ctx, "GET", g.fed.URL+"/api/federation/v1/tasks", nil)
		return send(t, c, req), reused
	}
	a, _ := read()
	a.wantStatus(t, http.StatusOK)

	g.adminDo(t, "PATCH", "/api/admin/federation/grants/"+gr.ID+"/revoke",
		map[string]string{"reason": "now"}).wantStatus(t, http.StatusOK)

	a, reused := read()
	if !reused {
		t.Fatal("the second read did not reuse the connection; the test proves nothing")
	}
	a.wantError(t, 403, "grant_not_active")
}

func TestAdminQueryThroughPeer(t *testing.T) {
	a, b := startGateway(t), startGateway(t)
	ada := b.createUser(t, "Ada")
	for range 3 {
		b.adminDo(t, "POST", "/api/admin/tasks", map[string]any{"userId": ada.ID, "title": "t"}).
			wantStatus(t, http.StatusCreated)
	}
	gr := b.createGrant(t, ada.ID, map[string]any{"resources": []string{"tasks"},
		"max_rows_per_query": 2})
	tok := b.issueToken(t, gr.ID)

	// Peer add on A: key pair, enrollment at B, certificate stored.
	kp := a.adminDo(t, "POST", "/api/admin/federation/peers/keypair", map[string]string{
		"commonName": "gateway-a", "displayName": "Gateway B", "endpointUrl": b.fed.URL,
		"caPin": tok.CAPin,
	})
	kp.wantStatus(t, http.StatusCreated)
	var keypair struct{ PeerID, CSRPEM string }
	kp.decode(t, &keypair)
	enrolled := b.fedDo(t, b.fedClient(t), "POST", "/api/federation/enrollment/"+tok.Token,
		map[string]string{"csrPem": keypair.CSRPEM})
	enrolled.wantStatus(t, http.StatusOK)
	stored := a.adminDo(t, "PATCH", "/api/admin/federation/peers/"+keypair.PeerID+"/cert",
		string(enrolled.body))
	stored.wantStatus(t, http.StatusOK)
	if !strings.Contains(string(stored.body), `"state":"active"`) {
		t.Fatalf("stored peer = %s", stored.body)
	}

	// Queries through A reach B with A's certificate.
	query := "/api/admin/federation/peers/" + keypair.PeerID + "/query/"
	res := a.adminDo(t, "GET", query+"tasks?limit=10", nil)
	res.wantStatus(t, http.StatusOK)
	var page readPage
	res.decode(t, &page)
	if len(page.Items) != 2 || !page.LimitCapped || page.NextCursor == "" {
		t.Errorf("page through A = %+v", page)
	}
	res = a.adminDo(t, "GET", query+"tasks?cursor="+page.NextCursor, nil)
	res.decode(t, &page)
	if len(page.Items) != 1 {
		t.Errorf("second page through A: %d items", len(page.Items))
	}
	a.adminDo(t, "GET", query+"notes", nil).wantErrorFrom(t, 403, "resource_not_in_scope")

	b.adminDo(t, "PATCH", "/api/admin/federation/grants/"+gr.ID+"/revoke", nil).
		wantStatus(t, http.StatusOK)
	a.adminDo(t, "GET", query+"tasks", nil).wantErrorFrom(t, 403, "grant_not_active")

	// B gone: A answers 502.
	b.fed.Close()
	time.Sleep(10 * time.Millisecond)
	a.adminDo(t, "GET", query+"tasks", nil).wantError(t, 502, "peer_unreachable")
}

// wantErrorFrom checks an error answer passed through from another
// gateway: its request id is the other gateway's, not in our header.
func (a *answer) wantErrorFrom(t *testing.T, status int, code string) {
	t.Helper()
	var e apiError
	a.decode(t, &e)
	if a.status != status || e.Error.Code != code {
		t.Errorf("answer = %d %s, want %d %s", a.status, e.Error.Code, status, code)
	}
}
