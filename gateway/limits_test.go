package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

// limited is a gateway run with a configuration the test chose.
type limited struct {
	admin, fed net.Addr
	root       *x509.Certificate
}

// startLimited runs a gateway in t.TempDir() with cfg's limits and
// rateEnv as MOSAIC_ENROLL_RATE_LIMIT, on loopback ports of its own, until
// the test ends.
func startLimited(t *testing.T, cfg gateway.Config, rateEnv string) *limited {
	t.Helper()
	env := map[string]string{seal.EnvSecret: strongSecret, gateway.EnvEnrollRateLimit: rateEnv}
	cfg.DataDir, cfg.AdminAddr, cfg.FederationAddr = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	cfg.Env = func(k string) string { return env[k] }
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ready := make(chan [2]net.Addr, 1)
	cfg.Ready = func(admin, fed net.Addr) { ready <- [2]net.Addr{admin, fed} }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gateway.Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(stopTimeout):
			t.Errorf("gateway still running %s after its stop", stopTimeout)
		}
	})
	select {
	case a := <-ready:
		return &limited{admin: a[0], fed: a[1], root: limitedRoot(t, a[1])}
	case err := <-done:
		t.Fatalf("gateway did not start: %v", err)
	case <-time.After(startTimeout):
		t.Fatalf("gateway not ready after %s", startTimeout)
	}
	return nil
}

// limitedRoot returns the CA root a federation listener serves; the bundle
// is public, so the server is not verified for it.
func limitedRoot(t *testing.T, fed net.Addr) *x509.Certificate {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Timeout: httpTimeout, Transport: tr}).
		Get("https://" + fed.String() + "/api/federation/ca")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCerts(string(data))
	if err != nil || len(certs) == 0 {
		t.Fatalf("CA bundle: %v", err)
	}
	return certs[0]
}

func TestFederationCipherSuites(t *testing.T) {
	t.Parallel()
	n := startLimited(t, gateway.Config{}, "")
	roots := x509.NewCertPool()
	roots.AddCert(n.root)
	tls12 := func(suites ...uint16) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12,
			MaxVersion: tls.VersionTLS12, CipherSuites: suites}
	}
	tests := []struct {
		name      string
		conf      *tls.Config
		wantSuite uint16 // 0: the handshake must fail
	}{
		{"TLS 1.2 CBC only", tls12(
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA), 0},
		{"TLS 1.2 RSA key exchange only", tls12(
			tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384), 0},
		{"TLS 1.2 ECDHE AES-GCM", tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{"TLS 1.2 ECDHE ChaCha20", tls12(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &net.Dialer{Timeout: httpTimeout}
			conn, err := tls.DialWithDialer(d, "tcp", n.fed.String(), tt.conf)
			if tt.wantSuite == 0 {
				if err == nil {
					suite := conn.ConnectionState().CipherSuite
					conn.Close()
					t.Fatalf("handshake succeeded with %s", tls.CipherSuiteName(suite))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			if got := conn.ConnectionState().CipherSuite; got != tt.wantSuite {
				t.Errorf("suite %s, want %s", tls.CipherSuiteName(got),
					tls.CipherSuiteName(tt.wantSuite))
			}
		})
	}

	// A client that offers both gets TLS 1.3.
	conn, err := tls.Dial("tcp", n.fed.String(), &tls.Config{RootCAs: roots,
		ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if v := conn.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("negotiated version %x, want TLS 1.3", v)
	}
}

// TestConnectionCap fills each listener's connection slots with idle
// keep-alive connections: another connection is not served until one of
// them closes, and then it is. That it is not served is checked for a
// short while only; that it is served afterwards, within a generous bound.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	const maxConns = 2
	n := startLimited(t, gateway.Config{MaxConnections: maxConns}, "")
	roots := x509.NewCertPool()
	roots.AddCert(n.root)
	listeners := []struct {
		name, addr, path string
		tls              *tls.Config
	}{
		{"admin", n.admin.String(), "/healthz", nil},
		{"federation", n.fed.String(), "/api/federation/ca",
			&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}},
	}
	for _, l := range listeners {
		t.Run(l.name, func(t *testing.T) {
			var held []net.Conn
			for range maxConns {
				c := dialFor(t, l.addr, l.tls)
				if status, err := getStatus(c, l.path); err != nil || status != 200 {
					t.Fatalf("connection within the cap: %d, %v", status, err)
				}
				held = append(held, c)
			}

			// One more is left waiting while the slots are taken.
			extra := dialFor(t, l.addr, l.tls)
			answered := make(chan error, 1)
			go func() {
				status, err := getStatus(extra, l.path)
				if err == nil && status != 200 {
					err = fmt.Errorf("status %d", status)
				}
				answered <- err
			}()
			select {
			case err := <-answered:
				t.Fatalf("connection over the cap served at once (%v)", err)
			case <-time.After(500 * time.Millisecond):
			}

			// Closing one lets it in.
			held[0].Close()
			select {
			case err := <-answered:
				if err != nil {
					t.Fatalf("connection after a slot freed: %v", err)
				}
			case <-time.After(httpTimeout):
				t.Fatalf("connection not served %s after a slot freed", httpTimeout)
			}
		})
	}
}

// dialFor opens a connection to addr, with TLS when conf is set; the TLS
// handshake happens on first use. It is closed when the test ends.
func dialFor(t *testing.T, addr string, conf *tls.Config) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, httpTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if conf != nil {
		c = tls.Client(c, conf)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// getStatus sends GET path over c, keeping it open, and returns the
// answer's status code.
func getStatus(c net.Conn, path string) (int, error) {
	if err := c.SetDeadline(time.Now().Add(httpTimeout)); err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: gateway\r\n\r\n", path); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestEnrollRateLimitSettings sends more enrollment requests than any
// burst below allows: those of the burst always pass, and a limited
// gateway refuses some of the rest however slowly they go (at the default
// 10 a minute, sendN requests would have to take over a minute).
func TestEnrollRateLimitSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     gateway.Config
		env     string
		burst   int  // requests that must pass first
		limited bool // whether later ones must be refused
	}{
		{"default", gateway.Config{}, "", 5, true},
		{"configured", gateway.Config{EnrollRatePerMinute: 1, EnrollBurst: 2}, "", 2, true},
		{"burst only", gateway.Config{EnrollBurst: 1}, "", 1, true},
		{"from the environment", gateway.Config{}, "1/3", 3, true},
		{"configuration over the environment",
			gateway.Config{EnrollRatePerMinute: 1, EnrollBurst: 2}, "off", 2, true},
		{"off", gateway.Config{EnrollRatePerMinute: -1}, "", sendN, false},
		{"off from the environment", gateway.Config{}, "off", sendN, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := startLimited(t, tt.cfg, tt.env)
			client := httpsClient(t, n.root, nil)
			url := "https://" + n.fed.String() + "/api/federation/enrollment/" +
				strings.Repeat("A", 43)
			refused := 0
			for i := 1; i <= sendN; i++ {
				resp, err := client.Post(url, "application/json", strings.NewReader(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusTooManyRequests {
					continue
				}
				refused++
				if i <= tt.burst {
					t.Fatalf("request %d of a burst of %d refused", i, tt.burst)
				}
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
					t.Errorf("request %d: Retry-After %q", i, resp.Header.Get("Retry-After"))
				}
			}
			if tt.limited != (refused > 0) {
				t.Errorf("%d of %d requests refused, want limited %v", refused, sendN, tt.limited)
			}
		})
	}
}

// sendN is how many enrollment requests TestEnrollRateLimitSettings sends.
const sendN = 16

func TestRefusedLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  gateway.Config
		env  string
		want string
	}{
		{"negative connection cap", gateway.Config{MaxConnections: -1}, "", "max connections"},
		{"negative burst", gateway.Config{EnrollBurst: -1}, "", "enrollment burst"},
		{"bad environment", gateway.Config{}, "ten", gateway.EnvEnrollRateLimit},
		{"zero rate in the environment", gateway.Config{}, "0/5", gateway.EnvEnrollRateLimit},
		{"zero burst in the environment", gateway.Config{}, "10/0", gateway.EnvEnrollRateLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.DataDir, cfg.AdminAddr, cfg.FederationAddr = t.TempDir(), "127.0.0.1:0",
				"127.0.0.1:0"
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			cfg.Env = func(k string) string {
				return map[string]string{seal.EnvSecret: strongSecret,
					gateway.EnvEnrollRateLimit: tt.env}[k]
			}
			cfg.Ready = func(net.Addr, net.Addr) { t.Error("gateway started") }
			ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
			defer cancel()
			err := gateway.Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: %v, want an error about %s", err, tt.want)
			}
		})
	}
}
