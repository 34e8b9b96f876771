package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

func TestIdentityExtensions(t *testing.T) {
	exts, err := IdentityExtensions(testID)
	if err != nil {
		t.Fatalf("IdentityExtensions: %v", err)
	}
	if len(exts) != 2 {
		t.Fatalf("got %d extensions, want 2", len(exts))
	}
	want := map[string]string{
		mosaic.OIDGrantID.String():       testID.GrantID,
		mosaic.OIDSubjectUserID.String(): testID.SubjectUserID,
	}
	for _, ext := range exts {
		if ext.Critical {
			t.Errorf("extension %s is critical", ext.Id)
		}
		got, err := ParseUTF8String(ext.Value)
		if err != nil || got != want[ext.Id.String()] {
			t.Errorf("extension %s = %q, %v; want %q", ext.Id, got, err, want[ext.Id.String()])
		}
		delete(want, ext.Id.String())
	}
	if len(want) != 0 {
		t.Errorf("missing extensions: %v", want)
	}
}

func TestIdentityExtensionsRejects(t *testing.T) {
	tests := []struct {
		name string
		id   mosaic.Identity
	}{
		{"empty grant", mosaic.Identity{SubjectUserID: "u"}},
		{"empty user", mosaic.Identity{GrantID: "g"}},
		{"both empty", mosaic.Identity{}},
		{"grant not UTF-8", mosaic.Identity{GrantID: "g\xff", SubjectUserID: "u"}},
		{"user not UTF-8", mosaic.Identity{GrantID: "g", SubjectUserID: "\xc3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := IdentityExtensions(tt.id)
			wantError(t, err, mosaic.KindInvalid, "invalid_identity")
		})
	}
}

// ext is an identity extension with a raw value.
func ext(oid []int, value []byte) pkix.Extension {
	return pkix.Extension{Id: oid, Value: value}
}

func TestParseIdentityFromCertificates(t *testing.T) {
	ca := newTestCA(t)
	key := mustKey(t)
	utf8 := func(s string) []byte {
		der, err := MarshalUTF8String(s)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	grantOK := ext(mosaic.OIDGrantID, utf8(testID.GrantID))
	userOK := ext(mosaic.OIDSubjectUserID, utf8(testID.SubjectUserID))
	long := strings.Repeat("g", 1000)
	other := ext([]int{1, 3, 6, 1, 4, 1, 99999, 3}, utf8("unrelated"))

	tests := []struct {
		name    string
		exts    []pkix.Extension
		want    mosaic.Identity // zero means an error is expected
		wantMsg string
	}{
		{"valid", []pkix.Extension{grantOK, userOK}, testID, ""},
		{"valid with other extension", []pkix.Extension{other, userOK, grantOK}, testID, ""},
		{"1000-byte grant id (long form length)",
			[]pkix.Extension{ext(mosaic.OIDGrantID, utf8(long)), userOK},
			mosaic.Identity{GrantID: long, SubjectUserID: testID.SubjectUserID}, ""},
		{"non-ASCII user id", []pkix.Extension{grantOK, ext(mosaic.OIDSubjectUserID, utf8("ümlaut"))},
			mosaic.Identity{GrantID: testID.GrantID, SubjectUserID: "ümlaut"}, ""},
		{"no extensions", nil, mosaic.Identity{}, "grant id extension missing"},
		{"grant missing", []pkix.Extension{userOK}, mosaic.Identity{}, "grant id extension missing"},
		{"user missing", []pkix.Extension{grantOK}, mosaic.Identity{},
			"subject user id extension missing"},
		{"grant as PrintableString",
			[]pkix.Extension{ext(mosaic.OIDGrantID, mustASN1(t, "abc", "printable")), userOK},
			mosaic.Identity{}, "not a DER UTF8String"},
		{"grant as IA5String",
			[]pkix.Extension{ext(mosaic.OIDGrantID, mustASN1(t, "abc", "ia5")), userOK},
			mosaic.Identity{}, "not a DER UTF8String"},
		{"user as OCTET STRING",
			[]pkix.Extension{grantOK, ext(mosaic.OIDSubjectUserID, mustASN1(t, []byte("abc"), ""))},
			mosaic.Identity{}, "not a DER UTF8String"},
		{"grant constructed",
			[]pkix.Extension{ext(mosaic.OIDGrantID, []byte{0x2c, 0x03, 0x0c, 0x01, 'g'}), userOK},
			mosaic.Identity{}, "not a DER UTF8String"},
		{"grant indefinite length",
			[]pkix.Extension{ext(mosaic.OIDGrantID, []byte{0x0c, 0x80, 'g', 0, 0}), userOK},
			mosaic.Identity{}, "not a DER UTF8String"},
		{"grant non-minimal length",
			[]pkix.Extension{ext(mosaic.OIDGrantID, []byte{0x0c, 0x81, 0x01, 'g'}), userOK},
			mosaic.Identity{}, "not a DER UTF8String"},
		{"grant truncated",
			[]pkix.Extension{ext(mosaic.OIDGrantID, []byte{0x0c, 0x05, 'g'}), userOK},
			mosaic.Identity{}, "not a DER UTF8String"},
		{"user trailing bytes",
			[]pkix.Extension{grantOK, ext(mosaic.OIDSubjectUserID, append(utf8("u"), 0))},
			mosaic.Identity{}, "not a DER UTF8String"},
		{"grant bad UTF-8",
			[]pkix.Extension{ext(mosaic.OIDGrantID, []byte{0x0c, 0x02, 0xc3, 0x28}), userOK},
			mosaic.Identity{}, "not a DER UTF8String"},
		{"grant empty", []pkix.Extension{ext(mosaic.OIDGrantID, utf8("")), userOK},
			mosaic.Identity{}, "grant id extension is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := leafTemplate(t)
			tmpl.ExtraExtensions = tt.exts
			cert := ca.issue(t, tmpl, &key.PublicKey)
			got, err := ParseIdentity(cert)
			if tt.want == (mosaic.Identity{}) {
				wantError(t, err, mosaic.KindForbidden, "identity_invalid")
				if !strings.Contains(mosaic.ErrorMessage(err), tt.wantMsg) {
					t.Errorf("message %q does not say %q", mosaic.ErrorMessage(err), tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIdentity: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseIdentity = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseIdentityRejectsRepeatedExtension(t *testing.T) {
	grant, _ := MarshalUTF8String(testID.GrantID)
	user, _ := MarshalUTF8String(testID.SubjectUserID)
	other, _ := MarshalUTF8String("0190a5b2-ffff-7fff-8fff-ffffffffffff")
	tests := []struct {
		name string
		exts []pkix.Extension
		msg  string
	}{
		{"grant twice, same value", []pkix.Extension{
			ext(mosaic.OIDGrantID, grant), ext(mosaic.OIDGrantID, grant),
			ext(mosaic.OIDSubjectUserID, user)}, "grant id extension repeated"},
		{"user twice, other value", []pkix.Extension{
			ext(mosaic.OIDGrantID, grant), ext(mosaic.OIDSubjectUserID, user),
			ext(mosaic.OIDSubjectUserID, other)}, "subject user id extension repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The parser of the standard library refuses duplicate
			// extensions; ParseIdentity must not rely on it.
			_, err := ParseIdentity(&x509.Certificate{Extensions: tt.exts})
			wantError(t, err, mosaic.KindForbidden, "identity_invalid")
			if !strings.Contains(mosaic.ErrorMessage(err), tt.msg) {
				t.Errorf("message %q does not say %q", mosaic.ErrorMessage(err), tt.msg)
			}
		})
	}
	_, err := ParseIdentity(nil)
	wantError(t, err, mosaic.KindForbidden, "identity_invalid")
}
