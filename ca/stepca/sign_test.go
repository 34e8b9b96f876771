package stepca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// recorder is a handler standing for step-ca: it keeps the requests it got
// and answers each with answer.
type recorder struct {
	mu     sync.Mutex
	bodies []signRequest
	paths  []string
	answer func(w http.ResponseWriter, body signRequest)
}

// ServeHTTP records the request and answers it.
func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body signRequest
	data, _ := io.ReadAll(req.Body)
	_ = json.Unmarshal(data, &body)
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.paths = append(r.paths, req.Method+" "+req.URL.Path+" "+req.Header.Get("Content-Type"))
	r.mu.Unlock()
	r.answer(w, body)
}

// requests returns how many requests arrived.
func (r *recorder) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// answerJSON writes v as JSON with status.
func answerJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// issue answers a sign request the way step-ca does, with a certificate
// for the CSR's key signed by p's intermediate.
func (p *testPKI) issue(t *testing.T, lifetime time.Duration,
	chain func(leaf *x509.Certificate) []string) func(http.ResponseWriter, signRequest) {
	return func(w http.ResponseWriter, body signRequest) {
		block, _ := pem.Decode([]byte(body.CSR))
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			answerJSON(w, http.StatusBadRequest, map[string]string{"message": "bad csr"})
			return
		}
		leaf := p.leaf(t, csr.PublicKey, testID, lifetime)
		answerJSON(w, http.StatusCreated, signResponse{
			Crt: pki.EncodeCerts(leaf), CA: pki.EncodeCerts(p.inter), CertChain: chain(leaf),
		})
	}
}

func TestSign(t *testing.T) {
	p := newTestPKI(t)
	rec := &recorder{answer: p.issue(t, time.Hour, func(leaf *x509.Certificate) []string {
		return []string{pki.EncodeCerts(leaf), pki.EncodeCerts(p.inter)}
	})}
	srv := startServer(t, p, rec)
	c := newTestClient(t, p, srv.URL, 0)
	_, csr := testCSR(t, nil)
	req := testRequest(csr)
	req.Lifetime = 90 * time.Minute

	ic, err := c.Sign(t.Context(), req)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !sameKey(ic.Cert.PublicKey, csr.PublicKey) {
		t.Errorf("leaf is not for the CSR's key")
	}
	if len(ic.Intermediates) != 1 || !ic.Intermediates[0].Equal(p.inter) ||
		len(ic.Roots) != 1 || !ic.Roots[0].Equal(p.root) {
		t.Errorf("chain = %d intermediates, %d roots; want the intermediate and the root",
			len(ic.Intermediates), len(ic.Roots))
	}
	if err := pki.VerifyIssued(ic, csr, testID, time.Now()); err != nil {
		t.Errorf("VerifyIssued: %v", err)
	}

	// What step-ca got: the CSR as it was, a token for it, the lifetime.
	body := rec.bodies[0]
	if got := rec.paths[0]; got != "POST /1.0/sign application/json" {
		t.Errorf("request = %q", got)
	}
	block, _ := pem.Decode([]byte(body.CSR))
	if block == nil || block.Type != "CERTIFICATE REQUEST" || string(block.Bytes) != string(csr.Raw) {
		t.Errorf("csr field is not the CSR in PEM")
	}
	if body.NotAfter != "1h30m0s" {
		t.Errorf("notAfter = %q, want the lifetime", body.NotAfter)
	}
	if _, claims := parseToken(t, c, body.OTT); claims.GrantID != testID.GrantID {
		t.Errorf("token grant id = %q", claims.GrantID)
	}

	// No lifetime asked: step-ca's default applies.
	if _, err := c.Sign(t.Context(), testRequest(csr)); err != nil {
		t.Fatal(err)
	}
	if got := rec.bodies[1].NotAfter; got != "" {
		t.Errorf("notAfter = %q without a lifetime, want none", got)
	}
}

// sameKey reports whether two public keys are equal.
func sameKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(x crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func TestSignChains(t *testing.T) {
	p := newTestPKI(t)
	other := newTestPKI(t)
	pemOf := func(certs ...*x509.Certificate) string { return pki.EncodeCerts(certs...) }
	tests := []struct {
		name     string
		lifetime time.Duration
		chain    func(leaf *x509.Certificate) []string
		msg      string // empty: valid
	}{
		{"leaf and intermediate", time.Hour, func(l *x509.Certificate) []string {
			return []string{pemOf(l), pemOf(p.inter)}
		}, ""},
		{"root sent along is dropped", time.Hour, func(l *x509.Certificate) []string {
			return []string{pemOf(l), pemOf(p.inter), pemOf(p.root), pemOf(other.root)}
		}, ""},
		{"no certChain, ca used", time.Hour, func(*x509.Certificate) []string { return nil }, ""},
		{"repeated intermediate", time.Hour, func(l *x509.Certificate) []string {
			return []string{pemOf(l), pemOf(p.inter), pemOf(p.inter)}
		}, ""},
		{"only roots", time.Hour, func(l *x509.Certificate) []string {
			return []string{pemOf(l), pemOf(p.root)}
		}, "no intermediate"},
		{"two certificates in one entry", time.Hour, func(l *x509.Certificate) []string {
			return []string{pemOf(l, p.inter)}
		}, "holds 2"},
		{"entry not PEM", time.Hour, func(*x509.Certificate) []string {
			return []string{"junk"}
		}, "certChain[0]"},
		{"leaf outlives its issuer", 2 * 365 * 24 * time.Hour, func(l *x509.Certificate) []string {
			return []string{pemOf(l), pemOf(p.inter)}
		}, "after its issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, p, &recorder{answer: p.issue(t, tt.lifetime, tt.chain)})
			c := newTestClient(t, p, srv.URL, 0)
			_, csr := testCSR(t, nil)
			ic, err := c.Sign(t.Context(), testRequest(csr))
			if tt.msg != "" {
				wantError(t, err, mosaic.KindUpstream, "ca_failed")
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("error %q does not say %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if len(ic.Intermediates) != 1 || !ic.Intermediates[0].Equal(p.inter) ||
				len(ic.Roots) != 1 || !ic.Roots[0].Equal(p.root) {
				t.Errorf("chain = %d intermediates, %d roots", len(ic.Intermediates), len(ic.Roots))
			}
		})
	}
}

func TestSignRefusesRequests(t *testing.T) {
	p := newTestPKI(t)
	rec := &recorder{answer: func(w http.ResponseWriter, _ signRequest) {
		answerJSON(w, http.StatusInternalServerError, nil)
	}}
	srv := startServer(t, p, rec)
	c := newTestClient(t, p, srv.URL, 0)
	_, csr := testCSR(t, nil)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, p384)
	csr384, _ := x509.ParseCertificateRequest(der)
	change := func(f func(*mosaic.SignRequest)) mosaic.SignRequest {
		r := testRequest(csr)
		f(&r)
		return r
	}
	tests := []struct {
		name string
		req  mosaic.SignRequest
		code string
	}{
		{"no common name", change(func(r *mosaic.SignRequest) { r.CommonName = "" }),
			"invalid_common_name"},
		{"no CSR", change(func(r *mosaic.SignRequest) { r.CSR = nil }), "invalid_csr"},
		{"P-384 key", change(func(r *mosaic.SignRequest) { r.CSR = csr384 }), "csr_key_unsupported"},
		{"negative lifetime", change(func(r *mosaic.SignRequest) { r.Lifetime = -time.Hour }),
			"invalid_lifetime"},
		{"empty grant id", change(func(r *mosaic.SignRequest) { r.Identity.GrantID = "" }),
			"invalid_identity"},
		{"user id not UTF-8", change(func(r *mosaic.SignRequest) {
			r.Identity.SubjectUserID = "\xff"
		}), "invalid_identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Sign(t.Context(), tt.req)
			wantError(t, err, mosaic.KindInvalid, tt.code)
		})
	}
	if n := rec.requests(); n != 0 {
		t.Errorf("step-ca got %d requests for invalid ones", n)
	}
}

func TestSignFailures(t *testing.T) {
	p := newTestPKI(t)
	status := func(code int, message string) func(http.ResponseWriter, signRequest) {
		return func(w http.ResponseWriter, _ signRequest) {
			answerJSON(w, code, map[string]string{"message": message})
		}
	}
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, signRequest)
		kind   mosaic.Kind
		code   string
	}{
		{"401", status(401, "The request lacked necessary authorization."),
			mosaic.KindUpstream, "ca_refused"},
		{"403", status(403, "error validating certificate request"),
			mosaic.KindUpstream, "ca_refused"},
		{"400", status(400, "bad request"), mosaic.KindUpstream, "ca_failed"},
		{"404", status(404, "not found"), mosaic.KindUpstream, "ca_failed"},
		{"500", status(500, "internal"), mosaic.KindUpstream, "ca_failed"},
		{"502", status(502, "bad gateway"), mosaic.KindUnavailable, "ca_unavailable"},
		{"503", status(503, "unavailable"), mosaic.KindUnavailable, "ca_unavailable"},
		{"504", status(504, "timeout"), mosaic.KindUnavailable, "ca_unavailable"},
		{"429", status(429, "slow down"), mosaic.KindUnavailable, "ca_unavailable"},
		{"redirect not followed", func(w http.ResponseWriter, _ signRequest) {
			w.Header().Set("Location", "https://elsewhere.example/1.0/sign")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}, mosaic.KindUpstream, "ca_failed"},
		{"token repeated in the message", func(w http.ResponseWriter, body signRequest) {
			answerJSON(w, 401, map[string]string{"message": "bad token " + body.OTT})
		}, mosaic.KindUpstream, "ca_refused"},
		{"token repeated in a plain body", func(w http.ResponseWriter, body signRequest) {
			w.WriteHeader(500)
			_, _ = io.WriteString(w, "token parts: "+strings.ReplaceAll(body.OTT, ".", " "))
		}, mosaic.KindUpstream, "ca_failed"},
		{"answer not JSON", func(w http.ResponseWriter, _ signRequest) {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "<html>")
		}, mosaic.KindUpstream, "ca_failed"},
		{"answer too large", func(w http.ResponseWriter, _ signRequest) {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(make([]byte, maxAnswer+10))
		}, mosaic.KindUpstream, "ca_failed"},
		{"no certificate", func(w http.ResponseWriter, _ signRequest) {
			answerJSON(w, http.StatusCreated, signResponse{})
		}, mosaic.KindUpstream, "ca_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{answer: tt.answer}
			srv := startServer(t, p, rec)
			c := newTestClient(t, p, srv.URL, 0)
			_, csr := testCSR(t, nil)
			_, err := c.Sign(t.Context(), testRequest(csr))
			wantError(t, err, tt.kind, tt.code)
			if rec.requests() != 1 {
				t.Fatalf("step-ca got %d requests, want 1", rec.requests())
			}
			ott := rec.bodies[0].OTT
			wantNoSecret(t, err, ott)
			for _, part := range strings.Split(ott, ".") {
				wantNoSecret(t, err, part)
			}
		})
	}
}

func TestSignTransportFailures(t *testing.T) {
	p := newTestPKI(t)

	// A server whose certificate comes from another CA.
	untrusted := newTestPKI(t)
	impostor := startServer(t, untrusted, &recorder{answer: p.issue(t, time.Hour,
		func(*x509.Certificate) []string { return nil })})

	// A port nobody listens on.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "https://" + closed.Addr().String()
	closed.Close()

	// A listener that accepts and never answers.
	silent := silentListener(t)

	tests := []struct {
		name string
		url  string
		kind mosaic.Kind
		code string
		msg  string
	}{
		{"TLS from another root", impostor.URL, mosaic.KindUpstream, "ca_failed",
			"does not verify against the configured root"},
		{"connection refused", closedURL, mosaic.KindUnavailable, "ca_unavailable", "unreachable"},
		{"never answers", "https://" + silent, mosaic.KindUnavailable, "ca_unavailable",
			"did not answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, p, tt.url, 300*time.Millisecond)
			_, csr := testCSR(t, nil)
			start := time.Now()
			_, err := c.Sign(t.Context(), testRequest(csr))
			wantError(t, err, tt.kind, tt.code)
			if !strings.Contains(mosaic.ErrorMessage(err), tt.msg) {
				t.Errorf("message %q does not say %q", mosaic.ErrorMessage(err), tt.msg)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Sign took %s with a 300ms timeout", d)
			}
		})
	}
}

// SilentListener is silentListener for the external tests of this
// package (it exists only while testing).
var SilentListener = silentListener

// silentListener accepts TCP connections on loopback and never writes to
// them, until the test ends. It returns its address.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestSignCancelled(t *testing.T) {
	p := newTestPKI(t)
	c := newTestClient(t, p, "https://"+silentListener(t), time.Minute)
	_, csr := testCSR(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := c.Sign(ctx, testRequest(csr))
	wantError(t, err, mosaic.KindUnavailable, "ca_unavailable")
}
