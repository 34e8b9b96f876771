package httpapi

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The tests of corked answers serve real TLS on loopback: the TCP
// connections are counted (each Write a system call), then corkable, then
// TLS, as on the federation listener.

// corkTestCert is a self-signed certificate for 127.0.0.1 and a pool that
// trusts it.
type corkTestCert struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// corkCert makes the certificate once for all the tests.
var corkCert = sync.OnceValues(func() (*corkTestCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "cork test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &corkTestCert{
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pool: pool,
	}, nil
})

// countingListener keeps the connections it accepts, each counting its
// writes.
type countingListener struct {
	net.Listener
	mu       sync.Mutex
	accepted []*countingConn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c}
	l.mu.Lock()
	l.accepted = append(l.accepted, cc)
	l.mu.Unlock()
	return cc, nil
}

// conns returns the connections accepted so far.
func (l *countingListener) conns() []*countingConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*countingConn(nil), l.accepted...)
}

// only returns the one connection accepted, failing the test if there were
// more or none.
func (l *countingListener) only(t *testing.T) *countingConn {
	t.Helper()
	conns := l.conns()
	if len(conns) != 1 {
		t.Fatalf("%d connections accepted, want 1", len(conns))
	}
	return conns[0]
}

// countingConn records the size of every write. A write is recorded before
// it is made, so a client that has read its bytes sees it counted.
type countingConn struct {
	net.Conn
	mu    sync.Mutex
	sizes []int
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.sizes = append(c.sizes, len(b))
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// writes returns the sizes of the writes made so far.
func (c *countingConn) writes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.sizes...)
}

// written returns how many bytes were written so far.
func (c *countingConn) written() int {
	n := 0
	for _, s := range c.writes() {
		n += s
	}
	return n
}

// corkSetup is how a test server is built: corkable connections, the
// ConnContext, and whether it offers HTTP/2.
type corkSetup struct {
	cork, connContext, h2 bool
}

// corkServer is a TLS server on loopback over counted connections.
type corkServer struct {
	addr string
	url  string
	pool *x509.CertPool
	srv  *http.Server
	ln   *countingListener
}

// startCorked starts h on a server built as the federation listener is.
func startCorked(t *testing.T, h http.Handler) *corkServer {
	t.Helper()
	return startCorkServer(t, h, corkSetup{cork: true, connContext: true})
}

// startCorkServer starts h on a TLS server built as setup says.
func startCorkServer(t *testing.T, h http.Handler, setup corkSetup) *corkServer {
	t.Helper()
	cert, err := corkCert()
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingListener{Listener: tcp}
	var ln net.Listener = counted
	if setup.cork {
		ln = CorkListener(ln)
	}
	protos := []string{"http/1.1"}
	if setup.h2 {
		protos = []string{"h2", "http/1.1"}
	}
	ln = tls.NewListener(ln, &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert.cert},
		NextProtos:   protos,
	})

	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	if setup.connContext {
		srv.ConnContext = ConnContext
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := tcp.Addr().String()
	return &corkServer{addr: addr, url: "https://" + addr, pool: cert.pool, srv: srv, ln: counted}
}

// client returns a client of s that keeps its connection alive, asking for
// HTTP/2 when h2 is set.
func (s *corkServer) client(t *testing.T, h2 bool) *http.Client {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: s.pool},
		ForceAttemptHTTP2:     h2,
		ExpectContinueTimeout: 10 * time.Second,
		MaxConnsPerHost:       1,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// dial opens a TLS connection to s, its handshake done.
func (s *corkServer) dial(t *testing.T) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

// corkMiddleware wraps h in the package's middleware, logging nowhere.
func corkMiddleware(h http.HandlerFunc) http.Handler {
	s := &server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return s.middleware(h)
}

// corkBody returns n bytes of a pattern that differs with seed.
func corkBody(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (i/7+seed)%26)
	}
	return b
}

// answerPath asks answerHandler for n bytes of seed's pattern, with a
// Content-Length when withLength is set.
func answerPath(n, seed int, withLength bool) string {
	cl := 0
	if withLength {
		cl = 1
	}
	return fmt.Sprintf("/answer?n=%d&seed=%d&cl=%d", n, seed, cl)
}

// answerHandler writes the answer its query asks for (see answerPath).
// With a Content-Length it writes all but the last 100 bytes at once, then
// those, which stay in net/http's buffer until the answer is flushed.
// Without, it writes pieces of 1000 bytes.
func answerHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	seed, _ := strconv.Atoi(q.Get("seed"))
	body := corkBody(n, seed)
	if q.Get("cl") == "1" {
		w.Header().Set("Content-Length", strconv.Itoa(n))
		last := max(0, n-100)
		_, _ = w.Write(body[:last])
		_, _ = w.Write(body[last:])
		return
	}
	for len(body) > 0 {
		k := min(1000, len(body))
		if _, err := w.Write(body[:k]); err != nil {
			return
		}
		body = body[k:]
	}
}

// get sends a GET of url and returns the answer with its whole body.
func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// wantAnswer gets answerHandler's answer of n bytes and checks it.
func wantAnswer(t *testing.T, c *http.Client, s *corkServer, n, seed int,
	withLength bool) *http.Response {
	t.Helper()
	resp, body := get(t, c, s.url+answerPath(n, seed, withLength))
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, corkBody(n, seed)) {
		t.Fatalf("answer of %d bytes: status %d, %d bytes, not the ones written",
			n, resp.StatusCode, len(body))
	}
	return resp
}
