package gateway

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
)

// Limits of both listeners. Header reads are bounded so a slow client cannot
// hold a connection open without sending a request; the TLS handshake falls
// under the same bound.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 32 << 10
)

// tls12CipherSuites are the suites the federation listener accepts under
// TLS 1.2: ECDHE key exchange with an AEAD cipher only, no CBC, no RSA key
// exchange. TLS 1.3, which Go prefers when both sides speak it, has only
// AEAD suites.
var tls12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// servers builds the admin and federation HTTP servers. Both record into
// one set of metrics, served at the admin listener's GET /metrics.
func (g *gw) servers() (admin, fed *http.Server, err error) {
	metrics := httpapi.NewMetrics(g.svc, httpapi.WithMetricsLogger(g.log))
	admin = g.httpServer(httpapi.NewAdminHandler(g.svc, g.adminHash, g.log,
		httpapi.WithMetrics(metrics),
		httpapi.WithReadiness(g.readiness),
		httpapi.WithAdminTokenLookup(func(ctx context.Context) (string, error) {
			return g.store.GetSetting(ctx, adminTokenSetting)
		})))

	limit, err := g.cfg.enrollLimit()
	if err != nil {
		return nil, nil, err
	}
	fed = g.httpServer(httpapi.NewFederationHandler(g.svc, g.ca.ChainPEM(), g.log,
		httpapi.WithEnrollmentLimit(limit), httpapi.WithFederationMetrics(metrics),
		httpapi.WithCAChain(g.ca.ChainPEM)))
	// Each answer leaves in one write (see httpapi.CorkListener, which
	// serve puts under TLS).
	fed.ConnContext = httpapi.ConnContext
	fed.TLSConfig = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12CipherSuites,
		// Certificates are requested but verified per request by the
		// handler, so that every refusal is answered in JSON and audited;
		// enrollment and the CA endpoint take none.
		ClientAuth: httpapi.FederationClientAuth,
		// Read at each handshake, so that a certificate reissued after a
		// CA rotation is served without a restart.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return g.serverCert.Load(), nil
		},
	}
	return admin, fed, nil
}

// httpServer wraps h with the listener limits and routes the server's own
// error log through slog.
func (g *gw) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

// pemOf returns the PEM of the CA's root, the certificate peers pin.
func pemOf(ca *embedded.CA) string { return pki.EncodeCerts(ca.Root()) }

// listen opens a TCP listener on addr that serves at most maxConns
// connections at once.
func listen(addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return limitListener(ln, maxConns), nil
}

// limitListener returns ln accepting at most n connections at once. While
// n are open, Accept waits for one to close: further clients wait in the
// kernel's accept queue instead of each costing a goroutine and buffers.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// limitedListener is a listener with a semaphore of connection slots.
type limitedListener struct {
	net.Listener
	slots  chan struct{}
	done   chan struct{}
	closed sync.Once
}

// Accept takes a slot, waiting for one if need be, then accepts a
// connection that gives the slot back when it is closed.
func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

// Close closes the listener and ends an Accept waiting for a slot.
func (l *limitedListener) Close() error {
	err := l.Listener.Close()
	l.closed.Do(func() { close(l.done) })
	return err
}

// limitedConn is a connection holding a slot of its listener.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and gives its slot back, once.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
