package federation

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// FederatedRequest is one federated read as it arrived over mutual TLS.
type FederatedRequest struct {
	// Certs are the certificates the client presented on the connection of
	// this very request (tls.ConnectionState.PeerCertificates): its leaf
	// first, then any intermediates it sent. They have not been verified;
	// ReadFederated verifies them. Empty when the client presented none.
	Certs []*x509.Certificate
	// Resource is the path value naming what to read.
	Resource string
	// Limit, Cursor and Since are the raw query values; empty means unset.
	Limit  string
	Cursor string
	Since  string
	// Source is the client's address, RequestID the request's id.
	Source    string
	RequestID string
}

// FederatedPage is the answer to a federated read. LimitApplied is the page
// size used; LimitCapped says a larger limit was asked for and capped at
// the grant's row cap. NextCursor is empty on the last page. The values
// Items point to may be shared with other reads and must not be changed.
type FederatedPage struct {
	Items        []any
	NextCursor   string
	LimitApplied int
	LimitCapped  bool

	// memo is the memo of the cached page Items were made from, nil when
	// the page was not from a cache; items are then Items as made from it.
	memo  *mosaic.PageMemo
	items []any
}

// itemsMemoKey names, in a page memo, the forms of a page's items as
// metadataOnly makes them: the items of every read served from the same
// cached page, and only those.
const itemsMemoKey = "federation.items.v1/"

// ItemsForm returns a form of the page's items that derive makes from
// them, such as their encoding, with its size in bytes; name names the
// form, and derive must make the same form of the same items under one
// name. When the page was read from a cache, every read served from it
// shares the form, made once (see mosaic.PageMemo) from the items as the
// read made them, whatever was done to Items since; otherwise derive
// runs on Items for this read alone.
func (p *FederatedPage) ItemsForm(name string, derive func(items []any) (any, int, error)) (
	any, error) {
	if p.memo == nil {
		v, _, err := derive(p.Items)
		return v, err
	}
	return p.memo.Derive(itemsMemoKey+name, func() (any, int, error) {
		return derive(p.items)
	})
}

// authorized is what a federated request may read: the grant it speaks
// for and the resource it asks for.
type authorized struct {
	grant    *mosaic.Grant
	resource mosaic.Resource
}

// ReadFederated authorizes a federated request and returns one page of the
// grant's subject user's data (DESIGN §3.4). A request without a client
// certificate is 401 "client_certificate_required"; one whose certificate
// does not verify against the CA's client roots is 403
// "certificate_invalid"; authorization failures are 403 with the reason
// codes of docs/API.md; an unknown resource is 404 "unknown_resource"; a
// bad limit, cursor or since is 400. Every request, allowed or denied,
// writes one audit event; when that of an allowed request cannot be
// written, the page is not sent and the answer is 503 "audit_unavailable".
func (s *Service) ReadFederated(ctx context.Context, req FederatedRequest) (*FederatedPage, error) {
	ev := &mosaic.AuditEvent{
		Time:       s.now(),
		RequestID:  req.RequestID,
		Verb:       mosaic.VerbRead,
		SourceAddr: req.Source,
	}
	if ev.RequestID == "" {
		ev.RequestID = RequestID(ctx)
	}
	page, err := s.readFederated(ctx, req, ev)
	if err != nil {
		ev.Status, ev.Outcome, ev.Reason = StatusOf(err), mosaic.OutcomeDenied, mosaic.ErrorCode(err)
		_ = s.audit(ctx, ev) // a failure is logged; the refusal stands
		s.log.InfoContext(ctx, "federated read denied",
			slog.String(logRequestID, ev.RequestID),
			slog.String(logReason, ev.Reason),
			slog.String(logGrantID, ev.GrantID),
			slog.String(logSerial, ev.CertSerial),
			slog.Any(logError, err))
		return nil, err
	}
	// The page leaves only once its audit event is written.
	ev.Status, ev.Outcome, ev.Rows = http.StatusOK, mosaic.OutcomeAllowed, len(page.Items)
	if err := s.auditAllowed(ctx, ev); err != nil {
		s.log.ErrorContext(ctx, "federated read withheld: its audit event was not written",
			slog.String(logRequestID, ev.RequestID),
			slog.String(logGrantID, ev.GrantID),
			slog.String(logSerial, ev.CertSerial))
		return nil, err
	}
	return page, nil
}

// readFederated runs the checks in order, filling in ev as it learns who
// the request is about, then reads the page, all in one read scope: the
// store reads what its caches are checked against once for the request.
func (s *Service) readFederated(ctx context.Context, req FederatedRequest,
	ev *mosaic.AuditEvent) (*FederatedPage, error) {
	ctx = mosaic.WithReadScope(ctx)
	a, err := s.authorize(ctx, req, ev)
	if err != nil {
		return nil, err
	}
	q, capped, err := pageQuery(req, a)
	if err != nil {
		return nil, err
	}
	page, err := s.cfg.Store.ReadPage(ctx, q)
	if err != nil {
		return nil, err
	}

	fp := &FederatedPage{
		Items:        metadataOnly(page.Items),
		NextCursor:   EncodeCursor(page.Next),
		LimitApplied: q.Limit,
		LimitCapped:  capped,
	}

	// The items are a function of the cached page alone, so the forms
	// derived from them may be shared through its memo.
	if page.Memo != nil {
		fp.memo, fp.items = page.Memo, slices.Clone(fp.Items)
	}
	return fp, nil
}

// authorize checks the certificate, the grant it names and the resource.
func (s *Service) authorize(ctx context.Context, req FederatedRequest,
	ev *mosaic.AuditEvent) (*authorized, error) {
	// A resource the request names is audited whatever refuses it, so that
	// a denied read says what it asked for; a name that is not one of ours
	// never reaches the audit log.
	r := mosaic.Resource(req.Resource)
	if r.Valid() {
		ev.Resource = string(r)
	}
	who, err := s.authenticate(ctx, req.Certs, ev)
	if err != nil {
		return nil, err
	}
	g := who.grant

	// The resource must exist and be shared by the grant.
	if !r.Valid() {
		return nil, mosaic.Errorf(mosaic.KindNotFound, "unknown_resource", "unknown resource")
	}
	if !g.Scope.Allows(r) {
		return nil, forbidden("resource_not_in_scope", "resource %q is not shared by the grant", r)
	}
	return &authorized{grant: g, resource: r}, nil
}

// authenticated is who a verified client certificate speaks for: the
// grant, its peer and the grant's certificate state, as read for this
// request.
type authenticated struct {
	leaf   *x509.Certificate
	serial string
	id     mosaic.Identity
	grant  *mosaic.Grant
	cert   *mosaic.GrantCert
	// peerCN is the common name of the grant's peer.
	peerCN string
}

// authenticate verifies the certificates a client presented and checks the
// grant they speak for (see checkGrant), filling in ev as it learns who
// the request is about. Reads and renewals share it.
func (s *Service) authenticate(ctx context.Context, certs []*x509.Certificate,
	ev *mosaic.AuditEvent) (*authenticated, error) {
	ev.CertSerial = presentedSerial(certs)
	leaf, err := s.verifyClientCert(ctx, certs)
	if err != nil {
		return nil, err
	}

	// The identity comes from this request's certificate, once verified.
	id, err := pki.ParseIdentity(leaf)
	if err != nil {
		return nil, err
	}
	if mosaic.ValidateID("grant", id.GrantID) != nil ||
		mosaic.ValidateID("user", id.SubjectUserID) != nil {
		return nil, forbidden("identity_invalid", "certificate identity: not valid ids")
	}
	ev.GrantID, ev.SubjectUserID = id.GrantID, id.SubjectUserID

	who := &authenticated{leaf: leaf, serial: pki.SerialHex(leaf), id: id}
	if err := s.checkGrant(ctx, who, ev); err != nil {
		return nil, err
	}
	return who, nil
}

// checkGrant looks up the grant a certificate speaks for and checks that it
// and its peer are active and that the certificate is one the grant
// accepts: its current one, or the one its last renewal replaced while the
// overlap lasts. Each grant has its own certificate: a later grant of the
// same peer does not supersede it (the peer row shows the latest one).
func (s *Service) checkGrant(ctx context.Context, who *authenticated,
	ev *mosaic.AuditEvent) error {
	access, err := s.cfg.Store.GrantAccess(ctx, who.id.GrantID)
	if mosaic.IsKind(err, mosaic.KindNotFound) {
		return forbidden("grant_not_found", "no grant for this certificate")
	}
	if err != nil {
		return err
	}
	g, cert := access.Grant, access.Cert
	ev.PeerID = g.PeerID
	if g.UserID != who.id.SubjectUserID {
		return forbidden("identity_invalid", "certificate identity: subject is not the grant's")
	}
	if err := s.checkActive(g); err != nil {
		return err
	}
	if access.PeerState != mosaic.PeerActive {
		return forbidden("peer_not_active", "peer is %s", access.PeerState)
	}
	if !cert.Accepts(who.serial, s.now()) {
		return forbidden("serial_superseded", "certificate is not the grant's current one")
	}
	who.grant, who.cert, who.peerCN = g, cert, access.PeerCommonName
	return nil
}

// checkActive refuses a grant that is not active or whose expiry passed,
// whether or not its stored status says so yet (see effectiveStatus).
func (s *Service) checkActive(g *mosaic.Grant) error {
	switch {
	case g.Status == mosaic.GrantExpired:
		return forbidden("grant_expired", "grant expired")
	case g.Status != mosaic.GrantActive:
		return forbidden("grant_not_active", "grant is %s", g.Status)
	case g.ExpiresAt != nil && !s.now().Before(*g.ExpiresAt):
		return forbidden("grant_expired", "grant expired")
	}
	return nil
}

// forbidden is a 403 with a reason code.
func forbidden(code, format string, args ...any) error {
	return mosaic.Errorf(mosaic.KindForbidden, code, format, args...)
}

// pageQuery turns the request's limit, cursor and since into a page query
// for the grant's subject user only. A limit above the row cap is capped.
func pageQuery(req FederatedRequest, a *authorized) (mosaic.PageQuery, bool, error) {
	rowCap := a.grant.Scope.MaxRowsPerQuery
	limit, capped := rowCap, false
	if req.Limit != "" {
		n, err := strconv.Atoi(req.Limit)
		if err != nil || n < 1 {
			return mosaic.PageQuery{}, false, errInvalidLimit
		}
		if n > rowCap {
			n, capped = rowCap, true
		}
		limit = n
	}
	after, err := DecodeCursor(req.Cursor)
	if err != nil {
		return mosaic.PageQuery{}, false, err
	}
	since, err := parseSince(req.Since)
	if err != nil {
		return mosaic.PageQuery{}, false, err
	}
	return mosaic.PageQuery{
		Resource: a.resource,
		UserID:   a.grant.UserID,
		After:    after,
		Since:    since,
		Limit:    limit,
	}, capped, nil
}

// parseSince parses an optional RFC 3339 time.
func parseSince(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_since",
			"since: must be an RFC 3339 time")
	}
	t = t.UTC()
	return &t, nil
}

// metadataOnly makes sure no credential secret leaves in a page, whatever
// the store filled in.
func metadataOnly(items []any) []any {
	for i, it := range items {
		if c, ok := it.(*mosaic.Credential); ok && c.SealedSecret != nil {
			cp := *c
			cp.SealedSecret = nil
			items[i] = &cp
		}
	}
	return items
}
