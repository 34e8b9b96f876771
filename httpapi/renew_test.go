package httpapi_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/remote"
)

// renewPath is the federation API's renewal route.
const renewPath = "/api/federation/v1/renew"

// renewOver renews cert over mutual TLS and returns the new client
// certificate.
func (g *gateway) renewOver(t *testing.T, cert tls.Certificate) tls.Certificate {
	t.Helper()
	key, csr := fedtest.NewCSR(t)
	a := g.fedDo(t, g.fedClient(t, cert), "POST", renewPath, map[string]string{"csrPem": csr})
	a.wantStatus(t, http.StatusOK)
	var out enrollAnswer
	a.decode(t, &out)
	leaf, err := pki.ParseCerts(out.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := pki.ParseCerts(out.CertChainPEM)
	if err != nil || out.CAPEM != pki.EncodeCerts(g.CA.Root()) {
		t.Fatalf("renewal answer chain %v, caPem %q", err, out.CAPEM)
	}
	return tls.Certificate{Certificate: [][]byte{leaf[0].Raw, chain[0].Raw}, PrivateKey: key,
		Leaf: leaf[0]}
}

func TestRenewOverMTLS(t *testing.T) {
	g := startGatewayOpts(t, gatewayOptions{fed: []httpapi.FederationOption{unlimited},
		metricsClock: time.Now})
	_, gr, cert := readSetup(t, g)
	nu := g.renewOver(t, cert)
	if nu.Leaf.SerialNumber.Cmp(cert.Leaf.SerialNumber) == 0 {
		t.Fatal("renewal returned the same certificate")
	}
	// Both read while the overlap lasts.
	for _, c := range []tls.Certificate{nu, cert} {
		g.fedDo(t, g.fedClient(t, c), "GET", "/api/federation/v1/tasks", nil).
			wantStatus(t, http.StatusOK)
	}

	// Refusals answer JSON and are audited as renewals.
	c := g.fedClient(t, nu)
	_, csr := fedtest.NewCSR(t)
	g.fedDo(t, c, "POST", renewPath, map[string]string{"csrPem": csr, "x": "y"}).
		wantError(t, http.StatusBadRequest, "unknown_field")
	g.fedDo(t, c, "POST", renewPath, "{").wantError(t, http.StatusBadRequest, "invalid_json")
	g.fedDo(t, g.fedClient(t), "POST", renewPath, map[string]string{"csrPem": csr}).
		wantError(t, http.StatusUnauthorized, "client_certificate_required")
	g.fedDo(t, c, "PUT", renewPath, map[string]string{"csrPem": csr}).
		wantError(t, http.StatusMethodNotAllowed, "method_not_allowed")
	// A body refused before the certificate is checked names only the
	// presented serial.
	var denied []string
	for _, ev := range g.audit(t, "outcome=denied") {
		if ev.Verb == mosaic.VerbRenew {
			denied = append(denied, ev.Reason)
			if ev.Status != http.StatusUnauthorized && ev.Status != http.StatusMethodNotAllowed &&
				ev.CertSerial != pki.SerialHex(nu.Leaf) {
				t.Errorf("denied renewal %+v does not name the presented serial", ev)
			}
		}
	}
	want := "method_not_allowed,client_certificate_required,invalid_json,unknown_field"
	if strings.Join(denied, ",") != want {
		t.Errorf("denied renewals audited: %v", denied)
	}
	allowed := g.audit(t, "grant="+gr.ID+"&outcome=allowed")
	if allowed[len(allowed)-1].Verb != mosaic.VerbEnroll || allowed[0].Verb == mosaic.VerbEnroll {
		t.Errorf("allowed events %+v, want the renewal after the enrollment", allowed)
	}

	// The metrics count renewals by outcome and reason.
	m := g.scrapeMetrics(t)
	for _, c := range []struct {
		outcome, reason string
		want            float64
	}{{"allowed", "none", 1}, {"denied", "unknown_field", 1}, {"denied", "invalid_json", 1},
		{"denied", "client_certificate_required", 1}, {"denied", "method_not_allowed", 1}} {
		got := m.counter("mosaic_renewals_total",
			map[string]string{"outcome": c.outcome, "reason": c.reason})
		if got != c.want {
			t.Errorf("mosaic_renewals_total{%s,%s} = %v, want %v", c.outcome, c.reason, got,
				c.want)
		}
	}
}

func TestRenewalRateLimit(t *testing.T) {
	t.Parallel() // it waits for an audit window to close
	const burst = 2
	g := startGatewayWith(t, httpapi.WithEnrollmentLimit(httpapi.EnrollmentLimit{
		PerMinute: 1, Burst: burst, AuditWindow: 2 * time.Second,
	}))
	_, _, cert := readSetup(t, g) // its enrollment is the first of the enrollment burst
	c := g.fedClient(t, cert)
	for range burst {
		g.fedDo(t, c, "POST", renewPath, "{").wantError(t, http.StatusBadRequest, "invalid_json")
	}
	a := g.fedDo(t, c, "POST", renewPath, "{")
	a.wantError(t, http.StatusTooManyRequests, "rate_limited")
	if a.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Enrollment has an allowance of its own.
	unknown := "/api/federation/enrollment/" + strings.Repeat("A", mosaic.TokenLen-1) + "Q"
	g.fedDo(t, c, "POST", unknown, "{").wantError(t, http.StatusBadRequest, "invalid_json")

	evs := waitRateLimited(t, g, 1)
	if evs[0].Verb != mosaic.VerbRenew || evs[0].RequestID != a.header.Get("X-Request-Id") {
		t.Errorf("rate-limit event %+v, want the renewal's", evs[0])
	}
}

// TestAdminRenewPeer has gateway a enroll with gateway b over TLS, then
// renew through its admin API, and lists the renewal state.
func TestAdminRenewPeer(t *testing.T) {
	a, b := startGateway(t), startGateway(t)
	ctx := context.Background()
	ada := b.createUser(t, "Ada")
	gr := b.createGrant(t, ada.ID, map[string]any{"resources": []string{"tasks"},
		"max_rows_per_query": 3})
	u, err := remote.ParseEnrollmentURL(b.issueToken(t, gr.ID).EnrollmentURL)
	if err != nil {
		t.Fatal(err)
	}
	kp := a.adminDo(t, "POST", "/api/admin/federation/peers/keypair", map[string]string{
		"commonName": "a", "displayName": "B", "endpointUrl": u.BaseURL, "caPin": u.Pin})
	kp.wantStatus(t, http.StatusCreated)
	var keypair struct{ PeerID, CSRPEM string }
	kp.decode(t, &keypair)
	res, err := remote.Enroll(ctx, u, keypair.CSRPEM)
	if err != nil {
		t.Fatal(err)
	}
	a.adminDo(t, "PATCH", "/api/admin/federation/peers/"+keypair.PeerID+"/cert", res).
		wantStatus(t, http.StatusOK)

	path := "/api/admin/federation/peers/" + keypair.PeerID + "/renew"
	r := a.adminDo(t, "POST", path, nil)
	r.wantStatus(t, http.StatusOK)
	var p mosaic.Peer
	r.decode(t, &p)
	if p.Renewal != mosaic.RenewalOK || p.RenewNextAt == nil || p.CertSerial == "" {
		t.Fatalf("renewed peer = %+v", p)
	}
	a.adminDo(t, "POST", path, map[string]any{}).wantStatus(t, http.StatusOK)
	a.adminDo(t, "POST", path, map[string]any{"now": true}).
		wantError(t, http.StatusBadRequest, "unknown_field")
	a.adminDo(t, "POST", "/api/admin/federation/peers/"+mosaic.NewID()+"/renew", nil).
		wantError(t, http.StatusNotFound, "peer_not_found")
	b.adminDo(t, "POST", "/api/admin/federation/peers/"+gr.PeerID+"/renew", nil).
		wantError(t, http.StatusConflict, "peer_not_active")

	// The grantor refuses once the grant is revoked: a 502 that names why,
	// and the listing shows the failure.
	b.adminDo(t, "PATCH", "/api/admin/federation/grants/"+gr.ID+"/revoke", nil).
		wantStatus(t, http.StatusOK)
	f := a.adminDo(t, "POST", path, nil)
	f.wantError(t, http.StatusBadGateway, "renewal_refused")
	if !strings.Contains(string(f.body), "grant_not_active") {
		t.Errorf("refusal %s does not name the grantor's code", f.body)
	}
	l := a.adminDo(t, "GET", "/api/admin/federation/peers?role=outbound", nil)
	l.wantStatus(t, http.StatusOK)
	var list struct{ Items []mosaic.Peer }
	l.decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Renewal != mosaic.RenewalFailing ||
		list.Items[0].RenewFailures != 1 ||
		!strings.Contains(list.Items[0].RenewLastError, "grant_not_active") {
		t.Fatalf("listed peers = %+v", list.Items)
	}
	if strings.Contains(string(l.body), "sealed") || strings.Contains(string(l.body), "PRIVATE") {
		t.Error("the listing shows key material")
	}
	gauge := a.scrapeMetrics(t).find("mosaic_peer_renewal_failures",
		map[string]string{"peer_id": keypair.PeerID})
	if gauge == nil || gauge.GetGauge().GetValue() != 1 {
		t.Errorf("mosaic_peer_renewal_failures of the peer = %v, want 1", gauge)
	}
}
