package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/pki"
)

// Bounds of the waits in these tests; generous so that a slow machine
// running with -race does not make a test flaky.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
	httpTimeout  = 30 * time.Second
)

// strongSecret is a valid operator secret (at least 32 bytes).
const strongSecret = "correct-horse-battery-staple-0123456789"

// syncBuffer is a bytes.Buffer that many goroutines may write to while a
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// options says how to start a test gateway. Empty addresses mean
// 127.0.0.1:0.
type options struct {
	env            map[string]string
	adminAddr      string
	federationAddr string
	publicURL      string
	databaseURL    string
	ca             string
	sweepInterval  time.Duration
}

// config returns the gateway configuration for dataDir and o, logging at
// debug level into logs.
func (o options) config(dataDir string, logs io.Writer) gateway.Config {
	cfg := gateway.Config{
		DataDir:        dataDir,
		AdminAddr:      o.adminAddr,
		FederationAddr: o.federationAddr,
		PublicURL:      o.publicURL,
		DatabaseURL:    o.databaseURL,
		CA:             o.ca,
		SweepInterval:  o.sweepInterval,
		Env:            func(k string) string { return o.env[k] },
		Logger: slog.New(slog.NewTextHandler(logs,
			&slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = "127.0.0.1:0"
	}
	if cfg.FederationAddr == "" {
		cfg.FederationAddr = "127.0.0.1:0"
	}
	return cfg
}

// node is a gateway running in this process.
type node struct {
	dataDir   string
	adminAddr net.Addr
	fedAddr   net.Addr
	info      *gateway.AdminInfo
	logs      *syncBuffer
	cancel    context.CancelFunc
	done      chan error

	stopOnce sync.Once
	stopErr  error
}

// start runs a gateway on dataDir and waits until it is ready. The gateway
// is stopped when the test ends, if the test has not stopped it.
func start(t *testing.T, dataDir string, o options) *node {
	t.Helper()
	n := &node{dataDir: dataDir, logs: &syncBuffer{}, done: make(chan error, 1)}
	type addrs struct{ admin, fed net.Addr }
	ready := make(chan addrs, 1)
	cfg := o.config(dataDir, n.logs)
	cfg.Ready = func(admin, fed net.Addr) { ready <- addrs{admin, fed} }

	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- gateway.Run(ctx, cfg) }()
	t.Cleanup(func() { _ = n.stop() })

	select {
	case a := <-ready:
		n.adminAddr, n.fedAddr = a.admin, a.fed
	case err := <-n.done:
		t.Fatalf("gateway did not start: %v\nlogs:\n%s", err, n.logs)
	case <-time.After(startTimeout):
		t.Fatalf("gateway not ready after %s\nlogs:\n%s", startTimeout, n.logs)
	}
	info, err := gateway.ReadAdminFile(filepath.Join(dataDir, gateway.AdminFile))
	if err != nil {
		t.Fatalf("admin file: %v", err)
	}
	n.info = info
	return n
}

// stop cancels the gateway's context and returns what Run returned. Later
// calls return the same.
func (n *node) stop() error {
	n.stopOnce.Do(func() {
		n.cancel()
		select {
		case n.stopErr = <-n.done:
		case <-time.After(stopTimeout):
			n.stopErr = context.DeadlineExceeded
		}
	})
	return n.stopErr
}

// mustStop stops the gateway and fails the test unless Run returned nil.
func (n *node) mustStop(t *testing.T) {
	t.Helper()
	if err := n.stop(); err != nil {
		t.Fatalf("Run returned %v after cancel", err)
	}
}

// publicBase returns the federation API's base URL on the listener address.
func (n *node) publicBase() string { return "https://" + n.fedAddr.String() }

// runFailing runs a gateway that is expected not to start and returns
// Run's error. Reaching readiness fails the test.
func runFailing(t *testing.T, dataDir string, o options, logs io.Writer) error {
	t.Helper()
	cfg := o.config(dataDir, logs)
	cfg.Ready = func(net.Addr, net.Addr) { t.Error("gateway became ready") }
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err := gateway.Run(ctx, cfg)
	if err == nil {
		t.Fatal("Run returned nil")
	}
	return err
}

// admin calls the gateway's admin API with its admin token and returns the
// status and body. A non-nil body is sent as JSON.
func (n *node) admin(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	return call(t, method, n.info.AdminURL+path, "Bearer "+n.info.AdminToken, body)
}

// mustAdmin is admin that fails the test unless the status is want, and
// decodes the answer into out when out is not nil.
func (n *node) mustAdmin(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	status, data := n.admin(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

// call makes one plain HTTP request with an optional Authorization header
// and JSON body, and returns the status and body.
func call(t *testing.T, method, url, auth string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	client := &http.Client{Timeout: httpTimeout}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// errorCode returns the code of a Mosaic error body, or "" if it is none.
func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// fetchCA gets the CA bundle a gateway's federation listener serves,
// without verifying the server (the bundle is public), and returns its
// root: the first certificate, which must be a self-signed CA.
func fetchCA(t *testing.T, n *node) *x509.Certificate {
	t.Helper()
	client := &http.Client{Timeout: httpTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(n.publicBase() + "/api/federation/ca")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/federation/ca: status %d: %s", resp.StatusCode, data)
	}
	certs, err := pki.ParseCerts(string(data))
	if err != nil {
		t.Fatalf("CA bundle: %v", err)
	}
	root := certs[0]
	if !root.IsCA || root.CheckSignatureFrom(root) != nil {
		t.Fatalf("first certificate of the CA bundle (%s) is not a self-signed CA",
			root.Subject)
	}
	return root
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. Only tests that do not run in parallel use it, so that no other
// test takes the port in between.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// assertNotListening fails the test if anything accepts connections on
// addr.
func assertNotListening(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections", addr)
	}
}

// assertNoSecrets fails the test if logs hold any of the secrets or a
// private key.
func assertNoSecrets(t *testing.T, name, logs string, secrets map[string]string) {
	t.Helper()
	if strings.Contains(logs, "PRIVATE KEY") {
		t.Errorf("%s logs hold a private key", name)
	}
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("%s: empty secret %q to look for", name, what)
		}
		if strings.Contains(logs, s) {
			t.Errorf("%s logs hold the %s", name, what)
		}
	}
}
