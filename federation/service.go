// Package federation holds the rules of the gateway's flows: granting a peer
// access to one user's data, enrollment tokens, redeeming a token for a
// certificate, authorizing and serving federated reads, revocation, and the
// outbound side that enrolls with and reads from another gateway. The HTTP
// handlers only decode, call a Service method and render its answer.
package federation

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
)

// DefaultClaimTimeout is how long a redeem may hold a token's claim before
// another redeem may take it over (a crashed replica's claim goes stale).
const DefaultClaimTimeout = 2 * time.Minute

// Log field names.
const (
	logRequestID = "request_id"
	logGrantID   = "grant_id"
	logPeerID    = "peer_id"
	logSerial    = "cert_serial"
	logReason    = "reason"
	logError     = "error"
	logTokenHash = "token_hash_prefix"
)

// Config is what a Service needs. Store, CA, Sealer, PublicURL, CAPin and
// CAPEM are required; the other fields have defaults.
type Config struct {
	Store  mosaic.Store
	CA     mosaic.CA
	Sealer mosaic.Sealer
	// Logger receives the service's logs. Nil discards them.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now. Token expiry is judged by the
	// database clock, not this one.
	Now func() time.Time
	// Rand is the source of tokens and keys. Nil means crypto/rand.Reader.
	Rand io.Reader

	// PublicURL is our federation base URL, such as
	// https://b.example:8443, used to build enrollment URLs.
	PublicURL string
	// CAPin is our embedded root's pin ("sha256:<hex>") and CAPEM its PEM,
	// the caPem of an enrollment answer.
	CAPin string
	CAPEM string

	// CertLifetime is the lifetime of issued peer certificates. Zero means
	// the CA's default.
	CertLifetime time.Duration
	// ClaimTimeout is the age after which a token claim counts as stale.
	// Zero means DefaultClaimTimeout.
	ClaimTimeout time.Duration
	// RootsRefresh is how long the CA's client roots are kept before they
	// are asked for again. Zero means DefaultRootsRefresh.
	RootsRefresh time.Duration
	// RenewOverlap is how long the certificate a renewal replaced is still
	// accepted, so that the peer can switch to the new one. Zero means
	// DefaultRenewOverlap.
	RenewOverlap time.Duration
}

// Service runs the federation flows over a store, a CA and a sealer. It is
// safe for concurrent use. The only state it keeps between calls is the
// pool of the CA's client roots and which presented chains verified
// against it; who a request speaks for is always read from that request's
// own certificate, and the grant behind it from the store.
type Service struct {
	cfg    Config
	log    *slog.Logger
	roots  *rootsCache
	chains *chainCache
}

// New returns a Service for cfg, filling in defaults.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = DefaultClaimTimeout
	}
	if cfg.RootsRefresh <= 0 {
		cfg.RootsRefresh = DefaultRootsRefresh
	}
	if cfg.RenewOverlap <= 0 {
		cfg.RenewOverlap = DefaultRenewOverlap
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	return &Service{
		cfg:    cfg,
		log:    cfg.Logger.With(slog.String("component", "federation")),
		roots:  &rootsCache{},
		chains: &chainCache{},
	}
}

// now returns the current time in UTC.
func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Ping checks that the store answers.
func (s *Service) Ping(ctx context.Context) error { return s.cfg.Store.Ping(ctx) }

// requestIDKey is the context key of a request id.
type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves, so
// that audit events and logs written on its behalf name it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// audit appends ev to the audit log. The write outlives a cancelled request
// so that a client hanging up cannot erase its trace. A failure is logged
// at error level and returned: a denied request keeps its answer anyway,
// while an allowed one must not go on unaudited (see auditAllowed).
func (s *Service) audit(ctx context.Context, ev *mosaic.AuditEvent) error {
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	err := s.cfg.Store.AppendAudit(context.WithoutCancel(ctx), ev)
	if err != nil {
		s.log.Error("audit write failed",
			slog.String(logRequestID, ev.RequestID),
			slog.String("verb", ev.Verb),
			slog.String("outcome", string(ev.Outcome)),
			slog.String(logReason, ev.Reason),
			slog.Any(logError, err))
	}
	return err
}

// auditAllowed writes the audit event of a request about to be allowed.
// If it cannot be written the request is refused with a 503
// "audit_unavailable": nothing is handed out without its trace.
func (s *Service) auditAllowed(ctx context.Context, ev *mosaic.AuditEvent) error {
	if err := s.audit(ctx, ev); err != nil {
		return mosaic.WrapError(mosaic.KindUnavailable, "audit_unavailable",
			"the request cannot be recorded now, try again", err)
	}
	return nil
}

// grantLog returns the log attributes that name a grant.
func grantLog(ctx context.Context, g *mosaic.Grant) []any {
	return []any{
		slog.String(logRequestID, RequestID(ctx)),
		slog.String(logGrantID, g.ID),
		slog.String(logPeerID, g.PeerID),
		slog.String("status", string(g.Status)),
	}
}
