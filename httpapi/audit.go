package httpapi

import (
	"net/http"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
)

// registerAuditRoutes adds the audit log route of the admin API.
func (s *server) registerAuditRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/admin/federation/audit", s.listAudit)
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
