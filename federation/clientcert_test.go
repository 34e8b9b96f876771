package federation_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
)

// certCase is a set of presented certificates and how it must be refused.
type certCase struct {
	name   string
	certs  []*x509.Certificate
	status int
	code   string
	reason string // in the message of a certificate_invalid
}

// certCases returns client certificates that must not authenticate, each
// made for e's grant of Ada's tasks so that only the certificate is wrong.
func certCases(t *testing.T, e *readEnv) []certCase {
	t.Helper()
	g, inter := e.g, e.g.CA.Intermediate()
	id := mosaic.Identity{GrantID: e.enrolled.Grant.ID, SubjectUserID: e.ada.ID}
	forge := func(edit func(*x509.Certificate)) []*x509.Certificate {
		tmpl := fedtest.ClientTemplate(t, id)
		edit(tmpl)
		return g.Forge(t, tmpl).Chain(inter)
	}
	other := fedtest.New(t, fedtest.Options{})
	foreign := other.Enroll(t, other.User(t, "Eve").ID, fedtest.Scope(3, "tasks"))

	// A CA below our intermediate, which may not have one, and its client.
	sub := fedtest.ClientTemplate(t, mosaic.Identity{})
	sub.IsCA, sub.KeyUsage, sub.ExtKeyUsage = true, x509.KeyUsageCertSign, nil
	subCA := g.Forge(t, sub)
	subLeaf := fedtest.SignWith(t, fedtest.ClientTemplate(t, id), subCA.Cert, subCA.Key)

	return []certCase{
		{"no certificate", nil, 401, "client_certificate_required", ""},
		{"empty chain", []*x509.Certificate{}, 401, "client_certificate_required", ""},
		{"another CA", foreign.Chain(t), 403, "certificate_invalid", "untrusted issuer"},
		{"another CA's leaf with our intermediate", []*x509.Certificate{foreign.Leaf, inter},
			403, "certificate_invalid", "untrusted issuer"},
		{"leaf without its intermediate", e.enrolled.Chain(t)[:1], 403, "certificate_invalid",
			"untrusted issuer"},
		{"expired", forge(func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
		}), 403, "certificate_invalid", "expired"},
		{"not yet valid", forge(func(c *x509.Certificate) {
			c.NotBefore = time.Now().Add(time.Hour)
		}), 403, "certificate_invalid", "not yet valid"},
		{"server authentication only", forge(func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}), 403, "certificate_invalid", "wrong usage"},
		{"client and server authentication", forge(func(c *x509.Certificate) {
			c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		}), 403, "certificate_invalid", "wrong usage"},
		{"no extended key usage", forge(func(c *x509.Certificate) {
			c.ExtKeyUsage = nil
		}), 403, "certificate_invalid", "wrong usage"},
		{"CA certificate", forge(func(c *x509.Certificate) {
			c.IsCA, c.KeyUsage = true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
		}), 403, "certificate_invalid", "CA certificate"},
		{"our intermediate as the leaf", []*x509.Certificate{inter}, 403, "certificate_invalid",
			"CA certificate"},
		{"issued by a CA below our intermediate", subLeaf.Chain(subCA.Cert, inter), 403,
			"certificate_invalid", "untrusted issuer"},
	}
}

func TestReadFederatedClientCertificate(t *testing.T) {
	e := newReadEnv(t)
	for _, tc := range certCases(t, e) {
		t.Run(tc.name, func(t *testing.T) {
			page, err := e.read(tc.certs, "tasks", "", "", "")
			if page != nil {
				t.Fatalf("refused certificate read %d rows", len(page.Items))
			}
			wantCode(t, err, tc.status, tc.code)
			if msg := mosaic.ErrorMessage(err); !strings.Contains(msg, tc.reason) {
				t.Errorf("message %q does not say %q", msg, tc.reason)
			}

			// One denied event, naming no grant: the certificate's claims
			// are not believed.
			ev := lastEvent(t, e.g)
			if ev.Verb != mosaic.VerbRead || ev.Outcome != mosaic.OutcomeDenied ||
				ev.Reason != tc.code || ev.Status != tc.status || ev.SourceAddr != source ||
				ev.GrantID != "" || ev.PeerID != "" || ev.SubjectUserID != "" || ev.Rows != 0 {
				t.Errorf("audit event = %+v", ev)
			}
			if len(tc.certs) > 0 && ev.CertSerial != pki.SerialHex(tc.certs[0]) {
				t.Errorf("audit serial %q, want the presented %q", ev.CertSerial,
					pki.SerialHex(tc.certs[0]))
			}
		})
	}

	// The real certificate still reads.
	if _, err := e.read(e.enrolled.Chain(t), "tasks", "", "", ""); err != nil {
		t.Fatalf("the enrolled certificate was refused: %v", err)
	}
}

func TestClientRootsCached(t *testing.T) {
	e := newReadEnv(t)
	chain := e.enrolled.Chain(t)
	for range 5 {
		if _, err := e.read(chain, "tasks", "", "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.g.FaultCA.RootsCalls(); n != 1 {
		t.Fatalf("ClientRoots called %d times for 5 reads, want 1", n)
	}

	// Past the refresh interval the roots are asked for again; if the CA
	// fails then, the roots fetched before still serve.
	e.g.FaultCA.FailRoots(errors.New("CA down"))
	e.clock.advance(6 * time.Minute)
	if _, err := e.read(chain, "tasks", "", "", ""); err != nil {
		t.Fatalf("read with the CA down after a first fetch: %v", err)
	}
	if _, err := e.read(chain, "tasks", "", "", ""); err != nil {
		t.Fatal(err)
	}
	if n := e.g.FaultCA.RootsCalls(); n != 2 {
		t.Fatalf("ClientRoots called %d times, want 2: once more, not once a request", n)
	}
	if !strings.Contains(e.g.Logs.String(), "client roots refresh failed") {
		t.Error("the failed refresh was not logged")
	}
}

func TestClientRootsUnavailable(t *testing.T) {
	e := newReadEnv(t)
	e.g.FaultCA.FailRoots(errors.New("CA down"))
	_, err := e.read(e.enrolled.Chain(t), "tasks", "", "", "")
	wantCode(t, err, 503, "ca_unavailable")
	if ev := lastEvent(t, e.g); ev.Outcome != mosaic.OutcomeDenied || ev.Status != 503 {
		t.Errorf("audit event = %+v", ev)
	}

	e.g.FaultCA.FailRoots(nil)
	if _, err := e.read(e.enrolled.Chain(t), "tasks", "", "", ""); err != nil {
		t.Fatalf("read once the CA is back: %v", err)
	}
}
