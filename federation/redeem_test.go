package federation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// source is the client address the tests redeem from.
const source = "192.0.2.7:40000"

// redeem redeems token with csr.
func redeem(g *fedtest.Gateway, token, csr string) (*federation.Enrolled, error) {
	return g.Svc.Redeem(context.Background(), federation.RedeemInput{
		Token: token, CSRPEM: csr, Source: source, RequestID: "req-" + mosaic.NewID(),
	})
}

// pendingToken creates a user, a pending grant and a token for it.
func pendingToken(t *testing.T, g *fedtest.Gateway) (*mosaic.Grant, string) {
	t.Helper()
	user := g.User(t, "Ada")
	gr := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
	return gr, g.Token(t, gr.ID).Token.Reveal()
}

// enrollEvents returns the enrollment audit events of a grant, oldest
// first.
func enrollEvents(t *testing.T, g *fedtest.Gateway, grantID string) []*mosaic.AuditEvent {
	t.Helper()
	var out []*mosaic.AuditEvent
	evs := g.Audit(t, mosaic.AuditFilter{GrantID: grantID})
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Verb == mosaic.VerbEnroll {
			out = append(out, evs[i])
		}
	}
	return out
}

// lastEvent returns the newest audit event of the gateway.
func lastEvent(t *testing.T, g *fedtest.Gateway) *mosaic.AuditEvent {
	t.Helper()
	evs := g.Audit(t, mosaic.AuditFilter{})
	if len(evs) == 0 {
		t.Fatal("no audit event")
	}
	return evs[0]
}

func TestRedeem(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	gr, token := pendingToken(t, g)
	key, csr := fedtest.NewCSR(t)

	out, err := redeem(g, token, csr)
	if err != nil {
		t.Fatal(err)
	}

	// The certificate carries the key, the identity and chains to the CA.
	certs, err := pki.ParseCerts(out.CertPEM)
	if err != nil || len(certs) != 1 {
		t.Fatalf("certPem: %d certificates, %v", len(certs), err)
	}
	leaf := certs[0]
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Error("certificate is not for the CSR's key")
	}
	id, err := pki.ParseIdentity(leaf)
	if err != nil || id.GrantID != gr.ID || id.SubjectUserID != gr.UserID {
		t.Errorf("identity = %+v, %v", id, err)
	}
	if want := pki.EncodeCerts(g.CA.Intermediate(), g.CA.Root()); out.CertChainPEM != want {
		t.Error("certChainPem is not the intermediate then the root")
	}
	if out.CAPEM != pki.EncodeCerts(g.CA.Root()) {
		t.Error("caPem is not the root")
	}

	// Grant and peer are active with the certificate.
	ctx := context.Background()
	got, err := g.Svc.FindGrant(ctx, gr.ID)
	if err != nil || got.Status != mosaic.GrantActive || got.ActivatedAt == nil {
		t.Errorf("grant = %+v, %v; want active", got, err)
	}
	p, err := g.Svc.FindPeer(ctx, gr.PeerID)
	if err != nil || p.State != mosaic.PeerActive || p.CertSerial != pki.SerialHex(leaf) ||
		p.CertPEM != out.CertPEM || p.CertFingerprint != pki.Fingerprint(leaf) {
		t.Errorf("peer = %+v, %v; want active with the certificate", p, err)
	}

	// One allowed audit event, naming the token by a hash prefix only.
	evs := enrollEvents(t, g, gr.ID)
	if len(evs) != 1 {
		t.Fatalf("enrollment events = %d, want 1", len(evs))
	}
	ev := evs[0]
	hash := mosaic.TokenSecret(token).Hash()
	if ev.Outcome != mosaic.OutcomeAllowed || ev.Status != 200 || ev.SourceAddr != source ||
		ev.TokenHashPrefix != mosaic.HashPrefix(hash) || ev.CertSerial != pki.SerialHex(leaf) ||
		ev.PeerID != gr.PeerID || ev.SubjectUserID != gr.UserID {
		t.Errorf("event = %+v", ev)
	}
	if strings.Contains(g.Logs.String(), token) {
		t.Error("the log holds the token")
	}
}

func TestRedeemRefusals(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	_, goodCSR := fedtest.NewCSR(t)
	revoked, revokedToken := pendingToken(t, g)
	if _, err := g.Svc.Revoke(context.Background(), revoked.ID, ""); err != nil {
		t.Fatal(err)
	}
	gr, token := pendingToken(t, g)
	unknown, err := mosaic.NewTokenSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		token  string
		csr    string
		status int
		code   string
	}{
		{"malformed token", "abc", goodCSR, 400, "invalid_token"},
		{"token with a bad character", token[:42] + "*", goodCSR, 400, "invalid_token"},
		{"unknown token", unknown.Reveal(), goodCSR, 404, "token_not_found"},
		{"revoked grant", revokedToken, goodCSR, 409, "grant_not_pending"},
		{"empty CSR", token, "", 400, "invalid_csr"},
		{"garbage CSR", token, "hello", 400, "invalid_csr"},
		{"CSR with trailing bytes", token, goodCSR + "trailing", 400, "invalid_csr"},
		{"two CSRs", token, goodCSR + goodCSR, 400, "invalid_csr"},
		{"certificate instead of CSR", token, pki.EncodeCerts(g.CA.Root()), 400, "invalid_csr"},
		{"RSA key", token, rsaCSR(t), 400, "csr_key_unsupported"},
		{"P-384 key", token, p384CSR(t), 400, "csr_key_unsupported"},
		{"bad signature", token, badSignatureCSR(t), 400, "csr_signature_invalid"},
		{"asks for the grant extension", token, extensionCSR(t, pkix.Extension{
			Id: mosaic.OIDGrantID, Value: utf8String(t, gr.ID)}), 400, "csr_forbidden_extension"},
		{"asks for CA rights", token, extensionCSR(t, pkix.Extension{
			Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true,
			Value: mustASN1(t, struct{ IsCA bool }{true})}), 400, "csr_forbidden_extension"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redeem(g, tc.token, tc.csr)
			wantCode(t, err, tc.status, tc.code)

			ev := lastEvent(t, g)
			hash := mosaic.HashPrefix(mosaic.TokenSecret(tc.token).Hash())
			if ev.Verb != mosaic.VerbEnroll || ev.Outcome != mosaic.OutcomeDenied ||
				ev.Reason != tc.code || ev.Status != tc.status || ev.SourceAddr != source ||
				ev.TokenHashPrefix != hash || ev.CertSerial != "" {
				t.Errorf("audit event = %+v", ev)
			}
		})
	}

	// Nothing was changed: the token still works.
	if g.FaultCA.Signed() != 0 {
		t.Errorf("the CA signed %d certificates for refused redeems", g.FaultCA.Signed())
	}
	if _, err := redeem(g, token, goodCSR); err != nil {
		t.Fatalf("redeem after refusals: %v", err)
	}
}

func TestRedeemUsedAndExpiredTokens(t *testing.T) {
	t.Parallel()
	g := fedtest.New(t, fedtest.Options{})
	_, token := pendingToken(t, g)
	_, csr := fedtest.NewCSR(t)
	if _, err := redeem(g, token, csr); err != nil {
		t.Fatal(err)
	}
	_, otherCSR := fedtest.NewCSR(t)
	_, err := redeem(g, token, otherCSR)
	wantCode(t, err, 410, "token_used")

	// A token expires by the database clock; one second is the shortest TTL.
	user := g.User(t, "Bob")
	gr := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
	short, err := g.Svc.IssueToken(context.Background(), gr.ID, "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	_, err = redeem(g, short.Token.Reveal(), csr)
	wantCode(t, err, 410, "token_expired")
	if ev := lastEvent(t, g); ev.Reason != "token_expired" || ev.GrantID != gr.ID {
		t.Errorf("audit event = %+v", ev)
	}
}

func TestRedeemCAFailureReleasesClaim(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"upstream", mosaic.Errorf(mosaic.KindUpstream, "step_failed", "boom"), 502, "ca_failed"},
		{"unavailable", mosaic.Errorf(mosaic.KindUnavailable, "down", "down"), 503, "ca_unavailable"},
		{"plain error", errors.New("connection reset"), 502, "ca_failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := fedtest.New(t, fedtest.Options{})
			gr, token := pendingToken(t, g)
			_, csr := fedtest.NewCSR(t)

			g.FaultCA.FailNext(tc.err)
			_, err := redeem(g, token, csr)
			wantCode(t, err, tc.status, tc.code)
			if ev := lastEvent(t, g); ev.Outcome != mosaic.OutcomeDenied || ev.Reason != tc.code ||
				ev.GrantID != gr.ID {
				t.Errorf("audit event = %+v", ev)
			}
			got, _ := g.Svc.FindGrant(context.Background(), gr.ID)
			if got.Status != mosaic.GrantPending {
				t.Errorf("grant is %s after a CA failure, want pending", got.Status)
			}

			// The claim was released: the same token now succeeds.
			if _, err := redeem(g, token, csr); err != nil {
				t.Fatalf("retry after CA failure: %v", err)
			}
		})
	}
}

func TestRedeemRevokedDuringSigning(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	gr, token := pendingToken(t, g)
	_, csr := fedtest.NewCSR(t)

	entered, release := g.FaultCA.Hold()
	defer release()
	errc := make(chan error, 1)
	go func() {
		_, err := redeem(g, token, csr)
		errc <- err
	}()
	select {
	case <-entered:
	case err := <-errc:
		t.Fatalf("the redeem ended before signing: %v", err)
	}
	if _, err := g.Svc.Revoke(context.Background(), gr.ID, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	release()
	wantCode(t, <-errc, 409, "grant_not_pending")

	ctx := context.Background()
	got, _ := g.Svc.FindGrant(ctx, gr.ID)
	p, _ := g.Svc.FindPeer(ctx, gr.PeerID)
	if got.Status != mosaic.GrantRevoked || p.State != mosaic.PeerPending || p.CertSerial != "" {
		t.Errorf("grant %s, peer %s with serial %q; want revoked, pending, none",
			got.Status, p.State, p.CertSerial)
	}
	if g.FaultCA.Signed() != 1 {
		t.Fatalf("CA signed %d certificates, want 1", g.FaultCA.Signed())
	}
	evs := enrollEvents(t, g, gr.ID)
	if len(evs) != 1 {
		t.Fatalf("enrollment events = %d, want 1", len(evs))
	}
	if ev := evs[0]; ev.Outcome != mosaic.OutcomeDenied || ev.Reason != "grant_not_pending" ||
		ev.Status != 409 || len(ev.CertSerial) < 32 {
		t.Errorf("event = %+v; want denied with the undelivered certificate's serial", ev)
	}
}

func TestRedeemRetryAfterLostAnswer(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	gr, token := pendingToken(t, g)
	_, csr := fedtest.NewCSR(t)
	first, err := redeem(g, token, csr)
	if err != nil {
		t.Fatal(err)
	}

	// The same key, even in a new CSR, gets the same certificate back.
	again, err := redeem(g, token, csr)
	if err != nil {
		t.Fatalf("retry with the same CSR: %v", err)
	}
	if *again != *first {
		t.Error("retry answered a different enrollment")
	}
	if g.FaultCA.Signed() != 1 {
		t.Errorf("CA signed %d certificates, want 1", g.FaultCA.Signed())
	}
	evs := enrollEvents(t, g, gr.ID)
	if len(evs) != 2 || evs[1].Outcome != mosaic.OutcomeAllowed || evs[1].Reason != "retry_same_key" {
		t.Errorf("events after retry = %d, last %+v", len(evs), evs[len(evs)-1])
	}

	// Another key never gets a certificate.
	_, other := fedtest.NewCSR(t)
	_, err = redeem(g, token, other)
	wantCode(t, err, 410, "token_used")

	// Once the grant is revoked, the retry is over too.
	if _, err := g.Svc.Revoke(context.Background(), gr.ID, ""); err != nil {
		t.Fatal(err)
	}
	_, err = redeem(g, token, csr)
	wantCode(t, err, 410, "token_used")
}

func TestRedeemConcurrentOneWinner(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	gr, token := pendingToken(t, g)
	const n = 20
	csrs := make([]string, n)
	for i := range csrs {
		_, csrs[i] = fedtest.NewCSR(t)
	}

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = redeem(g, token, csrs[i])
		}()
	}
	wg.Wait()

	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case mosaic.ErrorCode(err) != "token_used":
			t.Errorf("loser error = %v, want token_used", err)
		}
	}
	if ok != 1 || g.FaultCA.Signed() != 1 {
		t.Errorf("%d redeems succeeded and %d certificates were signed, want 1 and 1",
			ok, g.FaultCA.Signed())
	}
	allowed := 0
	for _, ev := range enrollEvents(t, g, gr.ID) {
		if ev.Outcome == mosaic.OutcomeAllowed {
			allowed++
		}
	}
	if allowed != 1 {
		t.Errorf("allowed enrollment events = %d, want 1", allowed)
	}
}

// rsaCSR returns a CSR with an RSA key.
func rsaCSR(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return csrPEM(t, &x509.CertificateRequest{}, key)
}

// p384CSR returns a CSR with an ECDSA P-384 key.
func p384CSR(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return csrPEM(t, &x509.CertificateRequest{}, key)
}

// extensionCSR returns a P-256 CSR requesting ext.
func extensionCSR(t *testing.T, ext pkix.Extension) string {
	t.Helper()
	key, _ := fedtest.NewCSR(t)
	return csrPEM(t, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{ext}}, key)
}

// badSignatureCSR returns a P-256 CSR whose signature does not verify.
func badSignatureCSR(t *testing.T) string {
	t.Helper()
	_, text := fedtest.NewCSR(t)
	block, _ := pem.Decode([]byte(text))
	block.Bytes[len(block.Bytes)-3] ^= 0x01
	return string(pem.EncodeToMemory(block))
}

// csrPEM signs tmpl with key and returns the CSR in PEM.
func csrPEM(t *testing.T, tmpl *x509.CertificateRequest, key any) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// utf8String returns s as a DER UTF8String.
func utf8String(t *testing.T, s string) []byte {
	t.Helper()
	der, err := pki.MarshalUTF8String(s)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// mustASN1 returns the DER of v.
func mustASN1(t *testing.T, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// hookStore is the real store with a hook that runs before FindGrant, to
// put another request's steps between two of ours.
type hookStore struct {
	*sqlstore.DB
	beforeFindGrant func()
}

// FindGrant runs the hook once, then finds the grant.
func (h *hookStore) FindGrant(ctx context.Context, id string) (*mosaic.Grant, error) {
	if hook := h.beforeFindGrant; hook != nil {
		h.beforeFindGrant = nil
		hook()
	}
	return h.DB.FindGrant(ctx, id)
}

func TestRedeemUsedBetweenSteps(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	_, token := pendingToken(t, g)
	hooked := &hookStore{DB: g.Store}
	replica := federation.New(federation.Config{
		Store: hooked, CA: g.FaultCA, Sealer: g.Sealer, PublicURL: g.PublicURL,
		CAPin: g.CA.Pin(), CAPEM: pki.EncodeCerts(g.CA.Root()),
	})
	_, winner := fedtest.NewCSR(t)
	_, loser := fedtest.NewCSR(t)

	// Another replica redeems the token after ours read it unused and
	// before ours reads the grant: ours must answer as the token says.
	hooked.beforeFindGrant = func() {
		if _, err := redeem(g, token, winner); err != nil {
			t.Errorf("winner: %v", err)
		}
	}
	_, err := replica.Redeem(context.Background(), federation.RedeemInput{
		Token: token, CSRPEM: loser, Source: source, RequestID: "loser",
	})
	wantCode(t, err, 410, "token_used")
}
