package pki

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

func TestEncodeAndParseCerts(t *testing.T) {
	ca := newTestCA(t)
	leaf := ca.issue(t, leafTemplate(t), &mustKey(t).PublicKey)
	tests := []struct {
		name  string
		certs []*x509.Certificate
	}{
		{"one", []*x509.Certificate{ca.root}},
		{"chain", []*x509.Certificate{leaf, ca.inter, ca.root}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := EncodeCerts(tt.certs...)
			if n := strings.Count(text, "-----BEGIN CERTIFICATE-----"); n != len(tt.certs) {
				t.Fatalf("EncodeCerts wrote %d blocks, want %d", n, len(tt.certs))
			}
			got, err := ParseCerts(text)
			if err != nil {
				t.Fatalf("ParseCerts: %v", err)
			}
			if len(got) != len(tt.certs) {
				t.Fatalf("ParseCerts returned %d certificates, want %d", len(got), len(tt.certs))
			}
			for i := range got {
				if !got[i].Equal(tt.certs[i]) {
					t.Errorf("certificate %d differs", i)
				}
			}
		})
	}
	if got := EncodeCerts(); got != "" {
		t.Errorf("EncodeCerts() = %q, want empty", got)
	}
}

func TestParseCertsRejects(t *testing.T) {
	ca := newTestCA(t)
	root := EncodeCerts(ca.root)
	withHeader := string(pem.EncodeToMemory(&pem.Block{
		Type:    pemCertificate,
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"},
		Bytes:   ca.root.Raw,
	}))
	tests := []struct {
		name string
		text string
		msg  string
	}{
		{"empty", "", "no PEM block"},
		{"junk before", "x" + root, "outside"},
		{"junk between", root + "x\n" + root, "outside"},
		{"junk after", root + "x", "outside"},
		{"CSR block", pemOf(pemCSR, csrFor(t, mustKey(t)).Raw), "not \"CERTIFICATE\""},
		{"private key block", root + pemOf("PRIVATE KEY", []byte{1, 2, 3}), "block 2"},
		{"headers", withHeader, "headers"},
		{"trailing DER bytes", pemOf(pemCertificate, append(bytes.Clone(ca.root.Raw), 0)),
			"does not parse"},
		{"truncated DER", pemOf(pemCertificate, ca.root.Raw[:100]), "does not parse"},
		{"too large", root + strings.Repeat("\n", MaxCertsPEM), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseCerts(tt.text)
			if certs != nil {
				t.Errorf("ParseCerts returned certificates with its error")
			}
			wantError(t, err, mosaic.KindInvalid, "invalid_certificate")
			if !strings.Contains(mosaic.ErrorMessage(err), tt.msg) {
				t.Errorf("message %q does not say %q", mosaic.ErrorMessage(err), tt.msg)
			}
		})
	}
}

func TestPrivateKeyRoundTrip(t *testing.T) {
	key := mustKey(t)
	der, err := EncodePrivateKey(key)
	if err != nil {
		t.Fatalf("EncodePrivateKey: %v", err)
	}
	got, err := ParsePrivateKey(der)
	if err != nil {
		t.Fatalf("ParsePrivateKey: %v", err)
	}
	if !got.Equal(key) {
		t.Fatalf("round trip changed the key")
	}
	if _, err := EncodePrivateKey(nil); err == nil {
		t.Errorf("EncodePrivateKey(nil) succeeded")
	}
}

func TestParsePrivateKeyRejects(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edDER, err := x509.MarshalPKCS8PrivateKey(ed)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := EncodePrivateKey(mustKey(t))
	sec1, _ := x509.MarshalECPrivateKey(mustKey(t))
	tests := []struct {
		name string
		der  []byte
	}{
		{"nil", nil},
		{"Ed25519", edDER},
		{"SEC 1 instead of PKCS#8", sec1},
		{"truncated", good[:len(good)-3]},
		{"trailing bytes", append(bytes.Clone(good), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := ParsePrivateKey(tt.der); err == nil || k != nil {
				t.Fatalf("ParsePrivateKey = %v, %v; want error", k != nil, err)
			}
		})
	}
}
