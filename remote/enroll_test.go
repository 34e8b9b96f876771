package remote

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// newCSR returns a real P-256 certificate signing request.
func newCSR(t *testing.T) string {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, "peer-a")
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// enrollmentURL returns the enrollment URL of g for a fresh token and pin.
func enrollmentURL(t *testing.T, g *grantor, pin string) (*EnrollmentURL, string) {
	t.Helper()
	tok := newToken(t)
	u, err := ParseEnrollmentURL(g.srv.URL + enrollPathPrefix + tok + "#ca=" + pin)
	if err != nil {
		t.Fatal(err)
	}
	return u, tok
}

func TestEnroll(t *testing.T) {
	ca := newTestCA(t, "grantor root")
	other := newTestCA(t, "someone else")
	okAnswer := EnrollResult{
		CertPEM:      pki.EncodeCerts(ca.clientCert(t, "peer").Leaf),
		CertChainPEM: ca.pem(),
		CAPEM:        ca.pem(),
	}
	leaf := ca.serverCert(t)

	tests := []struct {
		name      string
		cfg       grantorConfig
		pin       string
		wantCode  string // empty means success
		wantKind  mosaic.Kind
		wantCalls int32
	}{
		{name: "pin matches", pin: ca.pin(), wantCalls: 1,
			cfg: grantorConfig{cert: leaf, bundle: ca.pem(), answer: okAnswer}},
		{name: "pin matches the second certificate of the bundle", pin: ca.pin(), wantCalls: 1,
			cfg: grantorConfig{cert: leaf, bundle: other.pem() + ca.pem(), answer: okAnswer}},
		{name: "pin mismatch", pin: other.pin(), wantCode: "pin_mismatch",
			wantKind: mosaic.KindInvalid,
			cfg:      grantorConfig{cert: leaf, bundle: ca.pem(), answer: okAnswer}},
		{name: "server certificate from another CA", pin: ca.pin(),
			wantCode: "peer_unreachable", wantKind: mosaic.KindUpstream,
			cfg: grantorConfig{cert: other.serverCert(t), bundle: ca.pem(), answer: okAnswer}},
		{name: "server certificate for another host", pin: ca.pin(),
			wantCode: "peer_unreachable", wantKind: mosaic.KindUpstream,
			cfg: grantorConfig{cert: ca.serverCert(t, "other.example"), bundle: ca.pem(),
				answer: okAnswer}},
		{name: "pinned certificate is not a CA", pin: pki.Pin(leaf.Leaf),
			wantCode: "pin_not_ca", wantKind: mosaic.KindInvalid,
			cfg: grantorConfig{cert: leaf, bundle: pki.EncodeCerts(leaf.Leaf) + ca.pem(),
				answer: okAnswer}},
		{name: "malformed CA bundle", pin: ca.pin(),
			wantCode: "invalid_ca_bundle", wantKind: mosaic.KindUpstream,
			cfg: grantorConfig{cert: leaf, bundle: ca.pem() + "garbage", answer: okAnswer}},
		{name: "CA endpoint fails", pin: ca.pin(), wantCode: "ca_unavailable",
			wantKind: mosaic.KindUnavailable,
			cfg: grantorConfig{cert: leaf, bundleStatus: http.StatusServiceUnavailable,
				bundle: `{"error":{"code":"ca_unavailable","message":"try later"}}`}},
		{name: "token used", pin: ca.pin(), wantCode: "token_used", wantKind: mosaic.KindGone,
			wantCalls: 1,
			cfg: grantorConfig{cert: leaf, bundle: ca.pem(), status: http.StatusGone,
				answer: apiError("token_used", "enrollment token already used")}},
		{name: "grant not pending", pin: ca.pin(), wantCode: "grant_not_pending",
			wantKind: mosaic.KindConflict, wantCalls: 1,
			cfg: grantorConfig{cert: leaf, bundle: ca.pem(), status: http.StatusConflict,
				answer: apiError("grant_not_pending", "grant is not pending")}},
		{name: "answer is not a Mosaic error", pin: ca.pin(), wantCode: "unexpected_answer",
			wantKind: mosaic.KindUpstream, wantCalls: 1,
			cfg: grantorConfig{cert: leaf, bundle: ca.pem(), status: http.StatusInternalServerError,
				answer: "<html>oops</html>"}},
		{name: "answer lacks the certificate", pin: ca.pin(),
			wantCode: "invalid_enrollment_answer", wantKind: mosaic.KindUpstream, wantCalls: 1,
			cfg: grantorConfig{cert: leaf, bundle: ca.pem(), answer: EnrollResult{CAPEM: ca.pem()}}},
		{name: "answer names another CA", pin: ca.pin(), wantCode: "ca_mismatch",
			wantKind: mosaic.KindUpstream, wantCalls: 1,
			cfg: grantorConfig{cert: leaf, bundle: ca.pem(), answer: EnrollResult{
				CertPEM: okAnswer.CertPEM, CAPEM: other.pem()}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGrantor(t, tt.cfg)
			u, tok := enrollmentURL(t, g, tt.pin)
			csr := newCSR(t)

			res, err := Enroll(context.Background(), u, csr)
			if got := g.calls.Load(); got != tt.wantCalls {
				t.Errorf("enrollment requests received: %d, want %d", got, tt.wantCalls)
			}
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Enroll: %v", err)
				}
				if *res != okAnswer {
					t.Errorf("result %+v, want %+v", res, okAnswer)
				}
				if g.gotCSR != csr || g.gotPath != enrollPathPrefix+tok {
					t.Errorf("server got path %q and CSR %q", g.gotPath, g.gotCSR)
				}
				return
			}
			if err == nil {
				t.Fatalf("Enroll succeeded, want %s", tt.wantCode)
			}
			if mosaic.ErrorCode(err) != tt.wantCode || !mosaic.IsKind(err, tt.wantKind) {
				t.Fatalf("error %v (kind %d), want %s (kind %d)",
					err, mosaic.ErrorKind(err), tt.wantCode, tt.wantKind)
			}
			assertNoSecret(t, err, tok)
			t.Logf("error: %v", err)
		})
	}
}

func TestEnrollRemoteMessage(t *testing.T) {
	ca := newTestCA(t, "grantor root")
	g := startGrantor(t, grantorConfig{cert: ca.serverCert(t), bundle: ca.pem(),
		status: http.StatusGone, answer: apiError("token_expired", "token\x1b[31m expired\n")})
	u, _ := enrollmentURL(t, g, ca.pin())

	_, err := Enroll(context.Background(), u, newCSR(t))
	if got := mosaic.ErrorMessage(err); got != "token[31m expired" {
		t.Fatalf("message %q: control characters must be dropped", got)
	}
	if !strings.Contains(err.Error(), "req-1") {
		t.Errorf("error %q: the remote request id belongs in the detail", err)
	}
}

func TestEnrollUnreachable(t *testing.T) {
	ca := newTestCA(t, "grantor root")
	g := startGrantor(t, grantorConfig{cert: ca.serverCert(t), bundle: ca.pem()})
	u, tok := enrollmentURL(t, g, ca.pin())
	g.srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Enroll(ctx, u, newCSR(t))
	if !mosaic.IsKind(err, mosaic.KindUpstream) || mosaic.ErrorCode(err) != "peer_unreachable" {
		t.Fatalf("error %v, want KindUpstream peer_unreachable", err)
	}
	assertNoSecret(t, err, tok)
}

func TestEnrollRejectsBadInput(t *testing.T) {
	tok := newToken(t)
	pin := "sha256:" + strings.Repeat("00", 32)
	tests := []struct {
		name string
		u    *EnrollmentURL
	}{
		{"nil", nil},
		{"http base", &EnrollmentURL{BaseURL: "http://b.example", Token: mosaic.TokenSecret(tok),
			Pin: pin}},
		{"malformed token", &EnrollmentURL{BaseURL: "https://b.example", Token: "short", Pin: pin}},
		{"malformed pin", &EnrollmentURL{BaseURL: "https://b.example", Token: mosaic.TokenSecret(tok),
			Pin: "sha256:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Enroll(context.Background(), tt.u, "csr")
			if !mosaic.IsKind(err, mosaic.KindInvalid) {
				t.Fatalf("error %v, want KindInvalid", err)
			}
			assertNoSecret(t, err, tok)
		})
	}
}
