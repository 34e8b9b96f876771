package httpapi_test

import (
	"context"
	"crypto/tls"
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

func TestFederatedReadNeedsVerifiedCertificate(t *testing.T) {
	g := startGateway(t)
	readSetup(t, g)

	// No certificate: the TLS layer lets it through, the handler does not.
	g.fedDo(t, g.fedClient(t), "GET", "/api/federation/v1/tasks", nil).
		wantError(t, 401, "client_certificate_required")

	// A certificate from another CA is not even offered: the server names
	// the CAs it accepts.
	other := fedtest.New(t, fedtest.Options{})
	foreign := other.Enroll(t, other.User(t, "Eve").ID, fedtest.Scope(3, "tasks")).ClientCert(t)
	g.fedDo(t, g.fedClient(t, foreign), "GET", "/api/federation/v1/tasks", nil).
		wantError(t, 401, "client_certificate_required")

	// Forced on the server anyway, it fails the handshake.
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: g.roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &foreign, nil
		},
	}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", g.fed.URL+"/api/federation/v1/tasks", nil)
	if resp, err := (&http.Client{Transport: tr}).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a foreign certificate got an answer: %d", resp.StatusCode)
	}
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
