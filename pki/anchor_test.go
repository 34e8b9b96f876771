package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"
)

// resetAnchors forgets every remembered anchor and returns a function that
// reports the verifications through an anchor since.
func resetAnchors(t *testing.T) func() int64 {
	t.Helper()
	issuerAnchors = anchorCache{}
	start := anchorHits.Load()
	return func() int64 { return anchorHits.Load() - start }
}

// verifyWith runs verifyChainAnchored on cert with ca's chain at at.
func verifyWith(cert *x509.Certificate, ca *testCA, at time.Time) error {
	return verifyChainAnchored(cert, []*x509.Certificate{ca.inter},
		[]*x509.Certificate{ca.root}, at)
}

func TestAnchorServesLaterCertificates(t *testing.T) {
	hits := resetAnchors(t)
	ca := newTestCA(t)
	key := mustKey(t)
	for i := range 3 {
		if err := verifyWith(ca.issue(t, leafTemplate(t), &key.PublicKey), ca, testNow); err != nil {
			t.Fatalf("certificate %d: %v", i, err)
		}
	}
	if got := hits(); got != 2 {
		t.Fatalf("%d verifications through the anchor, want 2 (all but the first)", got)
	}
}

func TestAnchorRefuses(t *testing.T) {
	key := mustKey(t)
	tests := []struct {
		name string
		// make returns the certificate to verify once the anchor of ca
		// is remembered, and the time to verify it at.
		make func(t *testing.T, ca *testCA) (*x509.Certificate, time.Time)
	}{
		{"signed by another key under the same issuer name",
			func(t *testing.T, ca *testCA) (*x509.Certificate, time.Time) {
				impostor := newTestCA(t) // same names, other keys
				return impostor.issue(t, leafTemplate(t), &key.PublicKey), testNow
			}},
		{"after the intermediate expired",
			func(t *testing.T, ca *testCA) (*x509.Certificate, time.Time) {
				tmpl := leafTemplate(t)
				tmpl.NotAfter = ca.inter.NotAfter.Add(48 * time.Hour)
				return ca.issue(t, tmpl, &key.PublicKey), ca.inter.NotAfter.Add(time.Hour)
			}},
		{"before the root is valid",
			func(t *testing.T, ca *testCA) (*x509.Certificate, time.Time) {
				tmpl := leafTemplate(t)
				tmpl.NotBefore = ca.root.NotBefore.Add(-48 * time.Hour)
				return ca.issue(t, tmpl, &key.PublicKey), ca.root.NotBefore.Add(-time.Minute)
			}},
		{"server authentication only",
			func(t *testing.T, ca *testCA) (*x509.Certificate, time.Time) {
				tmpl := leafTemplate(t)
				tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
				return ca.issue(t, tmpl, &key.PublicKey), testNow
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resetAnchors(t)
			ca := newTestCA(t)
			if err := verifyWith(ca.issue(t, leafTemplate(t), &key.PublicKey), ca,
				testNow); err != nil {
				t.Fatal(err)
			}
			cert, at := tt.make(t, ca)
			if err := verifyWith(cert, ca, at); err == nil {
				t.Fatal("verified")
			}
		})
	}
}

// TestAnchorAfterRotation gives the chain of both intermediates of a
// rotation, which have the same name: a certificate of either verifies.
func TestAnchorAfterRotation(t *testing.T) {
	resetAnchors(t)
	ca := newTestCA(t)
	newKey := mustKey(t)
	next := mustCreate(t, &x509.Certificate{
		Subject: ca.inter.Subject, NotBefore: ca.inter.NotBefore, NotAfter: ca.inter.NotAfter,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		MaxPathLenZero: true,
	}, ca.root, &newKey.PublicKey, ca.rootKey)
	chain := []*x509.Certificate{ca.inter, next}
	key := mustKey(t)
	oldLeaf := ca.issue(t, leafTemplate(t), &key.PublicKey)
	newLeaf := mustCreate(t, leafTemplate(t), next, &key.PublicKey, newKey)
	for i, leaf := range []*x509.Certificate{oldLeaf, newLeaf, oldLeaf, newLeaf} {
		err := verifyChainAnchored(leaf, chain, []*x509.Certificate{ca.root}, testNow)
		if err != nil {
			t.Fatalf("verification %d: %v", i, err)
		}
	}
}

// TestNoAnchorUnderConstraints checks that a chain whose root constrains
// names or policies is verified in full every time.
func TestNoAnchorUnderConstraints(t *testing.T) {
	key := mustKey(t)
	tests := []struct {
		name   string
		change func(root *x509.Certificate)
	}{
		{"name constraints", func(r *x509.Certificate) {
			r.PermittedDNSDomains = []string{"example.test"}
		}},
		{"policy constraints", func(r *x509.Certificate) {
			// policyConstraints { inhibitPolicyMapping [1] 1 }
			r.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 36},
				Critical: true, Value: []byte{0x30, 0x03, 0x81, 0x01, 0x01}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := resetAnchors(t)
			rootKey, interKey := mustKey(t), mustKey(t)
			tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "constrained root"},
				NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour * 24 * 30),
				KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
			tt.change(tmpl)
			root := mustCreate(t, tmpl, nil, &rootKey.PublicKey, rootKey)
			inter := mustCreate(t, &x509.Certificate{Subject: pkix.Name{CommonName: "inter"},
				NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour * 24 * 30),
				KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
			}, root, &interKey.PublicKey, rootKey)
			ca := &testCA{root: root, inter: inter, rootKey: rootKey, interKey: interKey}
			for range 2 {
				_ = verifyWith(ca.issue(t, leafTemplate(t), &key.PublicKey), ca, testNow)
			}
			if got := hits(); got != 0 {
				t.Fatalf("%d verifications through an anchor of a constrained chain", got)
			}
		})
	}
}
