package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// verifyFixture is a CA, a peer key with its CSR, and helpers to issue
// variations of a correct peer certificate.
type verifyFixture struct {
	ca    *testCA
	other *testCA
	key   any
	csr   *x509.CertificateRequest
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	t.Helper()
	key := mustKey(t)
	return &verifyFixture{ca: newTestCA(t), other: newTestCA(t), key: &key.PublicKey,
		csr: csrFor(t, key)}
}

// leaf issues a peer certificate after change edits the template.
func (f *verifyFixture) leaf(t *testing.T, change func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	tmpl := leafTemplate(t)
	if change != nil {
		change(tmpl)
	}
	return f.ca.issue(t, tmpl, f.csr.PublicKey)
}

func TestVerifyIssued(t *testing.T) {
	f := newVerifyFixture(t)
	good := f.leaf(t, nil)
	issued := func(c *x509.Certificate) *mosaic.IssuedCert {
		return &mosaic.IssuedCert{Cert: c, Intermediates: []*x509.Certificate{f.ca.inter},
			Roots: []*x509.Certificate{f.ca.root}}
	}
	otherKey := mustKey(t)
	identity := func(id mosaic.Identity) func(*x509.Certificate) {
		return func(c *x509.Certificate) {
			exts, err := IdentityExtensions(id)
			if err != nil {
				t.Fatal(err)
			}
			c.ExtraExtensions = exts
		}
	}
	tests := []struct {
		name string
		ic   *mosaic.IssuedCert
		csr  *x509.CertificateRequest
		msg  string // empty: valid
	}{
		{"valid", issued(good), f.csr, ""},
		{"valid, roots include others", &mosaic.IssuedCert{Cert: good,
			Intermediates: []*x509.Certificate{f.ca.inter},
			Roots:         []*x509.Certificate{f.other.root, f.ca.root}}, f.csr, ""},
		{"nil", nil, f.csr, "no certificate"},
		{"no certificate", &mosaic.IssuedCert{Roots: []*x509.Certificate{f.ca.root}}, f.csr,
			"no certificate"},
		{"no CSR", issued(good), nil, "no CSR"},
		{"identity missing", issued(f.leaf(t, func(c *x509.Certificate) { c.ExtraExtensions = nil })),
			f.csr, "identity extensions"},
		{"other grant", issued(f.leaf(t, identity(mosaic.Identity{GrantID: "other",
			SubjectUserID: testID.SubjectUserID}))), f.csr, "do not name"},
		{"other user", issued(f.leaf(t, identity(mosaic.Identity{GrantID: testID.GrantID,
			SubjectUserID: "other"}))), f.csr, "do not name"},
		{"grant and user swapped", issued(f.leaf(t, identity(mosaic.Identity{
			GrantID: testID.SubjectUserID, SubjectUserID: testID.GrantID}))), f.csr, "do not name"},
		{"other key", issued(f.ca.issue(t, leafTemplate(t), &otherKey.PublicKey)), f.csr,
			"public key"},
		{"server auth only", issued(f.leaf(t, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		})), f.csr, "extended key usage"},
		{"client and server auth", issued(f.leaf(t, func(c *x509.Certificate) {
			c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		})), f.csr, "extended key usage"},
		{"any usage", issued(f.leaf(t, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
		})), f.csr, "extended key usage"},
		{"no extended key usage", issued(f.leaf(t, func(c *x509.Certificate) {
			c.ExtKeyUsage = nil
		})), f.csr, "extended key usage"},
		{"unknown usage added", issued(f.leaf(t, func(c *x509.Certificate) {
			c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{1, 2, 3, 4}}
		})), f.csr, "extended key usage"},
		{"CA", issued(f.leaf(t, func(c *x509.Certificate) { c.IsCA = true })), f.csr, "is a CA"},
		{"certificate signing usage", issued(f.leaf(t, func(c *x509.Certificate) {
			c.KeyUsage |= x509.KeyUsageCertSign
		})), f.csr, "is a CA"},
		{"expired", issued(f.leaf(t, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = testNow.Add(-48*time.Hour), testNow.Add(-time.Second)
		})), f.csr, "expired"},
		{"not yet valid", issued(f.leaf(t, func(c *x509.Certificate) {
			c.NotBefore = testNow.Add(time.Hour)
		})), f.csr, "chain does not verify"},
		{"identity extensions critical", issued(f.leaf(t, func(c *x509.Certificate) {
			for i := range c.ExtraExtensions {
				c.ExtraExtensions[i].Critical = true
			}
		})), f.csr, "chain does not verify"},
		{"no roots", &mosaic.IssuedCert{Cert: good, Intermediates: []*x509.Certificate{f.ca.inter}},
			f.csr, "no roots"},
		{"other CA's root", &mosaic.IssuedCert{Cert: good,
			Intermediates: []*x509.Certificate{f.ca.inter},
			Roots:         []*x509.Certificate{f.other.root}}, f.csr, "chain does not verify"},
		{"intermediate missing", &mosaic.IssuedCert{Cert: good,
			Roots: []*x509.Certificate{f.ca.root}}, f.csr, "chain does not verify"},
		{"signed by another intermediate", &mosaic.IssuedCert{
			Cert:          f.other.issue(t, leafTemplate(t), f.csr.PublicKey),
			Intermediates: []*x509.Certificate{f.ca.inter, f.other.inter},
			Roots:         []*x509.Certificate{f.ca.root}}, f.csr, "chain does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyIssued(tt.ic, tt.csr, testID, testNow)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("VerifyIssued: %v", err)
				}
				return
			}
			wantError(t, err, mosaic.KindUpstream, "issued_cert_invalid")
			if !strings.Contains(mosaic.ErrorMessage(err), tt.msg) {
				t.Errorf("message %q does not say %q", mosaic.ErrorMessage(err), tt.msg)
			}
		})
	}
}

func TestVerifyIssuedAfterExpiry(t *testing.T) {
	f := newVerifyFixture(t)
	ic := &mosaic.IssuedCert{Cert: f.leaf(t, nil), Intermediates: []*x509.Certificate{f.ca.inter},
		Roots: []*x509.Certificate{f.ca.root}}
	if err := VerifyIssued(ic, f.csr, testID, testNow.Add(23*time.Hour)); err != nil {
		t.Fatalf("VerifyIssued within the lifetime: %v", err)
	}
	err := VerifyIssued(ic, f.csr, testID, testNow.Add(25*time.Hour))
	wantError(t, err, mosaic.KindUpstream, "issued_cert_invalid")
}

func TestVerifyPeerCert(t *testing.T) {
	f := newVerifyFixture(t)
	good := f.leaf(t, nil)
	rootPin, interPin := Pin(f.ca.root), Pin(f.ca.inter)
	chain := []*x509.Certificate{f.ca.inter, f.ca.root}
	otherKey := mustKey(t)
	tests := []struct {
		name  string
		leaf  *x509.Certificate
		chain []*x509.Certificate
		pin   string
		key   any
		code  string // empty: valid
		msg   string
	}{
		{"valid", good, chain, rootPin, f.key, "", ""},
		{"valid, root first", good, []*x509.Certificate{f.ca.root, f.ca.inter}, rootPin, f.key, "", ""},
		{"valid, upper-case pin", good, chain, "sha256:" + strings.ToUpper(rootPin[7:]), f.key, "", ""},
		{"valid, intermediate pinned", good, []*x509.Certificate{f.ca.inter}, interPin, f.key, "", ""},
		{"valid, extra unrelated certificate", good,
			[]*x509.Certificate{f.other.root, f.ca.inter, f.ca.root}, rootPin, f.key, "", ""},
		{"nil leaf", nil, chain, rootPin, f.key, "peer_cert_invalid", "no certificate"},
		{"malformed pin", good, chain, "sha256:zz", f.key, "invalid_pin", "CA pin"},
		{"pin of another CA", good, chain, Pin(f.other.root), f.key, "peer_cert_invalid",
			"matches the CA pin"},
		{"pinned root not sent", good, []*x509.Certificate{f.ca.inter}, rootPin, f.key,
			"peer_cert_invalid", "matches the CA pin"},
		{"intermediate missing", good, []*x509.Certificate{f.ca.root}, rootPin, f.key,
			"peer_cert_invalid", "chain does not verify"},
		{"leaf from another CA", f.other.issue(t, leafTemplate(t), f.csr.PublicKey),
			[]*x509.Certificate{f.other.inter, f.ca.root}, rootPin, f.key,
			"peer_cert_invalid", "chain does not verify"},
		{"not our key", good, chain, rootPin, &otherKey.PublicKey, "peer_cert_invalid",
			"not for our key"},
		{"no key", good, chain, rootPin, nil, "peer_cert_invalid", "not for our key"},
		{"identity missing", f.leaf(t, func(c *x509.Certificate) { c.ExtraExtensions = nil }),
			chain, rootPin, f.key, "peer_cert_invalid", "identity extensions"},
		{"server certificate", f.leaf(t, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}), chain, rootPin, f.key, "peer_cert_invalid", "extended key usage"},
		{"expired", f.leaf(t, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = testNow.Add(-48*time.Hour), testNow.Add(-time.Hour)
		}), chain, rootPin, f.key, "peer_cert_invalid", "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := VerifyPeerCert(tt.leaf, tt.chain, tt.pin, tt.key, testNow)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("VerifyPeerCert: %v", err)
				}
				if id != testID {
					t.Errorf("identity = %+v, want %+v", id, testID)
				}
				return
			}
			wantError(t, err, mosaic.KindInvalid, tt.code)
			if !strings.Contains(mosaic.ErrorMessage(err), tt.msg) {
				t.Errorf("message %q does not say %q", mosaic.ErrorMessage(err), tt.msg)
			}
		})
	}
}

func TestNewPool(t *testing.T) {
	ca := newTestCA(t)
	pool := NewPool(ca.root)
	if _, err := ca.inter.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: testNow}); err != nil {
		t.Fatalf("intermediate does not verify against a pool of its root: %v", err)
	}
	other := newTestCA(t)
	_, err := other.inter.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: testNow})
	if err == nil {
		t.Fatalf("another CA's intermediate verified against the pool")
	}
}

// TestVerifyPeerCertRootInChain covers a grantor whose client certificates
// come from another CA than the pinned one (step-ca): the leaf may chain to
// a root CA sent in the chain, as long as the pinned CA came along too.
func TestVerifyPeerCertRootInChain(t *testing.T) {
	key := mustKey(t)
	pinnedCA, issuing := newTestCA(t), newTestCA(t)
	pin := Pin(pinnedCA.root)
	leaf := issuing.issue(t, leafTemplate(t), &key.PublicKey)

	// A self-signed client certificate, and a "root" that names itself but
	// was signed by another key, with a leaf under it.
	selfSigned := mustCreate(t, leafTemplate(t), nil, &key.PublicKey, key)
	forgerKey, otherKey := mustKey(t), mustKey(t)
	forged := mustCreate(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "forged root"},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, &forgerKey.PublicKey, otherKey)
	underForged := mustCreate(t, leafTemplate(t), forged, &key.PublicKey, forgerKey)

	tests := []struct {
		name  string
		leaf  *x509.Certificate
		chain []*x509.Certificate
		msg   string // empty: valid
	}{
		{"leaf of the pinned CA", pinnedCA.issue(t, leafTemplate(t), &key.PublicKey),
			[]*x509.Certificate{pinnedCA.inter, pinnedCA.root}, ""},
		{"leaf of a root in the chain", leaf,
			[]*x509.Certificate{issuing.inter, issuing.root, pinnedCA.root}, ""},
		{"leaf of a root in the chain, pinned CA first", leaf,
			[]*x509.Certificate{pinnedCA.root, issuing.root, issuing.inter}, ""},
		{"root in the chain but pinned CA missing", leaf,
			[]*x509.Certificate{issuing.inter, issuing.root}, "matches the CA pin"},
		{"issuing root missing", leaf,
			[]*x509.Certificate{issuing.inter, pinnedCA.root}, "chain does not verify"},
		{"intermediate missing", leaf,
			[]*x509.Certificate{issuing.root, pinnedCA.root}, "chain does not verify"},
		{"self-signed leaf sent in the chain", selfSigned,
			[]*x509.Certificate{selfSigned, pinnedCA.root}, "chain does not verify"},
		{"root that did not sign itself", underForged,
			[]*x509.Certificate{forged, pinnedCA.root}, "chain does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := VerifyPeerCert(tt.leaf, tt.chain, pin, &key.PublicKey, testNow)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("VerifyPeerCert: %v", err)
				}
				if id != testID {
					t.Errorf("identity = %+v, want %+v", id, testID)
				}
				return
			}
			wantError(t, err, mosaic.KindInvalid, "peer_cert_invalid")
			if !strings.Contains(mosaic.ErrorMessage(err), tt.msg) {
				t.Errorf("message %q does not say %q", mosaic.ErrorMessage(err), tt.msg)
			}
		})
	}
}
