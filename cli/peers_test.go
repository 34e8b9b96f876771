package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// newCert creates a certificate from tmpl signed by parent (self-signed
// when parent is nil) and returns it with its key.
func newCert(t *testing.T, tmpl *x509.Certificate, parent *x509.Certificate,
	parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// grantorGateway is a TLS server on loopback answering the federation
// API's CA and enrollment endpoints, counting enrollment requests.
type grantorGateway struct {
	srv      *httptest.Server
	ca       *x509.Certificate
	enrolled atomic.Int32
	gotCSR   atomic.Value
}

// startGrantor starts a grantor whose enrollment answers status and body
// (zero status: a certificate).
func startGrantor(t *testing.T, status int, body any) *grantorGateway {
	t.Helper()
	g := &grantorGateway{}
	ca, caKey := newCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "grantor CA"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	leaf, leafKey := newCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "grantor"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	g.ca = ca
	if status == 0 {
		status, body = 200, map[string]string{"certPem": pki.EncodeCerts(leaf),
			"certChainPem": pki.EncodeCerts(ca), "caPem": pki.EncodeCerts(ca)}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/federation/ca", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, pki.EncodeCerts(ca))
	})
	mux.HandleFunc("POST /api/federation/enrollment/{token}", func(w http.ResponseWriter,
		r *http.Request) {
		g.enrolled.Add(1)
		var req struct {
			CSRPEM string `json:"csrPem"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		g.gotCSR.Store(req.CSRPEM)
		answer(w, status, body)
	})
	g.srv = httptest.NewUnstartedServer(mux)
	g.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	g.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{
		Certificate: [][]byte{leaf.Raw}, PrivateKey: leafKey}}}
	g.srv.StartTLS()
	t.Cleanup(g.srv.Close)
	return g
}

// enrollmentURL returns an enrollment URL for g with a fresh token and the
// given pin, and the token.
func (g *grantorGateway) enrollmentURL(t *testing.T, pin string) (string, string) {
	t.Helper()
	tok, err := mosaic.NewTokenSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return g.srv.URL + "/api/federation/enrollment/" + tok.Reveal() + "#ca=" + pin, tok.Reveal()
}

// peerAdmin is the admin API of the enrolling gateway: keypair and cert.
func peerAdmin(t *testing.T, csr string) *adminServer {
	t.Helper()
	return startAdmin(t, testToken, map[string]http.HandlerFunc{
		"POST /api/admin/federation/peers/keypair": fixed(201,
			map[string]string{"peerId": peerID, "csrPem": csr}),
		"PATCH /api/admin/federation/peers/{id}/cert": fixed(200, map[string]any{
			"id": peerID, "role": "outbound", "displayName": "Gateway B", "state": "active",
			"certNotAfter": "2026-01-03T00:00:00Z", "createdAt": "2026-01-02T00:00:00Z",
			"updatedAt": "2026-01-02T00:00:00Z"}),
	})
}

func TestPeerAdd(t *testing.T) {
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, "Gateway B")
	if err != nil {
		t.Fatal(err)
	}
	refused := apiError("token_used", "enrollment token already used")
	otherPin := "sha256:" + strings.Repeat("00", 32)

	tests := []struct {
		name       string
		status     int // the grantor's enrollment answer; zero: a certificate
		body       any
		badPin     bool
		source     string // "file", "stdin", "url-file stdin" or "arg"
		wantCalls  []string
		wantEnroll int32
		wantError  string
	}{
		{name: "from a file", source: "file", wantEnroll: 1,
			wantCalls: []string{"POST keypair", "PATCH cert"}},
		{name: "from stdin", source: "stdin", wantEnroll: 1,
			wantCalls: []string{"POST keypair", "PATCH cert"}},
		{name: "from stdin with --url-file -", source: "url-file stdin", wantEnroll: 1,
			wantCalls: []string{"POST keypair", "PATCH cert"}},
		{name: "from an argument", source: "arg", wantEnroll: 1,
			wantCalls: []string{"POST keypair", "PATCH cert"}},
		{name: "pin mismatch: nothing created, nothing sent", source: "file", badPin: true,
			wantError: "pin_mismatch: no certificate of the remote gateway's CA matches the pin"},
		{name: "grantor refuses: the pending peer remains", source: "file",
			status: http.StatusGone, body: refused, wantEnroll: 1,
			wantCalls: []string{"POST keypair"},
			wantError: "token_used: enrollment token already used; pending peer " + peerID +
				" remains without a certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGrantor(t, tt.status, tt.body)
			admin := peerAdmin(t, csr)
			pin := pki.Pin(g.ca)
			if tt.badPin {
				pin = otherPin
			}
			enrollURL, tok := g.enrollmentURL(t, pin)
			args := append(connect(admin), "federation", "peer", "add", "--name", "Gateway B")
			stdin := ""
			switch tt.source {
			case "file":
				args = append(args, "--url-file", writeFile(t, "url", enrollURL+"\n"))
			case "stdin":
				args, stdin = append(args, "-"), enrollURL+"\n"
			case "url-file stdin":
				args, stdin = append(args, "--url-file", "-"), enrollURL+"\n"
			default:
				args = append(args, enrollURL)
			}

			r := run(t, nil, stdin, args...)
			if strings.Contains(r.stdout+r.stderr, tok) {
				t.Fatalf("the token was printed:\n%s%s", r.stdout, r.stderr)
			}
			if got := g.enrolled.Load(); got != tt.wantEnroll {
				t.Errorf("%d enrollment requests, want %d", got, tt.wantEnroll)
			}
			var calls []string
			for _, req := range admin.requests() {
				calls = append(calls, req.Method+" "+req.Path[strings.LastIndex(req.Path, "/")+1:])
			}
			if strings.Join(calls, ",") != strings.Join(tt.wantCalls, ",") {
				t.Errorf("admin calls %v, want %v", calls, tt.wantCalls)
			}
			if tt.wantError != "" {
				if line := r.mustFail(t); line != tt.wantError {
					t.Fatalf("error %q, want %q", line, tt.wantError)
				}
				return
			}
			r.mustSucceed(t)
			if want := "peer " + peerID + " (Gateway B) is active"; !strings.HasPrefix(r.stdout, want) {
				t.Errorf("stdout %q, want %q", r.stdout, want)
			}
			checkPeerAddBodies(t, admin.requests(), g, pin, csr)
		})
	}
}

// checkPeerAddBodies checks what peer add sent: the grantor's endpoint and
// pin to the keypair call, our CSR to the grantor, the grantor's answer to
// the cert call.
func checkPeerAddBodies(t *testing.T, reqs []request, g *grantorGateway, pin, csr string) {
	t.Helper()
	var kp, cert map[string]string
	if json.Unmarshal([]byte(reqs[0].Body), &kp) != nil ||
		json.Unmarshal([]byte(reqs[1].Body), &cert) != nil {
		t.Fatalf("bodies %q, %q", reqs[0].Body, reqs[1].Body)
	}
	if kp["endpointUrl"] != g.srv.URL || kp["caPin"] != pin || kp["displayName"] != "Gateway B" ||
		kp["commonName"] != "Gateway B" {
		t.Errorf("keypair body %v", kp)
	}
	if g.gotCSR.Load() != csr {
		t.Error("the grantor did not get the CSR of the keypair call")
	}
	if cert["caPem"] != pki.EncodeCerts(g.ca) || cert["certPem"] == "" || cert["certChainPem"] == "" {
		t.Errorf("cert body %v", cert)
	}
}

func TestPeerAddRejectsInput(t *testing.T) {
	tok, _ := mosaic.NewTokenSecret(rand.Reader)
	good := "https://b.example/api/federation/enrollment/" + tok.Reveal() + "#ca=sha256:" +
		strings.Repeat("00", 32)
	admin := peerAdmin(t, "unused")
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"plain http", []string{strings.Replace(good, "https", "http", 1)},
			"", "invalid_enrollment_url: enrollment URL: must use https"},
		{"short token on stdin", []string{"-"}, strings.Replace(good, tok.Reveal()[:5], "", 1),
			"invalid_enrollment_url: enrollment URL: the token is malformed"},
		{"no pin", []string{"-"}, strings.Split(good, "#")[0],
			"invalid_enrollment_url: enrollment URL: it must end with #ca=sha256:<64 hex digits>"},
		{"two sources", []string{good, "--url-file", "x"}, "",
			"give the enrollment URL either as an argument or with --url-file"},
		{"no source", nil, "",
			"no enrollment URL: give it with --url-file FILE, on standard input with -, " +
				"or as an argument"},
		{"missing file", []string{"--url-file", "/nonexistent/url"}, "",
			"open /nonexistent/url: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(connect(admin), append([]string{"federation", "peer", "add"}, tt.args...)...)
			line := run(t, nil, tt.stdin, args...).mustFail(t)
			if line != tt.want {
				t.Errorf("error %q, want %q", line, tt.want)
			}
			if strings.Contains(line, tok.Reveal()[8:24]) {
				t.Errorf("error reveals the token: %q", line)
			}
		})
	}
	if n := len(admin.requests()); n != 0 {
		t.Errorf("%d admin requests, want none", n)
	}
}
