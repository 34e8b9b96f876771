package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/pki"
)

// Bounds of what the access log writes: the path, and the serial of a
// client certificate (20 octets in hex, the most RFC 5280 allows).
const (
	maxLoggedPath   = 200
	maxLoggedSerial = 40
)

// middleware gives each request an id (in its context and the X-Request-Id
// header), turns a panic into a 500, writes one access log line and
// records the request's metrics. On a corkable connection (see
// CorkListener) the answer leaves in one write once the handler returns,
// before the log line and metrics.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		meta := &requestMeta{}
		ctx := context.WithValue(federation.WithRequestID(r.Context(), id), requestMetaKey{}, meta)
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
		cw, corked := corkAnswer(w, r)
		sw := &statusWriter{ResponseWriter: cw}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panic",
					slog.String(logRequestID, id),
					slog.Any("panic", v),
					slog.String("stack", string(debug.Stack())))
				if !sw.wrote {
					s.writeError(sw, r, errors.New("httpapi: handler panic"))
				}
			}
			corked.finish()
			elapsed := time.Since(start)
			s.accessLog(r, sw.code(), elapsed, id)
			s.metrics.observe(answered{
				api: s.api, pattern: s.routePattern(r), method: r.Method, path: r.URL.Path,
				status: sw.code(), code: meta.code, elapsed: elapsed,
			})
		}()
		next.ServeHTTP(sw, r)
	})
}

// requestMeta is what a request's handlers tell the middleware about its
// answer.
type requestMeta struct {
	code string // the error code answered, if any
}

// requestMetaKey is the context key of a request's *requestMeta.
type requestMetaKey struct{}

// noteErrorCode tells the middleware that r was answered with an error
// code.
func noteErrorCode(r *http.Request, code string) {
	if m, ok := r.Context().Value(requestMetaKey{}).(*requestMeta); ok {
		m.code = code
	}
}

// routePattern returns the pattern of the route that serves r, "" when
// none does: the path is not clean, unknown, or not served for r's method.
func (s *server) routePattern(r *http.Request) string {
	if s.mux == nil || !canonicalPath(r.URL.Path) {
		return ""
	}
	_, pattern := s.mux.Handler(r)
	return pattern
}

// accessLog writes one line per request. The path is redacted so that an
// enrollment token never reaches the log; the query is left out.
func (s *server) accessLog(r *http.Request, status int, d time.Duration, id string) {
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", redactPath(r.URL.Path)),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.String(logRequestID, id),
		slog.String("remote_addr", r.RemoteAddr),
	}
	// The serial of whatever certificate the client presented, verified
	// or not; one longer than RFC 5280 allows is not ours and left out.
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if serial := pki.SerialHex(r.TLS.PeerCertificates[0]); len(serial) <= maxLoggedSerial {
			attrs = append(attrs, slog.String("peer_cert_serial", serial))
		}
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// redactPath replaces every path segment after an "enrollment" segment, and
// every segment long enough to be a token, with "[redacted]". Ids (UUIDs)
// are short enough to stay.
func redactPath(p string) string {
	segs := strings.Split(p, "/")
	redactRest := false
	for i, seg := range segs {
		if redactRest || len(seg) >= 40 {
			segs[i] = "[redacted]"
			continue
		}
		if strings.EqualFold(seg, "enrollment") {
			redactRest = true
		}
	}
	out := strings.Join(segs, "/")
	if len(out) > maxLoggedPath {
		out = out[:maxLoggedPath] + "…"
	}
	return out
}

// newRequestID returns a random request id.
func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// WriteHeader records the status and passes it on.
func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write records an implicit 200 and passes b on.
func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code returns the status answered, 200 if the handler wrote nothing.
func (w *statusWriter) code() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.status
}

// clientError is a shorthand for a 400 with a code.
func clientError(code, format string, args ...any) error {
	return mosaic.Errorf(mosaic.KindInvalid, code, format, args...)
}
