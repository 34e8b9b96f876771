package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// auditWriteTimeout is how long writing one batch of an audit export, or
// the answer of a verification, may take. Both can run far longer than
// the listener's write timeout, so they set their own deadline.
const auditWriteTimeout = time.Minute

// registerAuditRoutes adds the audit log routes of the admin API.
func (s *server) registerAuditRoutes(mux *routeMux) {
	mux.HandleFunc("GET /api/admin/federation/audit", s.listAudit)
	mux.HandleFunc("GET /api/admin/federation/audit/verify", s.verifyAudit)
	mux.HandleFunc("GET /api/admin/federation/audit/export", s.exportAudit)
}

// listAudit lists audit events, newest first.
func (s *server) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := federation.ParseLimit(q.Get("limit"), 0, mosaic.MaxListLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	events, err := s.svc.ListAudit(r.Context(), mosaic.AuditFilter{
		PeerID:  q.Get("peer"),
		GrantID: q.Get("grant"),
		Outcome: mosaic.Outcome(q.Get("outcome")),
		Limit:   limit,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, items(events))
}

// verifyAudit checks the audit chain and answers with the report: 200
// whether the chain is intact or not.
func (s *server) verifyAudit(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// Reading a long log may outlast the listener's write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	report, err := s.svc.VerifyAudit(r.Context())
	_ = rc.SetWriteDeadline(time.Now().Add(auditWriteTimeout))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, report)
}

// exportAudit streams the audit records as JSON lines, oldest first, one
// batch at a time, flushing after each. A refused request is answered
// with a JSON error before anything is streamed. A failure once streaming
// has begun aborts the connection, so that a client never takes a cut
// export for a whole one.
func (s *server) exportAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e := federation.AuditExport{Format: q.Get("format"), Since: q.Get("since")}
	rc := http.NewResponseController(w)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	started := false
	err := s.svc.ExportAudit(r.Context(), e, func(batch []*auditchain.Record) error {
		if !started {
			startNDJSON(w)
			started = true
		}
		buf.Reset()
		for _, rec := range batch {
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
		_ = rc.SetWriteDeadline(time.Now().Add(auditWriteTimeout))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		return rc.Flush()
	})
	switch {
	case err != nil && !started:
		s.writeError(w, r, err)
	case err != nil:
		s.log.ErrorContext(r.Context(), "audit export cut off",
			slog.String(logRequestID, federation.RequestID(r.Context())),
			slog.Any(logError, err))
		panic(http.ErrAbortHandler)
	case !started:
		startNDJSON(w)
	}
}

// startNDJSON sends the header of a 200 JSON lines answer.
func startNDJSON(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
}
