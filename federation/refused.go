package federation

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
)

// enrollmentPrefix starts the path of every enrollment request.
const enrollmentPrefix = "/api/federation/enrollment"

// IsEnrollmentPath reports whether a request path, as received, is an
// enrollment request's: /api/federation/enrollment or anything below it,
// clean or not.
func IsEnrollmentPath(p string) bool {
	rest, ok := strings.CutPrefix(p, enrollmentPrefix)
	return ok && (rest == "" || rest[0] == '/')
}

// DeniedRequest is a federation API request refused before it reached a
// flow: its path is not in clean form, names no route, or the route does
// not take its method.
type DeniedRequest struct {
	// Path is the request's URL path, as received. It decides the audited
	// verb: enroll under /api/federation/enrollment, renew at RenewPath,
	// read elsewhere.
	Path string
	// Source is the client's address, RequestID the request's id.
	Source    string
	RequestID string
	// Status and Reason are the HTTP status and the error code answered.
	Status int
	Reason string
}

// RecordDeniedRequest writes the denied audit event of a request refused
// before it reached a flow, so that every request to the federation API
// leaves a trace. A path under the enrollment prefix is audited as an
// enrollment attempt, with the hash prefix of its token segment, if any;
// the token itself is never written.
func (s *Service) RecordDeniedRequest(ctx context.Context, req DeniedRequest) {
	ev := &mosaic.AuditEvent{
		RequestID:  req.RequestID,
		Verb:       mosaic.VerbRead,
		Status:     req.Status,
		Outcome:    mosaic.OutcomeDenied,
		Reason:     req.Reason,
		SourceAddr: req.Source,
	}
	if ev.RequestID == "" {
		ev.RequestID = RequestID(ctx)
	}
	if req.Path == RenewPath {
		ev.Verb = mosaic.VerbRenew
	}
	if IsEnrollmentPath(req.Path) {
		ev.Verb = mosaic.VerbEnroll
		rest := strings.TrimPrefix(req.Path, enrollmentPrefix)
		token, _, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
		if token != "" {
			ev.TokenHashPrefix = mosaic.HashPrefix(mosaic.TokenSecret(token).Hash())
		}
	}
	_ = s.audit(ctx, ev) // a failure is logged; the refusal stands
	s.log.InfoContext(ctx, "federation request refused",
		slog.String(logRequestID, ev.RequestID),
		slog.String("verb", ev.Verb),
		slog.String(logReason, ev.Reason))
}

// RateLimited is what one source had refused by the enrollment or renewal
// rate limit during one audit window.
type RateLimited struct {
	// Verb is the audited verb of the refused requests; empty means
	// mosaic.VerbEnroll.
	Verb string
	// Source is the client address, or address block, the limit is kept
	// for; empty for requests of several sources counted together.
	Source string
	// RequestID is the id of the first request refused in the window.
	RequestID string
	// Since is when the first request of the window was refused.
	Since time.Time
	// Refused is how many requests were refused in the window.
	Refused int
}

// RecordRateLimited writes one denied audit event for all the enrollment
// (or renewal) requests a source had refused by the rate limit in one
// window: verb enroll (or rl.Verb), status 429, reason "rate_limited", and the number of refused
// requests in Rows. A source that keeps trying thus adds one row per
// window, however many requests it sends.
func (s *Service) RecordRateLimited(ctx context.Context, rl RateLimited) {
	verb := rl.Verb
	if verb == "" {
		verb = mosaic.VerbEnroll
	}
	ev := &mosaic.AuditEvent{
		Time:       rl.Since.UTC(),
		RequestID:  rl.RequestID,
		Verb:       verb,
		Status:     http.StatusTooManyRequests,
		Outcome:    mosaic.OutcomeDenied,
		Reason:     "rate_limited",
		Rows:       rl.Refused,
		SourceAddr: rl.Source,
	}
	_ = s.audit(ctx, ev) // a failure is logged; the refusals stand
	s.log.WarnContext(ctx, "requests rate limited",
		slog.String("verb", verb),
		slog.String("source", rl.Source),
		slog.Int("refused", rl.Refused),
		slog.Time("since", ev.Time))
}
