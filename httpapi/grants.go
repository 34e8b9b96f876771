package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
)

// registerGrantRoutes adds the grant and token routes of the admin API.
func (s *server) registerGrantRoutes(mux *routeMux) {
	mux.HandleFunc("POST /api/admin/federation/grants", s.createGrant)
	mux.HandleFunc("GET /api/admin/federation/grants", s.listGrants)
	mux.HandleFunc("GET /api/admin/federation/grants/{id}", s.showGrant)
	mux.HandleFunc("PATCH /api/admin/federation/grants/{id}/revoke", s.revokeGrant)
	mux.HandleFunc("POST /api/admin/federation/grants/{id}/tokens", s.issueToken)
}

// createGrantRequest is the body of POST /api/admin/federation/grants.
// ExpiresAt is decoded by parseExpiresAt, so that a malformed time is
// refused naming its field.
type createGrantRequest struct {
	UserID    string          `json:"userId"`
	PeerID    string          `json:"peerId"`
	PeerName  string          `json:"peerName"`
	Scope     mosaic.Scope    `json:"scope"`
	ExpiresAt json.RawMessage `json:"expiresAt"`
}

// createGrant adds a pending grant, with a new inbound peer when the
// request names one.
func (s *server) createGrant(w http.ResponseWriter, r *http.Request) {
	var req createGrantRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	expires, err := parseExpiresAt(req.ExpiresAt)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := s.svc.CreateGrant(r.Context(), federation.GrantInput{
		UserID:    req.UserID,
		PeerID:    req.PeerID,
		PeerName:  req.PeerName,
		Scope:     req.Scope,
		ExpiresAt: expires,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, g)
}

// parseExpiresAt reads an optional expiry: absent or null for none, else a
// string holding an RFC 3339 time. Grants keep their times to the
// millisecond, so a finer expiry is cut to the millisecond here: the answer
// to the create then shows the expiry that show and list will.
func parseExpiresAt(raw json.RawMessage) (*time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	invalid := clientError("invalid_expiresAt", "expiresAt: must be an RFC 3339 time")
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return nil, invalid
	}
	t, err := time.Parse(time.RFC3339, text)
	if err != nil {
		return nil, invalid
	}
	t = t.Truncate(time.Millisecond)
	return &t, nil
}

// listGrants lists grants, optionally of one peer or in one status.
func (s *server) listGrants(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	grants, err := s.svc.ListGrants(r.Context(), mosaic.GrantFilter{
		PeerID: q.Get("peer"),
		Status: mosaic.GrantStatus(q.Get("status")),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, items(grants))
}

// showGrant answers one grant.
func (s *server) showGrant(w http.ResponseWriter, r *http.Request) {
	g, err := s.svc.FindGrant(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// revokeRequest is the body of PATCH .../grants/{id}/revoke; it may be
// left out.
type revokeRequest struct {
	Reason string `json:"reason"`
}

// revokeGrant ends a grant for good.
func (s *server) revokeGrant(w http.ResponseWriter, r *http.Request) {
	var req revokeRequest
	if err := decodeOptionalJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := s.svc.Revoke(r.Context(), r.PathValue("id"), req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// tokenRequest is the body of POST .../grants/{id}/tokens; it may be left
// out.
type tokenRequest struct {
	TTLSeconds int64  `json:"ttlSeconds"`
	PeerID     string `json:"peerId"`
}

// tokenAnswer is the one answer that ever shows an enrollment token.
type tokenAnswer struct {
	Token         string    `json:"token"`
	GrantID       string    `json:"grantId"`
	PeerID        string    `json:"peerId"`
	ExpiresAt     time.Time `json:"expiresAt"`
	TTLSeconds    int64     `json:"ttlSeconds"`
	CAPin         string    `json:"caPin"`
	EnrollmentURL string    `json:"enrollmentUrl"`
}

// issueToken creates an enrollment token for a pending grant.
func (s *server) issueToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decodeOptionalJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.TTLSeconds < 0 {
		s.writeError(w, r, clientError("invalid_ttlSeconds", "ttlSeconds: must not be negative"))
		return
	}
	// Clamp before converting, so a huge request cannot overflow.
	secs := min(req.TTLSeconds, int64(mosaic.MaxTokenTTL/time.Second))
	t, err := s.svc.IssueToken(r.Context(), r.PathValue("id"), req.PeerID,
		time.Duration(secs)*time.Second)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tokenAnswer{
		Token:         t.Token.Reveal(),
		GrantID:       t.GrantID,
		PeerID:        t.PeerID,
		ExpiresAt:     t.ExpiresAt,
		TTLSeconds:    int64(t.TTL / time.Second),
		CAPin:         t.CAPin,
		EnrollmentURL: t.EnrollmentURL(),
	})
}
