// Package httpapi serves the gateway's two HTTP APIs: the admin API (bearer
// token, loopback by default) and the federation API (TLS, client
// certificates for reads). Handlers decode and validate a request, call the
// federation service, and render its answer; the rules live in the service.
// docs/API.md describes the paths, bodies and codes.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"log/slog"
	"net/http"
	"path"
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
	svc   *federation.Service
	log   *slog.Logger
	ready func(context.Context) mosaic.Checks
	// adminHash returns the admin token's hash; nil means the fixed hash
	// given to NewAdminHandler.
	adminHash func(context.Context) (string, error)
	// api is the API's "api" metric label; metrics records its requests
	// (nil: none); mux holds its routes (nil before they are registered).
	api     string
	metrics *Metrics
	mux     *http.ServeMux
}

// AdminOption configures the admin API.
type AdminOption func(*server)

// WithReadiness sets the checks behind GET /readyz. Without it, readiness
// is the database answering a ping.
func WithReadiness(ready func(context.Context) mosaic.Checks) AdminOption {
	return func(s *server) { s.ready = ready }
}

// WithMetrics makes the admin API record its requests into m and serve m
// at GET /metrics. Without it, the admin API keeps metrics of its own.
func WithMetrics(m *Metrics) AdminOption {
	return func(s *server) { s.metrics = m }
}

// openPaths are the admin API paths served without the admin token: the
// health checks, the metrics and the API description. The admin listener
// is meant for loopback or a private network.
var openPaths = map[string]bool{
	"/healthz": true, "/readyz": true, "/metrics": true, "/api/openapi.json": true,
}

// NewAdminHandler returns the admin API. Every route but those of
// openPaths needs "Authorization: Bearer <token>" where the token's
// lower-case hex SHA-256 is adminTokenHash; the comparison takes constant
// time. Routes lists the routes it serves.
func NewAdminHandler(svc *federation.Service, adminTokenHash string,
	logger *slog.Logger, opts ...AdminOption) http.Handler {
	s := newServer(svc, logger, "admin")
	s.api = apiAdmin
	for _, o := range opts {
		o(s)
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(svc, WithMetricsLogger(logger))
	}
	mux := newRouteMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc(openAPIRoute, serveOpenAPI())
	s.registerUserRoutes(mux)
	s.registerTeamRoutes(mux)
	s.registerDataRoutes(mux)
	s.registerGrantRoutes(mux)
	s.registerPeerRoutes(mux)
	s.registerAuditRoutes(mux)
	s.mux = mux.ServeMux
	h := s.middleware(s.requireAdmin(adminTokenHash, s.routes(mux.ServeMux, nil)))
	return &apiHandler{Handler: h, patterns: mux.patterns}
}

// FederationClientAuth is the client authentication the federation
// listener must use: ask for a client certificate, accept whatever comes,
// and leave the verification to the handler. The handler verifies the
// certificate of every read against the CA's client roots, so that a
// refusal is answered in JSON and audited instead of ending the handshake;
// enrollment and the CA endpoint ignore any certificate. The listener's
// tls.Config needs no ClientCAs: it would only name the acceptable CAs to
// clients.
const FederationClientAuth = tls.RequestClientCert

// FederationOption configures the federation API.
type FederationOption func(*federationOptions)

// federationOptions are the settings of the federation API.
type federationOptions struct {
	enrollLimit EnrollmentLimit
	metrics     *Metrics
	caChain     func() string
}

// WithFederationMetrics makes the federation API record its requests,
// enrollments, reads, renewals and rate-limit hits into m. Without it, it
// records none.
func WithFederationMetrics(m *Metrics) FederationOption {
	return func(o *federationOptions) { o.metrics = m }
}

// WithEnrollmentLimit sets the per-source rate limit of the enrollment
// endpoint. Without it the defaults of EnrollmentLimit apply.
func WithEnrollmentLimit(l EnrollmentLimit) FederationOption {
	return func(o *federationOptions) { o.enrollLimit = l }
}

// NewFederationHandler returns the federation API, to be served over TLS
// with ClientAuth set to FederationClientAuth. caChainPEM is served at
// GET /api/federation/ca, unless WithCAChain says otherwise. Enrollment
// requests are rate limited per source (see EnrollmentLimit) before they
// reach a route, and renewal requests likewise, with the same settings and
// a limiter of their own. Routes lists the routes it serves.
func NewFederationHandler(svc *federation.Service, caChainPEM string,
	logger *slog.Logger, opts ...FederationOption) http.Handler {
	var o federationOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := newServer(svc, logger, "federation_api")
	s.api, s.metrics = apiFederation, o.metrics
	mux := newRouteMux()
	chain := o.caChain
	if chain == nil {
		chain = func() string { return caChainPEM }
	}
	s.registerFederationRoutes(mux, chain)
	s.mux = mux.ServeMux
	lim := newLimiter(o.enrollLimit, reportRateLimited(svc, mosaic.VerbEnroll))
	renewLim := newLimiter(o.enrollLimit, reportRateLimited(svc, mosaic.VerbRenew))
	h := s.middleware(s.limitEnrollment(lim,
		s.limitRenewal(renewLim, s.routes(mux.ServeMux, s.auditRouteDenial))))
	return &apiHandler{Handler: h, patterns: mux.patterns}
}

// newServer returns a server with a logger for one API.
func newServer(svc *federation.Service, logger *slog.Logger, api string) *server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &server{svc: svc, log: logger.With(slog.String("component", api))}
}

// healthz answers that the process is alive and serving.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers whether the gateway can serve requests now: 200 when no
// check failed, 503 otherwise, with every check in the body.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	var checks mosaic.Checks
	if s.ready != nil {
		checks = s.ready(r.Context())
	} else {
		checks = mosaic.Checks{{Name: "database", Status: mosaic.CheckOK, Reason: "reachable"}}
		if err := s.svc.Ping(r.Context()); err != nil {
			checks[0] = mosaic.Check{Name: "database", Status: mosaic.CheckFail, Reason: "unreachable"}
		}
	}
	status, word := http.StatusOK, "ok"
	if checks.Failed() {
		status, word = http.StatusServiceUnavailable, "fail"
	}
	writeJSON(w, status, map[string]any{"status": word, "checks": checks})
}

// WithAdminTokenLookup makes the admin API read the admin token's hash
// through lookup on every request instead of using the hash it was built
// with, so that a token replaced through one replica takes effect on all.
// A lookup error refuses the request as unavailable.
func WithAdminTokenLookup(lookup func(context.Context) (string, error)) AdminOption {
	return func(s *server) { s.adminHash = lookup }
}

// requireAdmin refuses every request but those of openPaths unless it
// carries the admin bearer token.
func (s *server) requireAdmin(tokenHash string, next http.Handler) http.Handler {
	lookup := s.adminHash
	if lookup == nil {
		lookup = func(context.Context) (string, error) { return tokenHash, nil }
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPaths[r.URL.Path] {
			next.ServeHTTP(w, r.WithContext(openPathContext(r, lookup)))
			return
		}
		hash, err := lookup(r.Context())
		if err != nil {
			s.writeError(w, r, mosaic.WrapError(mosaic.KindUnavailable, "database_unavailable",
				"cannot check the admin token now, try again", err))
			return
		}
		if !validBearer(r.Header.Get("Authorization"), []byte(strings.ToLower(hash))) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mosaic-admin"`)
			s.writeError(w, r, mosaic.Errorf(mosaic.KindUnauthorized, "unauthorized",
				"a valid admin bearer token is required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// freshChecksKey marks the context of a GET /readyz that asks for fresh
// checks (see WantsFreshChecks).
type freshChecksKey struct{}

// freshParam is the query parameter of GET /readyz that asks for fresh
// checks, with the value "1"; FreshReadinessPath is the path and query of
// that request.
const (
	freshParam         = "fresh"
	FreshReadinessPath = "/readyz?" + freshParam + "=1"
)

// WantsFreshChecks reports whether the readiness request of ctx asked for
// checks made now rather than answered from what the gateway last
// measured: GET /readyz?fresh=1 with the admin bearer token, as mosaic
// gateway doctor sends it. Anyone else reaching the admin listener gets
// the usual answer, and cannot keep the gateway measuring.
func WantsFreshChecks(ctx context.Context) bool {
	fresh, _ := ctx.Value(freshChecksKey{}).(bool)
	return fresh
}

// openPathContext is the context of r, a request for an open path, marked
// for fresh checks when it is GET /readyz?fresh=1 with the admin token. A
// token that does not check out, or cannot be checked, changes nothing.
func openPathContext(r *http.Request, lookup func(context.Context) (string, error)) context.Context {
	ctx := r.Context()
	if r.URL.Path != "/readyz" || r.URL.Query().Get(freshParam) != "1" {
		return ctx
	}
	hash, err := lookup(ctx)
	if err != nil || !validBearer(r.Header.Get("Authorization"), []byte(strings.ToLower(hash))) {
		return ctx
	}
	return context.WithValue(ctx, freshChecksKey{}, true)
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

// routes serves mux. A path that is not in its clean form (dot segments,
// repeated slashes) is refused with a JSON 400 "invalid_path" before any
// route is looked at, where the mux would redirect; unknown paths get a
// JSON 404 and known paths with the wrong method a JSON 405. Each of these
// refusals is passed to denied, when given, before it is answered.
func (s *server) routes(mux *http.ServeMux, denied routeDenial) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(status int, code, msg string) {
			if denied != nil {
				denied(r, status, code)
			}
			writeErrorBody(w, r, status, code, msg)
		}
		if !canonicalPath(r.URL.Path) {
			refuse(http.StatusBadRequest, "invalid_path", "request path is not in its clean form")
			return
		}
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Let the mux decide between 404 and 405, then answer in JSON.
		probe := &probeWriter{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			refuse(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
			return
		}
		refuse(http.StatusNotFound, "not_found", "no such route")
	})
}

// routeDenial is told about a request refused before it reached a route.
type routeDenial func(r *http.Request, status int, code string)

// canonicalPath reports whether p is a request path the mux would serve
// without redirecting: rooted, with no "." or ".." segment and no empty
// segment but a trailing slash.
func canonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean == p
}

// auditRouteDenial records a federation API request refused before it
// reached a route.
func (s *server) auditRouteDenial(r *http.Request, status int, code string) {
	s.svc.RecordDeniedRequest(r.Context(), federation.DeniedRequest{
		Path:      r.URL.Path,
		Source:    r.RemoteAddr,
		RequestID: federation.RequestID(r.Context()),
		Status:    status,
		Reason:    code,
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
