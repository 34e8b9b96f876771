package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mosaicgw/mosaic"
)

// The seed corpora of these targets are in testdata/fuzz/<FuzzName>/.
// scripts/fuzz.sh runs every target for a bounded time.

// FuzzParseCSR checks that ParseCSR never panics, refuses only with its
// documented codes, and accepts only a request that passes each check again
// when it is made another way: one PEM block by encoding/pem, a P-256 key, a
// signature that verifies, no identity extension, and no CA rights as the
// x509 certificate parser reads them.
func FuzzParseCSR(f *testing.F) {
	signer := fuzzKey(f)
	f.Fuzz(func(t *testing.T, pemText string) {
		csr, err := ParseCSR(pemText)
		if err != nil {
			if csr != nil {
				t.Fatalf("ParseCSR returned a CSR with its error %v", err)
			}
			switch code := mosaic.ErrorCode(err); code {
			case "invalid_csr", "csr_key_unsupported", "csr_signature_invalid",
				"csr_forbidden_extension":
			default:
				t.Fatalf("error code %q (%v) is not a documented one", code, err)
			}
			if mosaic.ErrorKind(err) != mosaic.KindInvalid {
				t.Fatalf("error kind %d, want KindInvalid: %v", mosaic.ErrorKind(err), err)
			}
			return
		}
		checkAcceptedCSRShape(t, pemText, csr)
		checkAcceptedCSRRights(t, csr, signer)
	})
}

// checkAcceptedCSRShape re-checks the PEM, key and signature of an accepted
// CSR with the standard library alone.
func checkAcceptedCSRShape(t *testing.T, pemText string, csr *x509.CertificateRequest) {
	t.Helper()
	if len(pemText) > MaxCSRPEM {
		t.Fatalf("accepted %d bytes, more than MaxCSRPEM", len(pemText))
	}
	// Whitespace may come before the block, even on its BEGIN line.
	trimmed := strings.TrimLeft(pemText, " \t\r\n")
	if !strings.HasPrefix(trimmed, pemBegin) {
		t.Fatalf("accepted text before the PEM block")
	}
	block, rest := pem.Decode([]byte(trimmed))
	switch {
	case block == nil:
		t.Fatalf("accepted text encoding/pem finds no block in")
	case block.Type != pemCSR || len(block.Headers) != 0:
		t.Fatalf("accepted block %q with %d headers", block.Type, len(block.Headers))
	case len(bytes.TrimSpace(rest)) != 0:
		t.Fatalf("accepted %d bytes after the block", len(bytes.TrimSpace(rest)))
	case !bytes.Equal(block.Bytes, csr.Raw):
		t.Fatalf("the parsed CSR is not the bytes of the PEM block")
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("accepted a %T key", csr.PublicKey)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("accepted a CSR whose signature does not verify: %v", err)
	}
}

// checkAcceptedCSRRights checks that an accepted CSR asks for no identity
// extension and that none of its basicConstraints or keyUsage extensions,
// carried alone into a certificate, makes the x509 parser see CA rights.
func checkAcceptedCSRRights(t *testing.T, csr *x509.CertificateRequest, signer *ecdsa.PrivateKey) {
	t.Helper()
	for _, ext := range csr.Extensions {
		switch {
		case ext.Id.Equal(mosaic.OIDGrantID), ext.Id.Equal(mosaic.OIDSubjectUserID):
			t.Fatalf("accepted a CSR asking for identity extension %s", ext.Id)
		case ext.Id.Equal(oidBasicConstraints), ext.Id.Equal(oidKeyUsage):
			cert, err := fuzzCertWith(signer, ext)
			if err != nil {
				t.Fatalf("accepted extension %s that x509 does not parse: %v", ext.Id, err)
			}
			if cert.IsCA || cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
				t.Fatalf("accepted extension %s that gives CA rights (%x)", ext.Id, ext.Value)
			}
		}
	}
}

// FuzzParseUTF8String checks ParseUTF8String against encoding/asn1: it
// accepts exactly the single DER UTF8Strings with valid UTF-8 content, and
// what it accepts re-marshals to the same bytes. From the other side, any
// valid UTF-8 text marshals as encoding/asn1 does and parses back.
func FuzzParseUTF8String(f *testing.F) {
	f.Fuzz(func(t *testing.T, der []byte) {
		s, err := ParseUTF8String(der)
		var raw asn1.RawValue
		rest, asnErr := asn1.Unmarshal(der, &raw)
		want := asnErr == nil && len(rest) == 0 && raw.Class == asn1.ClassUniversal &&
			raw.Tag == asn1.TagUTF8String && !raw.IsCompound && utf8.Valid(raw.Bytes)
		if (err == nil) != want {
			t.Fatalf("ParseUTF8String(%x) error %v, encoding/asn1 accepts: %v", der, err, want)
		}
		if err == nil {
			checkUTF8RoundTrip(t, der, s)
		}

		out, err := MarshalUTF8String(string(der))
		if !utf8.Valid(der) {
			if err == nil {
				t.Fatalf("MarshalUTF8String accepted invalid UTF-8 %x", der)
			}
			return
		}
		if err != nil {
			t.Fatalf("MarshalUTF8String(%q): %v", der, err)
		}
		if std, err := asn1.MarshalWithParams(string(der), "utf8"); err != nil ||
			!bytes.Equal(out, std) {
			t.Fatalf("MarshalUTF8String(%q) = %x, encoding/asn1 gives %x (%v)", der, out, std, err)
		}
		if back, err := ParseUTF8String(out); err != nil || back != string(der) {
			t.Fatalf("ParseUTF8String(MarshalUTF8String(%q)) = %q, %v", der, back, err)
		}
	})
}

// checkUTF8RoundTrip checks that s, parsed from der, is valid UTF-8 and
// marshals back to der.
func checkUTF8RoundTrip(t *testing.T, der []byte, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("ParseUTF8String(%x) returned invalid UTF-8", der)
	}
	again, err := MarshalUTF8String(s)
	if err != nil {
		t.Fatalf("MarshalUTF8String of parsed %q: %v", s, err)
	}
	if !bytes.Equal(again, der) {
		t.Fatalf("ParseUTF8String(%x) = %q, which marshals to %x", der, s, again)
	}
}

// Bits of the shape argument of FuzzParseIdentity.
const (
	shapeNoGrant     = 1 << iota // leave the grant id extension out
	shapeNoUser                  // leave the subject user id extension out
	shapeGrantTwice              // carry the grant id extension twice
	shapeUserTwice               // carry the subject user id extension twice
	shapeUserFirst               // put the subject user id extension first
	shapeGrantToUser             // give the user extension the grant bytes too
)

// FuzzParseIdentity builds and signs a certificate whose identity
// extensions hold the fuzzed bytes, in the layout shape selects, and checks
// ParseIdentity against what ParseUTF8String says of each value: it accepts
// exactly one non-empty, valid DER UTF8String of each, returns their text,
// and that text re-marshals to the extension bytes.
func FuzzParseIdentity(f *testing.F) {
	signer := fuzzKey(f)
	f.Fuzz(func(t *testing.T, grant, user []byte, shape uint8) {
		if shape&shapeGrantToUser != 0 {
			user = grant
		}
		exts := identityLayout(grant, user, shape)
		cert, err := fuzzCertWith(signer, exts...)
		twice := shape&(shapeGrantTwice|shapeUserTwice) != 0
		switch {
		case err != nil && !twice:
			t.Fatalf("certificate with extensions %x, %x does not parse: %v", grant, user, err)
		case err != nil:
			// The x509 parser refuses a repeated extension; ParseIdentity must
			// too, when it gets such a certificate some other way.
			cert = &x509.Certificate{Extensions: exts}
		}

		id, err := ParseIdentity(cert)
		wantGrant, okGrant := wantIdentityValue(grant, shape&shapeNoGrant == 0,
			shape&shapeGrantTwice != 0)
		wantUser, okUser := wantIdentityValue(user, shape&shapeNoUser == 0,
			shape&shapeUserTwice != 0)
		if !okGrant || !okUser {
			if err == nil {
				t.Fatalf("ParseIdentity accepted grant %x user %x shape %#x", grant, user, shape)
			}
			wantError(t, err, mosaic.KindForbidden, "identity_invalid")
			return
		}
		if err != nil {
			t.Fatalf("ParseIdentity refused grant %x user %x shape %#x: %v",
				grant, user, shape, err)
		}
		if id.GrantID != wantGrant || id.SubjectUserID != wantUser {
			t.Fatalf("ParseIdentity = %+v, want %q and %q", id, wantGrant, wantUser)
		}
		checkUTF8RoundTrip(t, grant, id.GrantID)
		checkUTF8RoundTrip(t, user, id.SubjectUserID)
	})
}

// identityLayout returns the identity extensions of grant and user laid out
// as shape says.
func identityLayout(grant, user []byte, shape uint8) []pkix.Extension {
	var g, u []pkix.Extension
	if shape&shapeNoGrant == 0 {
		g = append(g, pkix.Extension{Id: mosaic.OIDGrantID, Value: grant})
		if shape&shapeGrantTwice != 0 {
			g = append(g, g[0])
		}
	}
	if shape&shapeNoUser == 0 {
		u = append(u, pkix.Extension{Id: mosaic.OIDSubjectUserID, Value: user})
		if shape&shapeUserTwice != 0 {
			u = append(u, u[0])
		}
	}
	if shape&shapeUserFirst != 0 {
		return append(u, g...)
	}
	return append(g, u...)
}

// wantIdentityValue returns the text ParseIdentity should read from one
// identity extension, and whether it should read one at all.
func wantIdentityValue(der []byte, present, twice bool) (string, bool) {
	if !present || twice {
		return "", false
	}
	s, err := ParseUTF8String(der)
	return s, err == nil && s != ""
}

// pinPattern is the documented form of a pin, written independently of
// ParsePin.
var pinPattern = regexp.MustCompile(`^sha256:[0-9a-fA-F]{64}$`)

// FuzzParsePin checks that ParsePin accepts exactly the documented form,
// returns the digest the hex spells, and refuses with "invalid_pin".
func FuzzParsePin(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		digest, err := ParsePin(s)
		if want := pinPattern.MatchString(s); (err == nil) != want {
			t.Fatalf("ParsePin(%q) error %v, want accepted: %v", s, err, want)
		}
		if err != nil {
			if digest != nil {
				t.Fatalf("ParsePin(%q) returned a digest with its error", s)
			}
			wantError(t, err, mosaic.KindInvalid, "invalid_pin")
			return
		}
		if !strings.EqualFold(hex.EncodeToString(digest), strings.TrimPrefix(s, PinPrefix)) {
			t.Fatalf("ParsePin(%q) = %x", s, digest)
		}
		again, err := ParsePin(PinPrefix + hex.EncodeToString(digest))
		if err != nil || !bytes.Equal(again, digest) {
			t.Fatalf("the lower-case form of %q does not parse back: %x, %v", s, again, err)
		}
	})
}

// fuzzKey returns a new P-256 key for a fuzz target.
func fuzzKey(f *testing.F) *ecdsa.PrivateKey {
	f.Helper()
	k, err := GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	return k
}

// fuzzCertWith signs a self-issued certificate that carries exts and parses
// it with the x509 parser.
func fuzzCertWith(key *ecdsa.PrivateKey, exts ...pkix.Extension) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         pkix.Name{CommonName: "fuzz"},
		NotBefore:       testNow,
		NotAfter:        testNow.Add(1),
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
