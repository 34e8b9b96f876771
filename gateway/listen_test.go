package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFederationTLS(t *testing.T) {
	t.Parallel()
	gateways := []struct {
		name      string
		publicURL string
		host      string // the host the certificate must name
	}{
		{"default public URL", "", "127.0.0.1"},
		{"public URL with a DNS name", "https://b.example.test:8443", "b.example.test"},
	}
	for _, g := range gateways {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			n := start(t, t.TempDir(), options{publicURL: g.publicURL})
			if g.publicURL != "" && n.info.PublicURL != g.publicURL {
				t.Errorf("publicUrl %q, want %q", n.info.PublicURL, g.publicURL)
			}
			u, err := url.Parse(n.info.PublicURL)
			if err != nil || u.Hostname() != g.host {
				t.Fatalf("publicUrl %q: want host %s", n.info.PublicURL, g.host)
			}
			roots := x509.NewCertPool()
			roots.AddCert(fetchCA(t, n))
			checkHandshakes(t, n.fedAddr.String(), g.host, roots)
		})
	}
}

// checkHandshakes dials addr with several TLS client configurations: only
// TLS 1.2 and later, verified against roots for host, may succeed.
func checkHandshakes(t *testing.T, addr, host string, roots *x509.CertPool) {
	t.Helper()
	tests := []struct {
		name        string
		conf        *tls.Config
		wantVersion uint16 // 0: the handshake must fail
		wantErr     string // part of the handshake's error
	}{
		{"TLS 1.1 only", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
			RootCAs: roots, ServerName: host}, 0, "protocol version"},
		{"TLS 1.2", &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
			RootCAs: roots, ServerName: host}, tls.VersionTLS12, ""},
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots, ServerName: host},
			tls.VersionTLS13, ""},
		{"another host name", &tls.Config{RootCAs: roots, ServerName: "other.example.test"},
			0, "other.example.test"},
		{"another CA", &tls.Config{RootCAs: x509.NewCertPool(), ServerName: host},
			0, "unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &net.Dialer{Timeout: httpTimeout}
			conn, err := tls.DialWithDialer(d, "tcp", addr, tt.conf)
			if tt.wantVersion == 0 {
				if err == nil {
					conn.Close()
					t.Fatal("handshake succeeded")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("handshake error %q, want one about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			st := conn.ConnectionState()
			if st.Version != tt.wantVersion {
				t.Errorf("version %x, want %x", st.Version, tt.wantVersion)
			}
			if len(st.VerifiedChains) == 0 {
				t.Error("no verified chain")
			}
		})
	}
}

// TestIdleConnectionsClosed opens connections to both listeners and sends
// nothing: the header timeout must close them. The timeout is 10 seconds,
// so the test waits that long (in parallel with the others); it only
// checks that the close happens within a generous bound.
func TestIdleConnectionsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the header timeout")
	}
	t.Parallel()
	n := start(t, t.TempDir(), options{})
	const bound = 60 * time.Second
	addrs := map[string]string{"admin": n.adminAddr.String(), "federation": n.fedAddr.String()}
	for name, addr := range addrs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.DialTimeout("tcp", addr, httpTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetReadDeadline(time.Now().Add(bound)); err != nil {
				t.Fatal(err)
			}
			begun := time.Now()
			// Read until the server closes the connection (EOF is a nil
			// error here) or the bound passes.
			_, err = io.Copy(io.Discard, conn)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("connection still open after %s", bound)
			}
			t.Logf("closed after %s (%v)", time.Since(begun).Round(time.Second), err)
		})
	}
}
