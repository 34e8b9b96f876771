package federation

import (
	"context"
	"log/slog"
	"strings"

	"github.com/mosaicgw/mosaic"
)

// enrollmentPrefix starts the path of every enrollment request.
const enrollmentPrefix = "/api/federation/enrollment"

// DeniedRequest is a federation API request refused before it reached a
// flow: its path is not in clean form, names no route, or the route does
// not take its method.
type DeniedRequest struct {
	// Path is the request's URL path, as received. It decides the audited
	// verb: enroll under /api/federation/enrollment, read elsewhere.
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
	if rest, ok := strings.CutPrefix(req.Path, enrollmentPrefix); ok &&
		(rest == "" || rest[0] == '/') {
		ev.Verb = mosaic.VerbEnroll
		token, _, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
		if token != "" {
			ev.TokenHashPrefix = mosaic.HashPrefix(mosaic.TokenSecret(token).Hash())
		}
	}
	s.audit(ctx, ev)
	s.log.InfoContext(ctx, "federation request refused",
		slog.String(logRequestID, ev.RequestID),
		slog.String("verb", ev.Verb),
		slog.String(logReason, ev.Reason))
}
