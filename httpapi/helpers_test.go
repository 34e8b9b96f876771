package httpapi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
)

// adminToken is the admin bearer token of every test gateway.
const adminToken = "test-admin-token-0123456789"

// gateway is a real gateway serving both APIs on loopback: the admin API
// over plain HTTP, the federation API over TLS with client certificates
// requested and left to the handler to verify.
type gateway struct {
	*fedtest.Gateway
	admin *httptest.Server
	fed   *httptest.Server
	// roots trusts the gateway's CA, for clients of the federation API.
	roots *x509.CertPool
	// adminH and fedH are the two APIs' handlers.
	adminH, fedH http.Handler
}

// unlimited turns the enrollment rate limit off: the tests of other
// behaviours send many enrollment requests from one address.
var unlimited = httpapi.WithEnrollmentLimit(httpapi.EnrollmentLimit{PerMinute: -1})

// startGateway starts a gateway without the enrollment rate limit; both
// servers stop when the test ends.
func startGateway(t *testing.T) *gateway {
	t.Helper()
	return startGatewayWith(t, unlimited)
}

// startGatewayWith starts a gateway whose federation API has opts.
func startGatewayWith(t *testing.T, opts ...httpapi.FederationOption) *gateway {
	t.Helper()
	return startGatewayOpts(t, gatewayOptions{fed: opts})
}

// gatewayOptions adjust a test gateway.
type gatewayOptions struct {
	// fed are the options of the federation API.
	fed []httpapi.FederationOption
	// metricsClock, when set, makes both APIs record into one Metrics
	// whose clock it is, served at the admin API's /metrics.
	metricsClock func() time.Time
}

// startGatewayOpts starts a gateway with o.
func startGatewayOpts(t *testing.T, o gatewayOptions) *gateway {
	t.Helper()
	fed := httptest.NewUnstartedServer(nil)
	g := &gateway{Gateway: fedtest.New(t, fedtest.Options{
		PublicURL: "https://" + fed.Listener.Addr().String(),
	})}
	opts := o.fed
	var adminOpts []httpapi.AdminOption
	if o.metricsClock != nil {
		m := httpapi.NewMetrics(g.Svc, httpapi.WithMetricsClock(o.metricsClock),
			httpapi.WithMetricsLogger(g.Logger))
		opts = append(slices.Clip(opts), httpapi.WithFederationMetrics(m))
		adminOpts = append(adminOpts, httpapi.WithMetrics(m))
	}
	ctx := context.Background()
	serverCert, err := g.CA.ServerCertificate(ctx, g.Store, g.Sealer, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	roots, err := g.CA.ClientRoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g.roots = pki.NewPool(roots...)

	g.fedH = httpapi.NewFederationHandler(g.Svc, g.CA.ChainPEM(), g.Logger, opts...)
	fed.Config.Handler = g.fedH
	// As the gateway's listener: client certificates are requested, not
	// verified, and no acceptable CAs are named, so clients send whatever
	// certificate they have and the handler alone decides.
	fed.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   httpapi.FederationClientAuth,
		Certificates: []tls.Certificate{*serverCert},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return serverCert, nil
		},
	}
	fed.Config.ErrorLog = slog.NewLogLogger(g.Logger.Handler(), slog.LevelWarn)
	fed.StartTLS()
	t.Cleanup(fed.Close)
	g.fed = fed

	g.adminH = httpapi.NewAdminHandler(g.Svc, hashHex(adminToken), g.Logger, adminOpts...)
	g.admin = httptest.NewServer(g.adminH)
	t.Cleanup(g.admin.Close)
	return g
}

// hashHex returns the hex SHA-256 of s, as the admin token is stored.
func hashHex(s string) string { return mosaic.TokenSecret(s).Hash() }

// fedClient returns a client of the federation API that trusts the
// gateway's CA and presents certs.
func (g *gateway) fedClient(t *testing.T, certs ...tls.Certificate) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: g.roots, Certificates: certs, MinVersion: tls.VersionTLS12,
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// answer is an HTTP answer read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// decode decodes the answer's body into v.
func (a *answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d %q: %v", a.status, a.body, err)
	}
}

// apiError is the error body of every API.
type apiError struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"requestId"`
	} `json:"error"`
}

// wantError fails the test unless the answer is an error with that status
// and code, carrying the request id of its header.
func (a *answer) wantError(t *testing.T, status int, code string) {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("answer %d is not an error body: %q", a.status, a.body)
	}
	if a.status != status || e.Error.Code != code {
		t.Errorf("answer = %d %s (%s), want %d %s", a.status, e.Error.Code, e.Error.Message,
			status, code)
	}
	if id := a.header.Get("X-Request-Id"); id == "" || e.Error.RequestID != id {
		t.Errorf("error requestId %q, header %q", e.Error.RequestID, id)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q", ct)
	}
}

// wantStatus fails the test unless the answer has that status.
func (a *answer) wantStatus(t *testing.T, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status = %d, want %d; body %s", a.status, status, a.body)
	}
}

// send sends a request built by the caller and reads the answer.
func send(t *testing.T, c *http.Client, req *http.Request) *answer {
	t.Helper()
	a, err := trySend(c, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return a
}

// trySend is send for other goroutines than the test's: it returns the
// error instead of ending the test.
func trySend(c *http.Client, req *http.Request) (*answer, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// enrollRequest returns an enrollment request for token and csr.
func (g *gateway) enrollRequest(t *testing.T, token, csr string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", g.fed.URL+"/api/federation/enrollment/"+token,
		jsonBody(t, map[string]string{"csrPem": csr}))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// jsonBody returns v as a JSON body; a string is sent as it is.
func jsonBody(t *testing.T, v any) io.Reader {
	t.Helper()
	if v == nil {
		return nil
	}
	if s, ok := v.(string); ok {
		return strings.NewReader(s)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(data)
}

// adminDo sends an authenticated admin request with a JSON body (nil for
// none).
func (g *gateway) adminDo(t *testing.T, method, path string, body any) *answer {
	t.Helper()
	req, err := http.NewRequest(method, g.admin.URL+path, jsonBody(t, body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(t, g.admin.Client(), req)
}

// fedDo sends a federation API request with client c.
func (g *gateway) fedDo(t *testing.T, c *http.Client, method, path string, body any) *answer {
	t.Helper()
	req, err := http.NewRequest(method, g.fed.URL+path, jsonBody(t, body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(t, c, req)
}

// createUser creates a user through the admin API.
func (g *gateway) createUser(t *testing.T, name string) *mosaic.User {
	t.Helper()
	a := g.adminDo(t, "POST", "/api/admin/users", map[string]any{
		"name": name, "email": strings.ToLower(name) + "-" + mosaic.NewID()[:8] + "@example.com",
	})
	a.wantStatus(t, http.StatusCreated)
	var u mosaic.User
	a.decode(t, &u)
	return &u
}

// createGrant creates a grant with a new peer through the admin API.
func (g *gateway) createGrant(t *testing.T, userID string, scope any) *mosaic.Grant {
	t.Helper()
	a := g.adminDo(t, "POST", "/api/admin/federation/grants", map[string]any{
		"userId": userID, "peerName": "Gateway A", "scope": scope,
	})
	a.wantStatus(t, http.StatusCreated)
	var gr mosaic.Grant
	a.decode(t, &gr)
	return &gr
}

// tokenAnswer is the admin API's answer to a token request.
type tokenAnswer struct {
	Token         string `json:"token"`
	GrantID       string `json:"grantId"`
	PeerID        string `json:"peerId"`
	ExpiresAt     string `json:"expiresAt"`
	TTLSeconds    int    `json:"ttlSeconds"`
	CAPin         string `json:"caPin"`
	EnrollmentURL string `json:"enrollmentUrl"`
}

// issueToken requests a token for a grant through the admin API.
func (g *gateway) issueToken(t *testing.T, grantID string) *tokenAnswer {
	t.Helper()
	a := g.adminDo(t, "POST", "/api/admin/federation/grants/"+grantID+"/tokens",
		map[string]any{"ttlSeconds": 600})
	a.wantStatus(t, http.StatusCreated)
	var tok tokenAnswer
	a.decode(t, &tok)
	return &tok
}

// enrollAnswer is the federation API's answer to an enrollment.
type enrollAnswer struct {
	CertPEM      string `json:"certPem"`
	CertChainPEM string `json:"certChainPem"`
	CAPEM        string `json:"caPem"`
}

// enroll redeems a token over TLS with a fresh key and returns the client
// certificate to read with.
func (g *gateway) enroll(t *testing.T, token string) tls.Certificate {
	t.Helper()
	key, csr := fedtest.NewCSR(t)
	a := g.fedDo(t, g.fedClient(t), "POST", "/api/federation/enrollment/"+token,
		map[string]string{"csrPem": csr})
	a.wantStatus(t, http.StatusOK)
	var out enrollAnswer
	a.decode(t, &out)
	leaf, err := pki.ParseCerts(out.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := pki.ParseCerts(out.CertChainPEM)
	if err != nil {
		t.Fatal(err)
	}
	// The client sends its intermediate; the server knows the root.
	return tls.Certificate{
		Certificate: [][]byte{leaf[0].Raw, chain[0].Raw},
		PrivateKey:  key,
		Leaf:        leaf[0],
	}
}

// audit lists the gateway's audit events through the admin API.
func (g *gateway) audit(t *testing.T, query string) []mosaic.AuditEvent {
	t.Helper()
	a := g.adminDo(t, "GET", "/api/admin/federation/audit?"+query, nil)
	a.wantStatus(t, http.StatusOK)
	var out struct{ Items []mosaic.AuditEvent }
	a.decode(t, &out)
	return out.Items
}
