// Package httpapi serves the gateway's two HTTP APIs: the admin API (bearer
// token, loopback by default) and the federation API (TLS, client
// certificates for reads). Handlers decode and validate a request, call the
// federation service, and render its answer; the rules live in the service.
// docs/API.md describes the paths, bodies and codes.
package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
)

// Log field names.
const (
	logRequestID = "request_id"
	logError     = "error"
)

// server holds what every handler of one API needs.
type server struct {
	svc *federation.Service
	log *slog.Logger
}

// NewAdminHandler returns the admin API. Every route but GET /healthz needs
// "Authorization: Bearer <token>" where the token's lower-case hex SHA-256
// is adminTokenHash; the comparison takes constant time.
func NewAdminHandler(svc *federation.Service, adminTokenHash string,
	logger *slog.Logger) http.Handler {
	s := newServer(svc, logger, "admin")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	s.registerUserRoutes(mux)
	s.registerTeamRoutes(mux)
	s.registerDataRoutes(mux)
	s.registerGrantRoutes(mux)
	s.registerPeerRoutes(mux)
	s.registerAuditRoutes(mux)
	return s.middleware(s.requireAdmin(adminTokenHash, s.routes(mux)))
}

// NewFederationHandler returns the federation API, to be served over TLS
// with client certificates verified if given. caChainPEM is served at
// GET /api/federation/ca.
func NewFederationHandler(svc *federation.Service, caChainPEM string,
	logger *slog.Logger) http.Handler {
	s := newServer(svc, logger, "federation_api")
	mux := http.NewServeMux()
	s.registerFederationRoutes(mux, caChainPEM)
	return s.middleware(s.routes(mux))
}

// newServer returns a server with a logger for one API.
func newServer(svc *federation.Service, logger *slog.Logger, api string) *server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &server{svc: svc, log: logger.With(slog.String("component", api))}
}

// healthz answers whether the gateway and its database are up.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Ping(r.Context()); err != nil {
		s.writeError(w, r, mosaic.WrapError(mosaic.KindUnavailable, "database_unavailable",
			"database unavailable", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// requireAdmin refuses every request but the health check unless it carries
// the admin bearer token.
func (s *server) requireAdmin(tokenHash string, next http.Handler) http.Handler {
	want := []byte(strings.ToLower(tokenHash))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && !validBearer(r.Header.Get("Authorization"), want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mosaic-admin"`)
			s.writeError(w, r, mosaic.Errorf(mosaic.KindUnauthorized, "unauthorized",
				"a valid admin bearer token is required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validBearer reports whether an Authorization header carries a bearer
// token whose hex SHA-256 is want. A want that is not a SHA-256 matches
// nothing.
func validBearer(header string, want []byte) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(want) != 2*sha256.Size {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	got := []byte(hex.EncodeToString(sum[:]))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// routes serves mux, answering unknown paths with a JSON 404 and known
// paths with the wrong method with a JSON 405.
func (s *server) routes(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Let the mux decide between 404, 405 and a redirect, then answer
		// the first two in JSON.
		probe := &probeWriter{header: http.Header{}}
		h.ServeHTTP(probe, r)
		switch probe.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeErrorBody(w, r, http.StatusMethodNotAllowed, "method_not_allowed",
				"method not allowed")
		case http.StatusNotFound:
			s.writeError(w, r, mosaic.Errorf(mosaic.KindNotFound, "not_found", "no such route"))
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

// probeWriter records what a handler answers without sending it.
type probeWriter struct {
	header http.Header
	status int
}

// Header returns the recorded header.
func (p *probeWriter) Header() http.Header { return p.header }

// Write records a 200 unless a status was set, and drops b.
func (p *probeWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}

// WriteHeader records the first status.
func (p *probeWriter) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
}
