package gateway

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
)

// Limits of both listeners. Header reads are bounded so a slow client cannot
// hold a connection open without sending a request.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 32 << 10
)

// servers builds the admin and federation HTTP servers.
func (g *gw) servers() (admin, fed *http.Server, err error) {
	admin = g.httpServer(httpapi.NewAdminHandler(g.svc, g.adminHash, g.log,
		httpapi.WithReadiness(g.readiness),
		httpapi.WithAdminTokenLookup(func(ctx context.Context) (string, error) {
			return g.store.GetSetting(ctx, adminTokenSetting)
		})))

	fed = g.httpServer(httpapi.NewFederationHandler(g.svc, g.ca.ChainPEM(), g.log))
	fed.TLSConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Certificates are requested but verified per request by the
		// handler, so that every refusal is answered in JSON and audited;
		// enrollment and the CA endpoint take none.
		ClientAuth: httpapi.FederationClientAuth,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return g.serverCert, nil
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
