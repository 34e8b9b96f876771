package embedded

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

func TestSign(t *testing.T) {
	ca, _, _ := newCA(t)
	tests := []struct {
		name         string
		opts         Options
		lifetime     time.Duration
		wantLifetime time.Duration
	}{
		{"default lifetime", fixedOptions(), 0, 24 * time.Hour},
		{"requested lifetime", fixedOptions(), time.Hour, time.Hour},
		{"configured default", Options{Now: fixedOptions().Now, DefaultLifetime: 6 * time.Hour},
			0, 6 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signer := &CA{opts: tt.opts.withDefaults(), root: ca.root}
			signer.cur.Store(ca.cur.Load())
			csr := peerCSR(t)
			ic, err := signer.Sign(context.Background(), mosaic.SignRequest{
				CSR: csr, CommonName: "gateway-a", Identity: testID, Lifetime: tt.lifetime})
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := pki.VerifyIssued(ic, csr, testID, testNow); err != nil {
				t.Fatalf("VerifyIssued: %v", err)
			}
			checkPeerCert(t, ic.Cert, testNow.Add(tt.wantLifetime))
			if len(ic.Intermediates) != 1 || !ic.Intermediates[0].Equal(ca.Intermediate()) ||
				len(ic.Roots) != 1 || !ic.Roots[0].Equal(ca.root) {
				t.Errorf("issued chain is not intermediate then root")
			}
		})
	}
}

// checkPeerCert checks what Sign puts into every peer certificate.
func checkPeerCert(t *testing.T, c *x509.Certificate, notAfter time.Time) {
	t.Helper()
	want := pkix.Name{CommonName: "gateway-a"}
	if c.Subject.String() != want.String() {
		t.Errorf("subject = %q, want only the chosen common name", c.Subject)
	}
	if len(c.DNSNames)+len(c.EmailAddresses)+len(c.IPAddresses)+len(c.URIs) != 0 {
		t.Errorf("certificate carries names from the CSR")
	}
	if !c.NotBefore.Equal(testNow.Add(-ClockSkew)) {
		t.Errorf("notBefore = %s, want %s", c.NotBefore, testNow.Add(-ClockSkew))
	}
	if !c.NotAfter.Equal(notAfter) {
		t.Errorf("notAfter = %s, want %s", c.NotAfter, notAfter)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage = %b, want digital signature only", c.KeyUsage)
	}
	if !c.BasicConstraintsValid || c.IsCA {
		t.Errorf("certificate does not say it is not a CA")
	}
	if c.SerialNumber.BitLen() < 128 {
		t.Errorf("serial has %d bits, want at least 128", c.SerialNumber.BitLen())
	}
	id, err := pki.ParseIdentity(c)
	if err != nil || id != testID {
		t.Errorf("identity = %+v, %v; want %+v", id, err, testID)
	}
}

func TestSignClampsToIntermediate(t *testing.T) {
	ca, _, _ := newCA(t)
	interEnd := ca.Intermediate().NotAfter
	tests := []struct {
		name     string
		now      time.Time
		lifetime time.Duration
	}{
		{"lifetime beyond the intermediate", testNow, 100 * 365 * 24 * time.Hour},
		{"one hour before the intermediate ends", interEnd.Add(-time.Hour), 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca.opts.Now = func() time.Time { return tt.now }
			csr := peerCSR(t)
			ic, err := ca.Sign(context.Background(), mosaic.SignRequest{
				CSR: csr, CommonName: "gateway-a", Identity: testID, Lifetime: tt.lifetime})
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ic.Cert.NotAfter.Equal(interEnd) {
				t.Fatalf("notAfter = %s, want the intermediate's %s", ic.Cert.NotAfter, interEnd)
			}
			if err := pki.VerifyIssued(ic, csr, testID, tt.now); err != nil {
				t.Fatalf("VerifyIssued: %v", err)
			}
		})
	}
}

func TestSignSerialsAreUnique(t *testing.T) {
	ca, _, _ := newCA(t)
	csr := peerCSR(t)
	seen := map[string]bool{}
	for range 200 {
		ic, err := ca.Sign(context.Background(), mosaic.SignRequest{
			CSR: csr, CommonName: "gateway-a", Identity: testID})
		if err != nil {
			t.Fatal(err)
		}
		serial := pki.SerialHex(ic.Cert)
		if seen[serial] {
			t.Fatalf("serial %s issued twice", serial)
		}
		if ic.Cert.SerialNumber.BitLen() < 128 {
			t.Fatalf("serial %s has %d bits", serial, ic.Cert.SerialNumber.BitLen())
		}
		seen[serial] = true
	}
}

func TestSignRejects(t *testing.T) {
	ca, _, _ := newCA(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384CSR := &x509.CertificateRequest{PublicKey: &p384.PublicKey,
		PublicKeyAlgorithm: x509.ECDSA}
	good := mosaic.SignRequest{CSR: peerCSR(t), CommonName: "gateway-a", Identity: testID}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		change func(*mosaic.SignRequest)
		now    time.Time
		kind   mosaic.Kind
		code   string
	}{
		{"empty common name", nil, func(r *mosaic.SignRequest) { r.CommonName = "" }, testNow,
			mosaic.KindInvalid, "invalid_common_name"},
		{"no CSR", nil, func(r *mosaic.SignRequest) { r.CSR = nil }, testNow,
			mosaic.KindInvalid, "invalid_csr"},
		{"P-384 key", nil, func(r *mosaic.SignRequest) { r.CSR = p384CSR }, testNow,
			mosaic.KindInvalid, "csr_key_unsupported"},
		{"no grant id", nil, func(r *mosaic.SignRequest) { r.Identity.GrantID = "" }, testNow,
			mosaic.KindInvalid, "invalid_identity"},
		{"negative lifetime", nil, func(r *mosaic.SignRequest) { r.Lifetime = -time.Hour }, testNow,
			mosaic.KindInvalid, "invalid_lifetime"},
		{"cancelled", cancelled, nil, testNow, mosaic.KindUnavailable, "ca_unavailable"},
		{"intermediate expired", nil, nil, ca.Intermediate().NotAfter.Add(time.Second),
			mosaic.KindUnavailable, "ca_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			if tt.change != nil {
				tt.change(&req)
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			ca.opts.Now = func() time.Time { return tt.now }
			ic, err := ca.Sign(ctx, req)
			if err == nil || ic != nil {
				t.Fatalf("Sign succeeded, want %s", tt.code)
			}
			if mosaic.ErrorKind(err) != tt.kind || mosaic.ErrorCode(err) != tt.code {
				t.Fatalf("error = %v, want kind %d code %s", err, tt.kind, tt.code)
			}
		})
	}
}
