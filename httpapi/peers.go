package httpapi

import (
	"net/http"
	"net/url"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/remote"
)

// registerPeerRoutes adds the peer routes of the admin API: listing, the
// two local steps of "peer add", reads from an outbound peer, the renewal
// of our certificate from one, and removal.
func (s *server) registerPeerRoutes(mux *routeMux) {
	mux.HandleFunc("GET /api/admin/federation/peers", s.listPeers)
	mux.HandleFunc("POST /api/admin/federation/peers/keypair", s.createKeypair)
	mux.HandleFunc("PATCH /api/admin/federation/peers/{id}/cert", s.storePeerCert)
	mux.HandleFunc("GET /api/admin/federation/peers/{id}/query/{resource}", s.queryPeer)
	mux.HandleFunc("POST /api/admin/federation/peers/{id}/remove", s.removePeer)
	mux.HandleFunc("POST /api/admin/federation/peers/{id}/renew", s.renewPeer)
}

// listPeers lists peers, optionally of one role or in one state.
func (s *server) listPeers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	peers, err := s.svc.ListPeers(r.Context(), mosaic.PeerFilter{
		Role:  mosaic.PeerRole(q.Get("role")),
		State: mosaic.PeerState(q.Get("state")),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, items(peers))
}

// keypairRequest is the body of POST .../peers/keypair.
type keypairRequest struct {
	CommonName  string `json:"commonName"`
	DisplayName string `json:"displayName"`
	EndpointURL string `json:"endpointUrl"`
	CAPin       string `json:"caPin"`
}

// keypairAnswer is the answer of POST .../peers/keypair.
type keypairAnswer struct {
	PeerID string `json:"peerId"`
	CSRPEM string `json:"csrPem"`
}

// createKeypair makes the key and CSR of a new outbound peer.
func (s *server) createKeypair(w http.ResponseWriter, r *http.Request) {
	var req keypairRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, csr, err := s.svc.CreateKeypair(r.Context(), federation.KeypairInput{
		CommonName:  req.CommonName,
		DisplayName: req.DisplayName,
		EndpointURL: req.EndpointURL,
		CAPin:       req.CAPin,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, keypairAnswer{PeerID: id, CSRPEM: csr})
}

// peerCertRequest is the body of PATCH .../peers/{id}/cert: the grantor's
// enrollment answer.
type peerCertRequest struct {
	CertPEM      string `json:"certPem"`
	CertChainPEM string `json:"certChainPem"`
	CAPEM        string `json:"caPem"`
}

// storePeerCert checks and stores the certificate an outbound peer issued
// to us.
func (s *server) storePeerCert(w http.ResponseWriter, r *http.Request) {
	var req peerCertRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.svc.StoreOutboundCert(r.Context(), r.PathValue("id"),
		req.CertPEM, req.CertChainPEM, req.CAPEM)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// queryPeer reads a resource from an outbound peer. The peer's 2xx and 4xx
// answers are passed through as they are; a 5xx becomes our 502 or 503.
func (s *server) queryPeer(w http.ResponseWriter, r *http.Request) {
	in := r.URL.Query()
	q := url.Values{}
	for _, k := range []string{"limit", "cursor", "since"} {
		if v := in.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	resp, err := s.svc.QueryPeer(r.Context(), r.PathValue("id"), r.PathValue("resource"), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if resp.Status >= http.StatusInternalServerError || resp.Status < http.StatusOK {
		s.writeError(w, r, remote.DecodeError(resp.Status, resp.Body))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	setRetryAfter(h, resp.Status)
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// renewPeerRequest is the body of POST .../peers/{id}/renew: an empty
// object, or no body at all.
type renewPeerRequest struct{}

// renewPeer renews our certificate from an outbound peer now. A refusal of
// the remote gateway is a 502 "renewal_refused" that quotes it; a failure
// is recorded on the peer either way.
func (s *server) renewPeer(w http.ResponseWriter, r *http.Request) {
	var req renewPeerRequest
	if err := decodeOptionalJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.svc.RenewOutbound(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
