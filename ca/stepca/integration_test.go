package stepca_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/stepca"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/pki"
)

// The integration tests run a real step-ca (see stepCABinary), configured
// by deploy/step-ca/init.sh with the federation template.

// TestStepCAEnrollment enrolls a peer through the gateway's flow with
// step-ca issuing, checks the certificate as the peer does, and reads the
// grant's data over mutual TLS with it.
func TestStepCAEnrollment(t *testing.T) {
	s := startStepCA(t)
	ca := s.client(t)
	ctx := context.Background()
	if err := ca.CheckRoot(ctx); err != nil {
		t.Fatalf("CheckRoot: %v", err)
	}
	g := newGateway(t, ca)
	gr, token := g.pendingGrant(t)

	// The peer names itself in its CSR; the grantor decides the subject.
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, "gateway-a.example")
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.redeem(token, csr)
	if err != nil {
		t.Fatalf("Redeem: %v\nstep-ca log:\n%s", err, s.log.String())
	}
	if status, peer := g.grantState(t, gr.ID); status != mosaic.GrantActive ||
		peer != mosaic.PeerActive {
		t.Fatalf("grant %s, peer %s after enrollment; want both active", status, peer)
	}

	// The certificate as issued.
	leaf := mustParseOne(t, out.CertPEM)
	chain, err := pki.ParseCerts(out.CertChainPEM)
	if err != nil {
		t.Fatal(err)
	}
	checkPeerCert(t, leaf, gr)
	if err := leaf.CheckSignatureFrom(chain[0]); err != nil {
		t.Errorf("leaf is not signed by the first certificate of the chain: %v", err)
	}
	if !chain[len(chain)-1].Equal(ca.Root()) {
		t.Errorf("certChainPem does not end with step-ca's root")
	}

	// The peer's check (DESIGN §3.2 step 4): the leaf chains to step-ca's
	// root, which came in certChainPem; caPem is the grantor's pinned CA.
	cas, err := pki.ParseCerts(out.CAPEM)
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.VerifyPeerCert(leaf, append(chain, cas...), g.own.Pin(), key.Public(), time.Now())
	if err != nil {
		t.Fatalf("VerifyPeerCert: %v", err)
	}
	if id.GrantID != gr.ID || id.SubjectUserID != gr.UserID {
		t.Errorf("peer reads identity %+v", id)
	}

	// A federated read over mutual TLS with the certificate.
	srv := g.serveFederation(t, ca)
	client := g.peerClient(t, key, leaf, chain)
	wantTasks(t, client, srv.URL+"/api/federation/v1/tasks", gr.UserID)
}

// wantTasks reads url and checks that it answers the one task of userID.
func wantTasks(t *testing.T, client *http.Client, url, userID string) {
	t.Helper()
	status, body := get(t, client, url)
	if status != http.StatusOK {
		t.Fatalf("read: %d %s", status, body)
	}
	var page struct {
		Items []struct {
			Title  string `json:"title"`
			UserID string `json:"userId"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Title != "federated task" ||
		page.Items[0].UserID != userID {
		t.Errorf("read returned %s", body)
	}
}

// mustParseOne parses exactly one PEM certificate.
func mustParseOne(t *testing.T, text string) *x509.Certificate {
	t.Helper()
	certs, err := pki.ParseCerts(text)
	if err != nil || len(certs) != 1 {
		t.Fatalf("want one certificate: %v (%d)", err, len(certs))
	}
	return certs[0]
}

// checkPeerCert checks what the template puts into a peer certificate:
// both identity extensions as DER UTF8Strings, the subject the grantor
// chose and no name of the CSR's, client authentication only, not a CA,
// a serial of at least 128 bits, notBefore backdated by 5 minutes.
func checkPeerCert(t *testing.T, leaf *x509.Certificate, gr *mosaic.Grant) {
	t.Helper()
	id, err := pki.ParseIdentity(leaf)
	if err != nil {
		t.Fatalf("ParseIdentity: %v", err)
	}
	if id.GrantID != gr.ID || id.SubjectUserID != gr.UserID {
		t.Errorf("identity = %+v, want grant %s user %s", id, gr.ID, gr.UserID)
	}
	if !strings.HasPrefix(leaf.Subject.CommonName, "peer-") || len(leaf.Subject.Names) != 1 {
		t.Errorf("subject = %q, want the grantor's peer name alone", leaf.Subject)
	}
	if len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses)+len(leaf.URIs) != 0 {
		t.Errorf("certificate carries names: %v %v %v %v", leaf.DNSNames, leaf.IPAddresses,
			leaf.EmailAddresses, leaf.URIs)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth ||
		leaf.KeyUsage != x509.KeyUsageDigitalSignature || leaf.IsCA {
		t.Errorf("usage: eku %v ku %v CA %v", leaf.ExtKeyUsage, leaf.KeyUsage, leaf.IsCA)
	}
	for _, ext := range leaf.Extensions {
		if ext.Critical && (ext.Id.Equal(mosaic.OIDGrantID) || ext.Id.Equal(mosaic.OIDSubjectUserID)) {
			t.Errorf("identity extension %s is critical", ext.Id)
		}
	}
	if leaf.SerialNumber.BitLen() < 128 {
		t.Errorf("serial has %d bits", leaf.SerialNumber.BitLen())
	}
	if skew := time.Since(leaf.NotBefore); skew < 5*time.Minute || skew > 6*time.Minute {
		t.Errorf("notBefore is %s ago, want the 5 minute backdate", skew)
	}
}

// TestStepCAIdentityValues signs directly with identity values of every
// kind of character and reads them back byte for byte: each must be a
// UTF8String even where a PrintableString would do.
func TestStepCAIdentityValues(t *testing.T) {
	s := startStepCA(t)
	ca := s.client(t)
	tests := []struct {
		name string
		id   mosaic.Identity
	}{
		{"printable ASCII", mosaic.Identity{GrantID: "plain", SubjectUserID: "ABC 123"}},
		{"underscore, at, colon", mosaic.Identity{GrantID: "grant_1@b.example:443",
			SubjectUserID: "utf8:user_2@host:x"}},
		{"non-ASCII", mosaic.Identity{GrantID: "Zoë-ünïcødé", SubjectUserID: "用户-ユーザー-😀"}},
		{"JSON and template syntax", mosaic.Identity{GrantID: `quote" back\slash {{ .Token }}`,
			SubjectUserID: "%s %!v <tag> &amp;"}},
		{"long", mosaic.Identity{GrantID: strings.Repeat("g", 300),
			SubjectUserID: strings.Repeat("é", 200)}},
		{"UUIDs", mosaic.Identity{GrantID: mosaic.NewID(), SubjectUserID: mosaic.NewID()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := newCSR(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}})
			ic, err := ca.Sign(context.Background(), mosaic.SignRequest{
				CSR: csr, CommonName: "peer-values", Identity: tt.id,
			})
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got, err := pki.ParseIdentity(ic.Cert)
			if err != nil {
				t.Fatalf("ParseIdentity: %v", err)
			}
			if got != tt.id {
				t.Errorf("identity = %+q, want %+q", got, tt.id)
			}
			wantExtension(t, ic.Cert, mosaic.OIDGrantID, tt.id.GrantID)
			wantExtension(t, ic.Cert, mosaic.OIDSubjectUserID, tt.id.SubjectUserID)
			if err := pki.VerifyIssued(ic, csr, tt.id, time.Now()); err != nil {
				t.Errorf("VerifyIssued: %v", err)
			}
		})
	}
}

// wantExtension checks that cert's extension oid is exactly the DER
// UTF8String of value.
func wantExtension(t *testing.T, cert *x509.Certificate, oid []int, value string) {
	t.Helper()
	want, err := pki.MarshalUTF8String(value)
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oid) {
			if string(ext.Value) != string(want) {
				t.Errorf("extension %v = % x, want % x", oid, ext.Value, want)
			}
			return
		}
	}
	t.Errorf("extension %v missing", oid)
}

// newCSR returns a parsed CSR for a new P-256 key.
func newCSR(t *testing.T, tmpl *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// TestStepCASignRequests covers what step-ca decides about a request: the
// CSR's own names are accepted and dropped, the lifetime is honoured within
// the provisioner's limits, and a token from another key is refused.
func TestStepCASignRequests(t *testing.T) {
	s := startStepCA(t, "-max-lifetime", "48h")
	ca := s.client(t)
	ctx := context.Background()
	uri, _ := url.Parse("spiffe://a.example/gateway")
	named := newCSR(t, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "evil.example", Organization: []string{"Evil"}},
		DNSNames:       []string{"evil.example", "b.example"},
		IPAddresses:    []net.IP{net.IPv4(192, 0, 2, 7)},
		EmailAddresses: []string{"root@b.example"},
		URIs:           []*url.URL{uri},
	})
	id := mosaic.Identity{GrantID: mosaic.NewID(), SubjectUserID: mosaic.NewID()}

	ic, err := ca.Sign(ctx, mosaic.SignRequest{CSR: named, CommonName: "peer-x", Identity: id,
		Lifetime: 2 * time.Hour})
	if err != nil {
		t.Fatalf("Sign with a CSR full of names: %v\n%s", err, s.log.String())
	}
	leaf := ic.Cert
	if leaf.Subject.String() != "CN=peer-x" ||
		len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses)+len(leaf.URIs) != 0 {
		t.Errorf("certificate took names from the CSR: %s %v %v %v %v", leaf.Subject,
			leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses, leaf.URIs)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d != 2*time.Hour+5*time.Minute {
		t.Errorf("validity %s, want the 2h asked for plus the 5m backdate", d)
	}
	if err := pki.VerifyIssued(ic, named, id, time.Now()); err != nil {
		t.Errorf("VerifyIssued: %v", err)
	}

	// Past the provisioner's maximum: step-ca refuses.
	_, err = ca.Sign(ctx, mosaic.SignRequest{CSR: named, CommonName: "peer-x", Identity: id,
		Lifetime: 72 * time.Hour})
	wantKind(t, err, mosaic.KindUpstream, "ca_refused")

	// A token signed with a key step-ca does not know.
	cfg := s.config(t)
	cfg.ProvisionerKeyJSON = otherKeyJSON(t)
	stranger, err := stepca.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = stranger.Sign(ctx, mosaic.SignRequest{CSR: named, CommonName: "peer-x", Identity: id})
	wantKind(t, err, mosaic.KindUpstream, "ca_refused")
}

// otherKeyJSON is a provisioner key step-ca has never seen, written by
// init.sh for another CA.
func otherKeyJSON(t *testing.T) []byte {
	t.Helper()
	other := initStepCA(t)
	data, err := os.ReadFile(other.env[stepca.EnvProvisionerKeyFile])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// wantKind fails the test unless err has that kind and code.
func wantKind(t *testing.T, err error, kind mosaic.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if mosaic.ErrorKind(err) != kind || mosaic.ErrorCode(err) != code {
		t.Fatalf("error = %v (kind %d), want kind %d code %s", err, mosaic.ErrorKind(err), kind, code)
	}
}

// TestStepCAWrongTemplate has step-ca render certificates with broken
// templates: the flow refuses each certificate after issuance (502),
// activates nothing, audits the serial, and gives the token back, so the
// same token enrolls once the template is right again.
func TestStepCAWrongTemplate(t *testing.T) {
	s := startStepCA(t)
	ca := s.client(t)
	g := newGateway(t, ca)
	good, err := os.ReadFile(s.template)
	if err != nil {
		t.Fatal(err)
	}
	grantExt := `{"id": "1.3.6.1.4.1.99999.1", "critical": false,
		 "value": {{ printf "utf8:%s" $grant | asn1Enc | toJson }}},`
	tests := []struct {
		name string
		from string // text of the good template to replace
		to   string
	}{
		{"grant id as PrintableString", `printf "utf8:%s" $grant`, `printf "printable:%s" $grant`},
		{"grant id altered", `printf "utf8:%s" $grant`, `printf "utf8:%s-x" $grant`},
		{"grant id extension dropped", grantExt, ""},
		{"user id extension dropped", `,
		{"id": "1.3.6.1.4.1.99999.2", "critical": false,
		 "value": {{ printf "utf8:%s" $user | asn1Enc | toJson }}}`, ""},
		{"grant and user swapped", `printf "utf8:%s" $grant`, `printf "utf8:%s" $user`},
		{"server authentication added", `["clientAuth"]`, `["clientAuth", "serverAuth"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := strings.Replace(string(good), tt.from, tt.to, 1)
			if broken == string(good) {
				t.Fatalf("template has no %q", tt.from)
			}
			s.setTemplate(t, broken)
			gr, token := g.pendingGrant(t)
			csr := newCSRPEM(t)

			_, err := g.redeem(token, csr)
			wantKind(t, err, mosaic.KindUpstream, "issued_cert_invalid")
			if st := federation.StatusOf(err); st != http.StatusBadGateway {
				t.Errorf("status %d, want 502", st)
			}
			if status, peer := g.grantState(t, gr.ID); status != mosaic.GrantPending ||
				peer != mosaic.PeerPending {
				t.Errorf("grant %s, peer %s; want both still pending", status, peer)
			}
			evs := g.audit(t, gr.ID)
			if len(evs) != 1 || evs[0].Outcome != mosaic.OutcomeDenied ||
				evs[0].Status != http.StatusBadGateway || evs[0].Reason != "issued_cert_invalid" {
				t.Fatalf("audit = %+v, want one denied 502 issued_cert_invalid", evs)
			}
			wantIssuedSerial(t, s, evs[0].CertSerial)

			// The claim was given back: the same token works once the
			// template is right.
			s.setTemplate(t, string(good))
			if _, err := g.redeem(token, csr); err != nil {
				t.Fatalf("redeem after the template is fixed: %v", err)
			}
			if status, _ := g.grantState(t, gr.ID); status != mosaic.GrantActive {
				t.Errorf("grant %s after the retry, want active", status)
			}
		})
	}
}

// wantIssuedSerial checks that serial (hex, from the audit trail) is the
// serial of a certificate step-ca logged as signed.
func wantIssuedSerial(t *testing.T, s *stepCA, serial string) {
	t.Helper()
	n, ok := new(big.Int).SetString(serial, 16)
	if serial == "" || !ok {
		t.Fatalf("audited serial %q is not hex", serial)
	}
	if !strings.Contains(s.log.String(), `"serial":"`+n.String()+`"`) {
		t.Errorf("audited serial %s is not one step-ca signed", serial)
	}
}

// newCSRPEM returns a PEM CSR for a new P-256 key.
func newCSRPEM(t *testing.T) string {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, "gateway-a")
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// TestStepCAUnavailable stops step-ca in the middle of the test: the
// enrollment fails with 503, nothing is activated, the attempt is audited,
// and the same token enrolls once step-ca is back. A step-ca that accepts
// connections but never answers fails the same way after the timeout.
func TestStepCAUnavailable(t *testing.T) {
	s := startStepCA(t)
	ca := s.client(t)
	g := newGateway(t, ca)
	gr, token := g.pendingGrant(t)
	csr := newCSRPEM(t)

	s.stop(t)
	_, err := g.redeem(token, csr)
	wantKind(t, err, mosaic.KindUnavailable, "ca_unavailable")
	if st := federation.StatusOf(err); st != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", st)
	}
	if status, peer := g.grantState(t, gr.ID); status != mosaic.GrantPending ||
		peer != mosaic.PeerPending {
		t.Errorf("grant %s, peer %s; want both pending", status, peer)
	}
	evs := g.audit(t, gr.ID)
	if len(evs) != 1 || evs[0].Outcome != mosaic.OutcomeDenied ||
		evs[0].Status != http.StatusServiceUnavailable || evs[0].Reason != "ca_unavailable" {
		t.Fatalf("audit = %+v, want one denied 503 ca_unavailable", evs)
	}

	s.start(t)
	out, err := g.redeem(token, csr)
	if err != nil {
		t.Fatalf("redeem after step-ca restarted: %v", err)
	}
	checkPeerCert(t, mustParseOne(t, out.CertPEM), gr)
	if status, peer := g.grantState(t, gr.ID); status != mosaic.GrantActive ||
		peer != mosaic.PeerActive {
		t.Errorf("grant %s, peer %s after the retry; want both active", status, peer)
	}

	// A step-ca that never answers.
	cfg := s.config(t)
	cfg.URL = "https://" + silentListener(t)
	cfg.Timeout = time.Second
	silent, err := stepca.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g2 := newGateway(t, silent)
	gr2, token2 := g2.pendingGrant(t)
	start := time.Now()
	_, err = g2.redeem(token2, newCSRPEM(t))
	wantKind(t, err, mosaic.KindUnavailable, "ca_unavailable")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("redeem took %s with a 1s timeout", d)
	}
	if status, _ := g2.grantState(t, gr2.ID); status != mosaic.GrantPending {
		t.Errorf("grant %s, want pending", status)
	}
	if evs := g2.audit(t, gr2.ID); len(evs) != 1 || evs[0].Status != http.StatusServiceUnavailable {
		t.Errorf("audit = %+v, want one denied 503", evs)
	}
}

// TestStepCADoctor runs the doctor's checks against a real step-ca: both
// pass with the right root, and fail on TLS with another CA's root.
func TestStepCADoctor(t *testing.T) {
	s := startStepCA(t)
	ctx := context.Background()
	ca := s.client(t)
	if err := ca.Health(ctx); err != nil {
		t.Errorf("Health: %v", err)
	}
	if err := ca.CheckRoot(ctx); err != nil {
		t.Errorf("CheckRoot: %v", err)
	}

	cfg := s.config(t)
	other := initStepCA(t)
	root, err := os.ReadFile(other.env[stepca.EnvRootCertPath])
	if err != nil {
		t.Fatal(err)
	}
	cfg.RootPEM = root
	wrong, err := stepca.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, check := range map[string]func(context.Context) error{
		"Health": wrong.Health, "CheckRoot": wrong.CheckRoot,
	} {
		err := check(ctx)
		wantKind(t, err, mosaic.KindUpstream, "ca_failed")
		if !strings.Contains(mosaic.ErrorMessage(err), "does not verify against the configured root") {
			t.Errorf("%s with another root: %v", name, err)
		}
	}
}

// TestStepCAConcurrentSign signs in parallel through one CA: every call
// gets its own token and certificate.
func TestStepCAConcurrentSign(t *testing.T) {
	s := startStepCA(t)
	ca := s.client(t)
	const n = 8
	serials := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		id := mosaic.Identity{GrantID: mosaic.NewID(), SubjectUserID: mosaic.NewID()}
		csr := newCSR(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}})
		go func() {
			ic, err := ca.Sign(context.Background(), mosaic.SignRequest{
				CSR: csr, CommonName: "peer-parallel", Identity: id,
			})
			if err == nil {
				err = pki.VerifyIssued(ic, csr, id, time.Now())
			}
			if err != nil {
				errs <- err
				return
			}
			serials <- pki.SerialHex(ic.Cert)
		}()
	}
	seen := map[string]bool{}
	for range n {
		select {
		case err := <-errs:
			t.Errorf("Sign: %v", err)
		case serial := <-serials:
			if seen[serial] {
				t.Errorf("serial %s issued twice", serial)
			}
			seen[serial] = true
		}
	}
}
