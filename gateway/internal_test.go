package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func TestResolvePublicURL(t *testing.T) {
	tests := []struct {
		name    string
		given   string
		want    string
		wantErr bool
	}{
		{name: "derived from the listener", given: "", want: "https://127.0.0.1:8443"},
		{name: "host and port", given: "https://b.example:9443", want: "https://b.example:9443"},
		{name: "trailing slash dropped", given: "https://b.example/", want: "https://b.example"},
		{name: "IPv6 host", given: "https://[::1]:8443", want: "https://[::1]:8443"},
		{name: "http refused", given: "http://b.example", wantErr: true},
		{name: "no host", given: "https://", wantErr: true},
		{name: "user information", given: "https://u:p@b.example", wantErr: true},
		{name: "path", given: "https://b.example/mosaic", wantErr: true},
		{name: "query", given: "https://b.example?x=1", wantErr: true},
		{name: "fragment", given: "https://b.example#x", wantErr: true},
		{name: "not a URL", given: "https://b.example:port", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolvePublicURL(tt.given, "127.0.0.1:8443")
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestServerLimits checks the limits of both HTTP servers directly: the
// header timeout in particular, which a behavioural test can only observe
// by waiting for it.
func TestServerLimits(t *testing.T) {
	cfg := Config{
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Env:     func(string) string { return "" },
	}.withDefaults()
	g, err := open(context.Background(), cfg, "https://127.0.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	admin, fed, err := g.servers()
	if err != nil {
		t.Fatal(err)
	}

	for name, srv := range map[string]*http.Server{"admin": admin, "federation": fed} {
		t.Run(name, func(t *testing.T) {
			limits := map[string]time.Duration{
				"ReadHeaderTimeout": srv.ReadHeaderTimeout,
				"ReadTimeout":       srv.ReadTimeout,
				"WriteTimeout":      srv.WriteTimeout,
				"IdleTimeout":       srv.IdleTimeout,
			}
			for field, d := range limits {
				if d <= 0 || d > 5*time.Minute {
					t.Errorf("%s = %s, want a bound of at most 5m", field, d)
				}
			}
			if srv.ReadHeaderTimeout > srv.ReadTimeout {
				t.Errorf("ReadHeaderTimeout %s exceeds ReadTimeout %s",
					srv.ReadHeaderTimeout, srv.ReadTimeout)
			}
			if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
				t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
			}
			if srv.ErrorLog == nil {
				t.Error("no ErrorLog: server errors would bypass the logger")
			}
		})
	}

	if admin.TLSConfig != nil {
		t.Error("the admin server has a TLS configuration")
	}
	tc := fed.TLSConfig
	switch {
	case tc == nil:
		t.Fatal("the federation server has no TLS configuration")
	case tc.MinVersion != tls.VersionTLS12:
		t.Errorf("MinVersion %x, want TLS 1.2", tc.MinVersion)
	case tc.ClientAuth != tls.RequestClientCert:
		t.Errorf("ClientAuth %v, want RequestClientCert (verified by the handler)", tc.ClientAuth)
	case tc.GetCertificate == nil:
		t.Error("no GetCertificate callback")
	}
}

func TestDoctorSecretCheck(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	cfg := Config{DataDir: dir, Env: func(k string) string { return env[k] }}.withDefaults()

	if c := secretCheck(cfg); c.Status != mosaic.CheckWarn {
		t.Errorf("no secret anywhere: %s (%s), want warn", c.Status, c.Reason)
	}
	env["MOSAIC_SECRET"] = "short"
	if c := secretCheck(cfg); c.Status != mosaic.CheckFail {
		t.Errorf("short secret: %s (%s), want fail", c.Status, c.Reason)
	}
	env["MOSAIC_SECRET"] = strings.Repeat("s", 40)
	if c := secretCheck(cfg); c.Status != mosaic.CheckOK || strings.Contains(c.Reason, "sss") {
		t.Errorf("secret in the environment: %s (%s), want ok without the value", c.Status, c.Reason)
	}
	delete(env, "MOSAIC_SECRET")
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(strings.Repeat("s", 40)), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := secretCheck(cfg); c.Status != mosaic.CheckFail {
		t.Errorf("secret file readable by others: %s (%s), want fail", c.Status, c.Reason)
	}
}
