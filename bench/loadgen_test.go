package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/pki"
)

// tlsFiles are a server certificate and its CA, and a client certificate
// and key, as PEM files.
type tlsFiles struct {
	serverCA, clientCert, clientKey string
	server                          tls.Certificate
}

// newTLSFiles makes the certificates of a mutual TLS test in dir.
func newTLSFiles(t *testing.T, dir string) tlsFiles {
	t.Helper()
	certPEM, keyPEM, caPEM, err := serverCertificate()
	if err != nil {
		t.Fatal(err)
	}
	server, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	clientKey, err := ecKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	f := tlsFiles{
		serverCA:   filepath.Join(dir, "ca.pem"),
		clientCert: filepath.Join(dir, "client.pem"),
		clientKey:  filepath.Join(dir, "client.key"),
		server:     server,
	}
	cert, _ := x509.ParseCertificate(der)
	for path, data := range map[string][]byte{
		f.serverCA: caPEM, f.clientCert: []byte(pki.EncodeCerts(cert)), f.clientKey: clientKey,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// serveTLS serves h over TLS on a loopback port, with the given client
// authentication, and returns its base URL.
func serveTLS(t *testing.T, f tlsFiles, auth tls.ClientAuthType, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0), TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{f.server},
		ClientAuth:   auth,
	}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

func TestRunReads(t *testing.T) {
	f := newTLSFiles(t, t.TempDir())
	var conns atomic.Int64
	var served atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 1 {
			t.Errorf("request over %s, want HTTP/1.1", r.Proto)
		}
		if len(r.TLS.PeerCertificates) == 0 {
			t.Error("no client certificate")
		}
		if served.Add(1)%10 == 0 {
			http.Error(w, `{"error":{"code":"audit_unavailable"}}`, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"items":[]}`))
	})
	url := serveTLS(t, f, tls.RequireAnyClientCert, h)

	cfg, err := ClientTLS(f.serverCA, f.clientCert, f.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg.VerifyConnection = func(tls.ConnectionState) error { conns.Add(1); return nil }
	res, err := RunReads(context.Background(), ReadConfig{
		URL: url + "/page", TLS: cfg, Clients: 4,
		Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.RPS <= 0 || res.P50Ms <= 0 || res.P99Ms < res.P50Ms {
		t.Errorf("result %+v: want requests, a rate and ordered latencies", res)
	}
	if res.Errors == 0 || !strings.Contains(res.FirstError, "503 audit_unavailable") {
		t.Errorf("errors %d (%q): every tenth answer was a 503", res.Errors, res.FirstError)
	}
	if got := conns.Load(); got != 4 {
		t.Errorf("%d TLS handshakes for 4 keep-alive clients, want 4", got)
	}
	if res.Seconds < 0.3 || res.Seconds > 0.3+readGrace.Seconds() {
		t.Errorf("measured phase took %.2fs, want about 0.3s", res.Seconds)
	}
}

func TestRunReadsCutsSlowAnswers(t *testing.T) {
	f := newTLSFiles(t, t.TempDir())
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	url := serveTLS(t, f, tls.RequireAnyClientCert,
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	cfg, err := ClientTLS(f.serverCA, f.clientCert, f.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := RunReads(context.Background(), ReadConfig{
		URL: url, TLS: cfg, Clients: 2, Duration: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 100*time.Millisecond+readGrace+time.Second {
		t.Errorf("a phase whose answers never come took %s", took)
	}
	if res.Errors != 2 || res.RPS != 0 {
		t.Errorf("result %+v: want the 2 unanswered requests counted as failed", res)
	}
}

func TestRunEnrollments(t *testing.T) {
	f := newTLSFiles(t, t.TempDir())
	used := &seenPaths{seen: map[string]bool{}}
	url := serveTLS(t, f, tls.NoClientCert, http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		var body struct {
			CSRPEM string `json:"csrPem"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.CSRPEM == "" {
			http.Error(w, `{"error":{"code":"invalid_json"}}`, http.StatusBadRequest)
			return
		}
		if !used.first(r.URL.Path) {
			http.Error(w, `{"error":{"code":"token_used"}}`, http.StatusGone)
			return
		}
		w.Write([]byte(`{"certPem":"x"}`))
	}))
	cfg, err := ClientTLS(f.serverCA, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var jobs []EnrollJob
	for _, tok := range []string{"a", "b", "c", "a"} {
		jobs = append(jobs, EnrollJob{
			URL: url + "/api/federation/enrollment/" + tok + "#ca=sha256:00", CSRPEM: "csr",
		})
	}
	res, err := RunEnrollments(context.Background(), EnrollConfig{
		Jobs: jobs, TLS: cfg, Clients: 2, MaxDuration: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 4 || res.Errors != 1 || !strings.Contains(res.FirstError, "410 token_used") {
		t.Errorf("result %+v: want 4 requests, the repeated token refused", res)
	}
	if strings.Contains(res.FirstError, "/enrollment/") {
		t.Errorf("error %q names the URL, which holds a token", res.FirstError)
	}
}

// seenPaths remembers which paths were seen.
type seenPaths struct {
	mu   sync.Mutex
	seen map[string]bool
}

// first reports whether path is seen for the first time.
func (s *seenPaths) first(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := !s.seen[path]
	s.seen[path] = true
	return ok
}

func TestStripFragment(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://b/api/federation/enrollment/tok#ca=sha256:ab",
			"https://b/api/federation/enrollment/tok"},
		{"https://b/x", "https://b/x"},
	}
	for _, tt := range tests {
		if got := stripFragment(tt.in); got != tt.want {
			t.Errorf("stripFragment(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
