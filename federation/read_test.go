package federation_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
)

// clock is a time source the test can move forward.
type clock struct{ offset atomic.Int64 }

// now returns the real time moved by the offset.
func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// advance moves the clock forward by d.
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// readEnv is a gateway with two users' data and a peer enrolled for Ada's.
type readEnv struct {
	g         *fedtest.Gateway
	clock     *clock
	ada, bob  *mosaic.User
	adaTasks  []string
	bobTasks  []string
	enrolled  *fedtest.Enrollment
	credsPeer *fedtest.Enrollment
}

// newReadEnv seeds 7 tasks for Ada, 3 for Bob, a note and a credential for
// Ada, and enrolls a peer for Ada's tasks and notes with a row cap of 3
// (credentials excluded), and another for her credentials.
func newReadEnv(t *testing.T) *readEnv {
	t.Helper()
	c := &clock{}
	g := fedtest.New(t, fedtest.Options{Now: c.now})
	e := &readEnv{g: g, clock: c, ada: g.User(t, "Ada"), bob: g.User(t, "Bob")}
	ctx := context.Background()
	for i := range 10 {
		owner := e.ada
		if i%3 == 2 && len(e.bobTasks) < 3 {
			owner = e.bob
		}
		task, err := g.Svc.CreateTask(ctx, mosaic.Task{UserID: owner.ID, Title: "task"})
		if err != nil {
			t.Fatal(err)
		}
		if owner == e.ada {
			e.adaTasks = append(e.adaTasks, task.ID)
		} else {
			e.bobTasks = append(e.bobTasks, task.ID)
		}
	}
	note := mosaic.Note{UserID: e.ada.ID, Title: "n", Body: "b"}
	if _, err := g.Svc.CreateNote(ctx, note); err != nil {
		t.Fatal(err)
	}
	_, err := g.Svc.CreateCredential(ctx, federation.CredentialInput{
		UserID: e.ada.ID, Name: "mail", Kind: "password", Secret: "hunter2-secret-value"})
	if err != nil {
		t.Fatal(err)
	}
	e.enrolled = g.Enroll(t, e.ada.ID, mosaic.Scope{
		Resources:         []mosaic.Resource{"tasks", "notes"},
		ExcludedResources: []mosaic.Resource{"credentials"},
		MaxRowsPerQuery:   3,
	})
	e.credsPeer = g.Enroll(t, e.ada.ID, fedtest.Scope(10, "credentials"))
	return e
}

// read sends a federated read presenting certs: a leaf, then
// intermediates.
func (e *readEnv) read(certs []*x509.Certificate, resource, limit, cursor, since string) (
	*federation.FederatedPage, error) {
	return e.g.Svc.ReadFederated(context.Background(), federation.FederatedRequest{
		Certs: certs, Resource: resource, Limit: limit, Cursor: cursor, Since: since,
		Source: source, RequestID: "req-" + mosaic.NewID(),
	})
}

func TestReadFederatedPages(t *testing.T) {
	e := newReadEnv(t)
	leaf := e.enrolled.Chain(t)

	// Follow the cursor through every page: Ada's tasks only, in order.
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the cursor does not end")
		}
		page, err := e.read(leaf, "tasks", "", cursor, "")
		if err != nil {
			t.Fatal(err)
		}
		if page.LimitApplied != 3 || page.LimitCapped || len(page.Items) > 3 {
			t.Errorf("page: %d items, limit %d, capped %v", len(page.Items), page.LimitApplied,
				page.LimitCapped)
		}
		for _, it := range page.Items {
			task := it.(*mosaic.Task)
			if task.UserID != e.ada.ID {
				t.Errorf("task %s of user %s leaked", task.ID, task.UserID)
			}
			got = append(got, task.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if strings.Join(got, ",") != strings.Join(e.adaTasks, ",") {
		t.Errorf("tasks read = %v, want %v", got, e.adaTasks)
	}

	tests := []struct {
		name, limit, since string
		wantLen, applied   int
		capped             bool
	}{
		{"limit above the cap", "100", "", 3, 3, true},
		{"limit below the cap", "2", "", 2, 2, false},
		{"since in the future", "", time.Now().Add(time.Hour).Format(time.RFC3339), 0, 3, false},
		{"since in the past", "", time.Now().Add(-time.Hour).Format(time.RFC3339), 3, 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := e.read(leaf, "tasks", tc.limit, "", tc.since)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != tc.wantLen || page.LimitApplied != tc.applied ||
				page.LimitCapped != tc.capped {
				t.Errorf("got %d items, limit %d, capped %v; want %d, %d, %v",
					len(page.Items), page.LimitApplied, page.LimitCapped,
					tc.wantLen, tc.applied, tc.capped)
			}
		})
	}
}

func TestReadFederatedBadInput(t *testing.T) {
	e := newReadEnv(t)
	tests := []struct {
		name, resource, limit, cursor, since string
		status                               int
		code                                 string
	}{
		{"limit zero", "tasks", "0", "", "", 400, "invalid_limit"},
		{"negative limit", "tasks", "-4", "", "", 400, "invalid_limit"},
		{"limit not a number", "tasks", "ten", "", "", 400, "invalid_limit"},
		{"cursor not base64", "tasks", "", "%%%", "", 400, "invalid_cursor"},
		{"cursor not an id", "tasks", "", federation.EncodeCursor("x' OR 1=1"), "", 400,
			"invalid_cursor"},
		{"since not a time", "tasks", "", "", "yesterday", 400, "invalid_since"},
		{"unknown resource", "files", "", "", "", 404, "unknown_resource"},
		{"excluded resource", "credentials", "", "", "", 403, "resource_not_in_scope"},
		{"resource not shared", "teams", "", "", "", 403, "resource_not_in_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.read(e.enrolled.Chain(t), tc.resource, tc.limit, tc.cursor, tc.since)
			wantCode(t, err, tc.status, tc.code)
			ev := lastEvent(t, e.g)
			if ev.Verb != mosaic.VerbRead || ev.Outcome != mosaic.OutcomeDenied ||
				ev.Reason != tc.code || ev.Status != tc.status || ev.GrantID != e.enrolled.Grant.ID ||
				ev.CertSerial != pki.SerialHex(e.enrolled.Leaf) {
				t.Errorf("audit event = %+v", ev)
			}
			wantResource := tc.resource
			if !mosaic.Resource(tc.resource).Valid() {
				wantResource = ""
			}
			if ev.Resource != wantResource {
				t.Errorf("audit event resource %q, want %q", ev.Resource, wantResource)
			}
		})
	}
}

func TestReadFederatedIdentity(t *testing.T) {
	e := newReadEnv(t)
	gr := e.enrolled.Grant
	inter := e.g.CA.Intermediate()
	forged := func(grantID, userID string) []*x509.Certificate {
		id := mosaic.Identity{GrantID: grantID, SubjectUserID: userID}
		return e.g.Forge(t, fedtest.ClientTemplate(t, id)).Chain(inter)
	}
	noIdentity := e.g.Forge(t, fedtest.ClientTemplate(t, mosaic.Identity{})).Chain(inter)
	tests := []struct {
		name   string
		certs  []*x509.Certificate
		status int
		code   string
	}{
		{"no certificate", nil, 401, "client_certificate_required"},
		{"no identity extensions", noIdentity, 403, "identity_invalid"},
		{"grant id not an id", forged("grant", e.ada.ID), 403, "identity_invalid"},
		{"unknown grant", forged(mosaic.NewID(), e.ada.ID), 403, "grant_not_found"},
		{"another subject", forged(gr.ID, e.bob.ID), 403, "identity_invalid"},
		{"not the issued certificate", forged(gr.ID, e.ada.ID), 403, "serial_superseded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.read(tc.certs, "tasks", "", "", "")
			wantCode(t, err, tc.status, tc.code)
			if ev := lastEvent(t, e.g); ev.Outcome != mosaic.OutcomeDenied || ev.Reason != tc.code {
				t.Errorf("audit event = %+v", ev)
			}
		})
	}
}

func TestReadFederatedGrantStates(t *testing.T) {
	e := newReadEnv(t)
	ctx := context.Background()
	if _, err := e.read(e.enrolled.Chain(t), "tasks", "", "", ""); err != nil {
		t.Fatalf("read before revocation: %v", err)
	}
	if _, err := e.g.Svc.Revoke(ctx, e.enrolled.Grant.ID, "stop"); err != nil {
		t.Fatal(err)
	}
	_, err := e.read(e.enrolled.Chain(t), "tasks", "", "", "")
	wantCode(t, err, 403, "grant_not_active")

	// A grant past its expiry refuses reads even before it is marked.
	exp := time.Now().Add(time.Hour)
	gr, err := e.g.Svc.CreateGrant(ctx, federation.GrantInput{
		UserID: e.ada.ID, PeerName: "Expiring", Scope: fedtest.Scope(3, "tasks"), ExpiresAt: &exp,
	})
	if err != nil {
		t.Fatal(err)
	}
	leaf := redeemChain(t, e.g, gr.ID)
	if _, err := e.read(leaf, "tasks", "", "", ""); err != nil {
		t.Fatalf("read before expiry: %v", err)
	}
	e.clock.advance(2 * time.Hour)
	_, err = e.read(leaf, "tasks", "", "", "")
	wantCode(t, err, 403, "grant_expired")

	// A certificate past its notAfter is refused even on a live connection.
	e.clock.advance(48 * time.Hour)
	_, err = e.read(e.credsPeer.Chain(t), "credentials", "", "", "")
	wantCode(t, err, 403, "certificate_invalid")
}

// TestReadFederatedDeniedAuditsResource refuses reads before and at the
// grant check: the audit event names the resource asked for when it is
// one of ours, and nothing when it is not.
func TestReadFederatedDeniedAuditsResource(t *testing.T) {
	e := newReadEnv(t)
	ctx := context.Background()
	revoked := e.credsPeer
	if _, err := e.g.Svc.Revoke(ctx, revoked.Grant.ID, "stop"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, resource string
		certs          []*x509.Certificate
		code, want     string
	}{
		{"grant revoked", "credentials", revoked.Chain(t), "grant_not_active", "credentials"},
		{"grant revoked, resource not shared", "teams", revoked.Chain(t), "grant_not_active",
			"teams"},
		{"grant revoked, unknown resource", "files", revoked.Chain(t), "grant_not_active", ""},
		{"no certificate", "notes", nil, "client_certificate_required", "notes"},
		{"no certificate, unknown resource", "../tasks", nil, "client_certificate_required", ""},
		{"no certificate, resource in capitals", "Tasks", nil, "client_certificate_required", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.read(tc.certs, tc.resource, "", "", "")
			if code := mosaic.ErrorCode(err); code != tc.code {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
			ev := lastEvent(t, e.g)
			if ev.Outcome != mosaic.OutcomeDenied || ev.Reason != tc.code || ev.Resource != tc.want {
				t.Errorf("audit event = %+v, want resource %q", ev, tc.want)
			}
		})
	}
}

func TestReadFederatedTwoGrantsOfOnePeer(t *testing.T) {
	e := newReadEnv(t)
	ctx := context.Background()
	first := e.enrolled

	// A second grant to the same peer gets its own certificate; the first
	// grant's stays good for the first grant.
	second, err := e.g.Svc.CreateGrant(ctx, federation.GrantInput{
		UserID: e.ada.ID, PeerID: first.Grant.PeerID, Scope: fedtest.Scope(3, "notes"),
	})
	if err != nil {
		t.Fatal(err)
	}
	chain := redeemChain(t, e.g, second.ID)
	if _, err := e.read(chain, "notes", "", "", ""); err != nil {
		t.Fatalf("read with the second grant's certificate: %v", err)
	}
	if _, err := e.read(first.Chain(t), "tasks", "", "", ""); err != nil {
		t.Fatalf("read with the first grant's certificate: %v", err)
	}
	peer, err := e.g.Svc.FindPeer(ctx, first.Grant.PeerID)
	if err != nil {
		t.Fatal(err)
	}
	if peer.CertSerial != pki.SerialHex(chain[0]) {
		t.Errorf("peer shows serial %s, want the latest %s", peer.CertSerial,
			pki.SerialHex(chain[0]))
	}

	// A certificate of our CA for the grant, but not the one it was
	// activated with, is refused.
	inter := e.g.CA.Intermediate()
	for _, gr := range []*mosaic.Grant{first.Grant, second} {
		id := mosaic.Identity{GrantID: gr.ID, SubjectUserID: e.ada.ID}
		other := e.g.Forge(t, fedtest.ClientTemplate(t, id)).Chain(inter)
		_, err := e.read(other, "notes", "", "", "")
		wantCode(t, err, 403, "serial_superseded")
	}
	// Nor does one grant's certificate read under the other's scope.
	_, err = e.read(chain, "tasks", "", "", "")
	wantCode(t, err, 403, "resource_not_in_scope")
}

func TestReadFederatedCredentialsAreMetadata(t *testing.T) {
	e := newReadEnv(t)
	page, err := e.read(e.credsPeer.Chain(t), "credentials", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Fatalf("credentials = %d, want 1", len(page.Items))
	}
	c := page.Items[0].(*mosaic.Credential)
	if c.Name != "mail" || c.SealedSecret != nil {
		t.Errorf("credential = %+v", c)
	}
	data, _ := json.Marshal(page.Items)
	text := strings.ToLower(string(data))
	if strings.Contains(text, "hunter2") || strings.Contains(text, "secret") {
		t.Errorf("credential JSON holds the secret: %s", data)
	}
	if e.g.FilesContain(t, "hunter2-secret-value") {
		t.Error("the database files hold the credential secret in the clear")
	}
}

func TestReadFederatedAudit(t *testing.T) {
	e := newReadEnv(t)
	if _, err := e.read(e.enrolled.Chain(t), "tasks", "2", "", ""); err != nil {
		t.Fatal(err)
	}
	ev := lastEvent(t, e.g)
	want := mosaic.AuditEvent{
		Verb: mosaic.VerbRead, Resource: "tasks", Status: 200, Outcome: mosaic.OutcomeAllowed,
		Rows: 2, SourceAddr: source, GrantID: e.enrolled.Grant.ID,
		PeerID: e.enrolled.Grant.PeerID, SubjectUserID: e.ada.ID,
		CertSerial: pki.SerialHex(e.enrolled.Leaf),
	}
	got := *ev
	got.ID, got.Time, got.RequestID = 0, time.Time{}, ""
	if got != want {
		t.Errorf("audit event = %+v\nwant %+v", got, want)
	}
	if ev.RequestID == "" || ev.Time.IsZero() {
		t.Errorf("audit event lacks request id or time: %+v", ev)
	}
}

// redeemChain redeems a token for a pending grant and returns what the
// peer presents: the leaf, then the intermediates.
func redeemChain(t *testing.T, g *fedtest.Gateway, grantID string) []*x509.Certificate {
	t.Helper()
	_, csr := fedtest.NewCSR(t)
	out, err := redeem(g, g.Token(t, grantID).Token.Reveal(), csr)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.ParseCerts(out.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := pki.ParseCerts(out.CertChainPEM)
	if err != nil {
		t.Fatal(err)
	}
	return append(leaf, chain[:len(chain)-1]...)
}
