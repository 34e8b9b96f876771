package httpapi

import (
	"bytes"
	"crypto/x509"
	"io"
	"net/http"

	"github.com/segmentio/encoding/json"

	"github.com/mosaicgw/mosaic/federation"
)

// The federated read route, and the path prefix of the resource it names.
const (
	readRoute      = "GET " + readPathPrefix + "{resource}"
	readPathPrefix = "/api/federation/v1/"
)

// registerFederationRoutes adds the routes of the federation API: the CA
// bundle, enrollment, the federated reads and certificate renewal.
func (s *server) registerFederationRoutes(mux *routeMux, caChain func() string) {
	mux.HandleFunc("GET /api/federation/ca", serveCA(caChain))
	mux.HandleFunc("POST /api/federation/enrollment/{token}", s.enroll)
	mux.HandleFunc(readRoute, s.readFederated)
	mux.HandleFunc("POST "+federation.RenewPath, s.renew)
}

// serveCA returns the handler that serves the CA chain as chain gives it
// at each request, public like any CA's roots; a client certificate, if
// any, plays no part.
func serveCA(chain func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/pem-certificate-chain")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = io.WriteString(w, chain())
	}
}

// enrollRequest is the body of an enrollment.
type enrollRequest struct {
	CSRPEM string `json:"csrPem"`
}

// enrollAnswer is the answer of a successful enrollment.
type enrollAnswer struct {
	CertPEM      string `json:"certPem"`
	CertChainPEM string `json:"certChainPem"`
	CAPEM        string `json:"caPem"`
}

// enroll redeems an enrollment token for a client certificate. A body that
// cannot be decoded is refused, and audited, like any other failure. A
// client certificate, if the client sent one, plays no part.
func (s *server) enroll(w http.ResponseWriter, r *http.Request) {
	in := federation.RedeemInput{
		Token:     r.PathValue("token"),
		Source:    r.RemoteAddr,
		RequestID: federation.RequestID(r.Context()),
	}
	var req enrollRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.svc.RecordDeniedEnrollment(r.Context(), in, err)
		s.writeError(w, r, err)
		return
	}
	in.CSRPEM = req.CSRPEM
	out, err := s.svc.Redeem(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, enrollAnswer{
		CertPEM: out.CertPEM, CertChainPEM: out.CertChainPEM, CAPEM: out.CAPEM,
	})
}

// readAnswer is the answer of a federated read.
type readAnswer struct {
	Items        []any  `json:"items"`
	NextCursor   string `json:"nextCursor"`
	LimitApplied int    `json:"limitApplied"`
	LimitCapped  bool   `json:"limitCapped"`
}

// readFederated serves one page of a resource to a peer. The identity is
// the client certificate of this request's connection, which the service
// verifies against the CA's client roots.
func (s *server) readFederated(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := s.svc.ReadFederated(r.Context(), federation.FederatedRequest{
		Certs:     peerCerts(r),
		Resource:  r.PathValue("resource"),
		Limit:     q.Get("limit"),
		Cursor:    q.Get("cursor"),
		Since:     q.Get("since"),
		Source:    r.RemoteAddr,
		RequestID: federation.RequestID(r.Context()),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeRead(w, page)
}

// writeRead writes page as the answer of a read: readAnswer as writeJSON
// writes it, byte for byte, but with its items encoded once for every
// read of the same cached page (see federation.FederatedPage.ItemsForm).
func writeRead(w http.ResponseWriter, page *federation.FederatedPage) {
	answer := readAnswer{
		Items:        page.Items,
		NextCursor:   page.NextCursor,
		LimitApplied: page.LimitApplied,
		LimitCapped:  page.LimitCapped,
	}
	if answer.Items == nil {
		answer.Items = []any{}
	}
	buf := getAnswerBuffer()
	defer putAnswerBuffer(buf)
	data, ok := appendRead((*buf)[:0], page, answer)
	if !ok {
		// Encoded whole, the answer fails as its items did, and says so.
		writeJSON(w, http.StatusOK, answer)
		return
	}
	*buf = data
	writeAnswer(w, http.StatusOK, data)
}

// appendRead appends answer, the answer of page, to b as writeJSON would
// encode it, with the items' encoding shared through page. It reports
// false when it cannot: the items do not encode, or the answer no longer
// begins with them.
func appendRead(b []byte, page *federation.FederatedPage, answer readAnswer) ([]byte, bool) {
	items, err := page.ItemsForm(itemsJSON, encodeItems)
	if err != nil {
		return b, false
	}

	// The items follow the opening of the answer; then comes the answer
	// without items, from which its own opening and empty array are cut.
	b = append(append(b, itemsOpen...), items.([]byte)...)
	rest := len(b)
	answer.Items = []any{}
	b, err = json.Append(b, answer, answerFlags)
	if err != nil || !bytes.HasPrefix(b[rest:], emptyItems) {
		return b, false // not an answer that begins with its items
	}
	b = append(b[:rest], b[rest+len(emptyItems):]...)
	return append(b, '\n'), true
}

// itemsOpen is how the encoding of a readAnswer begins, and emptyItems
// how it begins without items.
const itemsOpen = `{"items":`

var emptyItems = []byte(itemsOpen + "[]")

// itemsJSON names the items' form encodeItems makes.
const itemsJSON = "json"

// encodeItems encodes a read's items as writeJSON encodes them in a
// readAnswer: a JSON array, empty for none.
func encodeItems(items []any) (any, int, error) {
	if items == nil {
		items = []any{}
	}
	data, err := json.Append(nil, items, answerFlags)
	if err != nil {
		return nil, 0, err
	}
	return data, len(data), nil
}

// peerCerts returns the certificates the client presented on this
// request's connection, leaf first, unverified; nil without TLS or without
// a certificate.
func peerCerts(r *http.Request) []*x509.Certificate {
	if r.TLS == nil {
		return nil
	}
	return r.TLS.PeerCertificates
}

// renew gives the peer whose client certificate this request's connection
// presented a new certificate for the key of its CSR. The body is decoded
// strictly, like an enrollment's; a refusal is audited either way.
func (s *server) renew(w http.ResponseWriter, r *http.Request) {
	in := federation.RenewInput{
		Certs:     peerCerts(r),
		Source:    r.RemoteAddr,
		RequestID: federation.RequestID(r.Context()),
	}
	var req enrollRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.svc.RecordDeniedRenewal(r.Context(), in, err)
		s.writeError(w, r, err)
		return
	}
	in.CSRPEM = req.CSRPEM
	out, err := s.svc.Renew(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, enrollAnswer{
		CertPEM: out.CertPEM, CertChainPEM: out.CertChainPEM, CAPEM: out.CAPEM,
	})
}
