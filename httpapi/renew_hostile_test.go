package httpapi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
)

// rawRenew sends body to the renewal path with content type ct (none when
// empty), presenting cert.
func (g *gateway) rawRenew(t *testing.T, cert tls.Certificate, ct string,
	body io.Reader) *answer {
	t.Helper()
	req, err := http.NewRequest("POST", g.fed.URL+renewPath, body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return send(t, g.fedClient(t, cert), req)
}

// grantSerials returns the serials a grant accepts now, as stored.
func (g *gateway) grantSerials(t *testing.T, grantID string) string {
	t.Helper()
	c, err := g.Store.GrantCert(context.Background(), grantID)
	if err != nil {
		t.Fatal(err)
	}
	return c.Serial + "/" + c.PrevSerial
}

// TestRenewHostileBodies sends renewal requests whose body or framing a
// careless or hostile client could send, with a valid client certificate.
// Each is a 4xx JSON error, audited as a denied renewal, and changes
// nothing.
func TestRenewHostileBodies(t *testing.T) {
	g := startGateway(t)
	_, gr, cert := readSetup(t, g)
	_, csr := fedtest.NewCSR(t)
	csrJSON := strings.ReplaceAll(strings.TrimSpace(csr), "\n", `\n`)
	huge := `{"csrPem":"` + strings.Repeat("A", httpapi.MaxBodyBytes) + `"}`
	tests := []struct {
		name   string
		ct     string
		body   io.Reader
		status int
		code   string
	}{
		{"no content type", "", strings.NewReader(`{"csrPem":"x"}`), 415,
			"unsupported_media_type"},
		{"text/plain", "text/plain", strings.NewReader(`{"csrPem":"x"}`), 415,
			"unsupported_media_type"},
		{"form", "application/x-www-form-urlencoded", strings.NewReader("csrPem=x"), 415,
			"unsupported_media_type"},
		{"latin-1 charset", "application/json; charset=latin1",
			strings.NewReader(`{"csrPem":"x"}`), 415, "unsupported_media_type"},
		{"huge with length", "application/json", strings.NewReader(huge), 413,
			"body_too_large"},
		{"huge chunked", "application/json", io.MultiReader(strings.NewReader(huge)), 413,
			"body_too_large"},
		{"empty", "application/json", strings.NewReader(""), 400, "invalid_json"},
		{"null", "application/json", strings.NewReader("null"), 400, "invalid_json"},
		{"array", "application/json", strings.NewReader(`["` + csrJSON + `"]`), 400,
			"invalid_json"},
		{"duplicate key", "application/json",
			strings.NewReader(`{"csrPem":"junk","csrPem":"` + csrJSON + `"}`), 400,
			"duplicate_key"},
		{"case-folded key", "application/json",
			strings.NewReader(`{"CSRPEM":"` + csrJSON + `"}`), 400, "unknown_field"},
		{"unknown field", "application/json",
			strings.NewReader(`{"csrPem":"` + csrJSON + `","grantId":"` + gr.ID + `"}`), 400,
			"unknown_field"},
		{"wrong type", "application/json", strings.NewReader(`{"csrPem":42}`), 400,
			"invalid_json"},
		{"trailing data", "application/json",
			strings.NewReader(`{"csrPem":"` + csrJSON + `"} {}`), 400, "trailing_data"},
		{"invalid UTF-8", "application/json",
			bytes.NewReader([]byte("{\"csrPem\":\"\xff\xfe\"}")), 400, "invalid_json"},
		{"lone surrogate", "application/json", strings.NewReader(`{"csrPem":"\ud800"}`), 400,
			"invalid_json"},
		{"deep nesting", "application/json",
			strings.NewReader(`{"csrPem":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) +
				`}`), 400, "invalid_json"},
		{"CSR not PEM", "application/json", strings.NewReader(`{"csrPem":"hello"}`), 400,
			"invalid_csr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := g.grantSerials(t, gr.ID)
			a := g.rawRenew(t, cert, tc.ct, tc.body)
			a.wantError(t, tc.status, tc.code)
			if after := g.grantSerials(t, gr.ID); after != before {
				t.Fatalf("refused renewal changed the grant's serials %s into %s", before, after)
			}
			evs := g.audit(t, "outcome=denied")
			if len(evs) == 0 || evs[0].Verb != mosaic.VerbRenew || evs[0].Reason != tc.code ||
				evs[0].Status != tc.status {
				t.Fatalf("newest denied event %+v, want the renewal's %s", evs, tc.code)
			}
		})
	}
	g.fedDo(t, g.fedClient(t, cert), "GET", "/api/federation/v1/tasks", nil).
		wantStatus(t, http.StatusOK)
}

// TestRenewForeignCertificates presents client certificates the gateway
// did not issue, or issued for something else, over real TLS: each is a
// JSON 403, never a handshake failure, a 500 or a new certificate.
func TestRenewForeignCertificates(t *testing.T) {
	g := startGateway(t)
	ada, gr, cert := readSetup(t, g)
	stranger := fedtest.New(t, fedtest.Options{})
	id := mosaic.Identity{GrantID: gr.ID, SubjectUserID: ada.ID}
	foreign := stranger.Forge(t, fedtest.ClientTemplate(t, id))
	// Our CA's signature, but not the grant's certificate.
	forged := g.Forge(t, fedtest.ClientTemplate(t, id))
	serverUsage := fedtest.ClientTemplate(t, id)
	serverUsage.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	wrongUsage := g.Forge(t, serverUsage)
	noIdentity := g.Forge(t, fedtest.ClientTemplate(t, mosaic.Identity{}))
	_, csr := fedtest.NewCSR(t)
	tests := []struct {
		name string
		cert tls.Certificate
		code string
	}{
		{"another CA", foreign.TLS(stranger.CA.Intermediate()), "certificate_invalid"},
		{"another CA, our intermediate sent", foreign.TLS(g.CA.Intermediate()),
			"certificate_invalid"},
		{"our CA, not the grant's serial", forged.TLS(g.CA.Intermediate()), "serial_superseded"},
		{"server usage", wrongUsage.TLS(g.CA.Intermediate()), "certificate_invalid"},
		{"no identity", noIdentity.TLS(g.CA.Intermediate()), "identity_invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := g.grantSerials(t, gr.ID)
			g.fedDo(t, g.fedClient(t, tc.cert), "POST", renewPath,
				map[string]string{"csrPem": csr}).wantError(t, http.StatusForbidden, tc.code)
			if after := g.grantSerials(t, gr.ID); after != before {
				t.Fatalf("renewal with a foreign certificate changed %s into %s", before, after)
			}
		})
	}
	// The real peer still renews.
	g.renewOver(t, cert)
}

// TestRenewPathVariants exhausts a source's renewal allowance, then tries
// spellings of the renewal path that might reach the handler past the
// rate limit: none renews.
func TestRenewPathVariants(t *testing.T) {
	g := startGatewayWith(t, httpapi.WithEnrollmentLimit(httpapi.EnrollmentLimit{
		PerMinute: 1, Burst: 1,
	}))
	_, gr, cert := readSetup(t, g)
	c := g.fedClient(t, cert)
	g.fedDo(t, c, "POST", renewPath, "{").wantError(t, http.StatusBadRequest, "invalid_json")
	before := g.grantSerials(t, gr.ID)
	for _, p := range []string{
		renewPath, renewPath + "/", renewPath + "?x=1", "/api/federation/v1/%72enew",
		"/api/federation/v1/./renew", "/api/federation//v1/renew", "/api/federation/v1/RENEW",
		"/api/federation/v1/renew%2F", "/api/federation/v2/../v1/renew",
	} {
		_, csr := fedtest.NewCSR(t)
		req, err := http.NewRequest("POST", g.fed.URL+p,
			jsonBody(t, map[string]string{"csrPem": csr}))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		noRedirect := *c
		noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}
		a := send(t, &noRedirect, req)
		if a.status == http.StatusOK || a.status >= 500 {
			t.Errorf("POST %s: %d %s", p, a.status, a.body)
		}
	}
	if after := g.grantSerials(t, gr.ID); after != before {
		t.Fatalf("a path variant renewed past the rate limit: %s into %s", before, after)
	}
}
