package httpapi

import "net/http"

// removePeerRequest is the body of POST .../peers/{id}/remove; the body
// may be left out.
type removePeerRequest struct {
	Reason string `json:"reason"`
}

// removePeer ends a peer for good: an inbound peer's grants are revoked,
// an outbound peer's key and certificates are wiped. It answers the peer
// as it is now and the grants revoked.
func (s *server) removePeer(w http.ResponseWriter, r *http.Request) {
	var req removePeerRequest
	if err := decodeOptionalJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.svc.RemovePeer(r.Context(), r.PathValue("id"), req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
