package remote

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/pki"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newTestCA returns a self-signed root CA named name.
func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert := sign(t, tmpl, tmpl, &key.PublicKey, key)
	return &testCA{cert: cert, key: key}
}

// pem returns the CA certificate as PEM.
func (ca *testCA) pem() string { return pki.EncodeCerts(ca.cert) }

// pin returns the CA's pin.
func (ca *testCA) pin() string { return pki.Pin(ca.cert) }

// pool returns a pool holding only this CA.
func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue signs a leaf certificate from tmpl with a fresh key.
func (ca *testCA) issue(t *testing.T, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	cert := sign(t, tmpl, ca.cert, &key.PublicKey, ca.key)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// serverCert issues a TLS server certificate for the given names; no names
// means 127.0.0.1.
func (ca *testCA) serverCert(t *testing.T, dnsNames ...string) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "gateway"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dnsNames,
	}
	if len(dnsNames) == 0 {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	return ca.issue(t, tmpl)
}

// clientCert issues a TLS client certificate with the common name cn.
func (ca *testCA) clientCert(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	return ca.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// newKey returns a fresh P-256 key.
func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sign creates a certificate from tmpl, signed by parent's key.
func sign(t *testing.T, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey,
	signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// grantor is a TLS server on loopback that answers the federation API's CA
// and enrollment endpoints the way a grantor gateway does, and records the
// enrollment requests that reach it.
type grantor struct {
	srv     *httptest.Server
	calls   atomic.Int32
	mu      sync.Mutex
	gotCSR  string
	gotPath string
}

// grantorConfig says what a grantor serves.
type grantorConfig struct {
	cert         tls.Certificate // the TLS server certificate
	bundle       string          // the body of GET /api/federation/ca
	bundleStatus int             // zero means 200
	status       int             // the enrollment status; zero means 200
	answer       any             // the enrollment body, JSON-encoded unless a string
}

// startGrantor starts a grantor on 127.0.0.1:0, stopped when the test ends.
func startGrantor(t *testing.T, cfg grantorConfig) *grantor {
	t.Helper()
	g := &grantor{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/federation/ca", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pem-certificate-chain")
		if cfg.bundleStatus != 0 {
			w.WriteHeader(cfg.bundleStatus)
		}
		_, _ = w.Write([]byte(cfg.bundle))
	})
	mux.HandleFunc("POST /api/federation/enrollment/{token}", func(w http.ResponseWriter,
		r *http.Request) {
		g.calls.Add(1)
		var req struct {
			CSRPEM string `json:"csrPem"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		g.mu.Lock()
		g.gotCSR, g.gotPath = req.CSRPEM, r.URL.Path
		g.mu.Unlock()
		writeAnswer(w, cfg.status, cfg.answer)
	})
	g.srv = httptest.NewUnstartedServer(mux)
	g.srv.Config.ErrorLog = quietLog()
	g.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cfg.cert}}
	g.srv.StartTLS()
	t.Cleanup(g.srv.Close)
	return g
}

// writeAnswer writes status (zero means 200) and body: a string as is,
// anything else as JSON.
func writeAnswer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	if status != 0 {
		w.WriteHeader(status)
	}
	if s, ok := body.(string); ok {
		_, _ = w.Write([]byte(s))
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// quietLog returns a logger for test servers that discards the handshake
// failures the tests provoke on purpose.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// apiError returns a Mosaic error body.
func apiError(code, message string) map[string]any {
	return map[string]any{"error": map[string]any{
		"code": code, "message": message, "requestId": "req-1",
	}}
}
