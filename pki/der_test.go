package pki

import (
	"bytes"
	"encoding/asn1"
	"strings"
	"testing"
)

func TestUTF8StringRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		value      string
		wantHeader []byte // identifier and length octets
	}{
		{"empty", "", []byte{0x0c, 0x00}},
		{"1 byte", "a", []byte{0x0c, 0x01}},
		{"127 bytes", strings.Repeat("a", 127), []byte{0x0c, 0x7f}},
		{"128 bytes", strings.Repeat("a", 128), []byte{0x0c, 0x81, 0x80}},
		{"255 bytes", strings.Repeat("a", 255), []byte{0x0c, 0x81, 0xff}},
		{"256 bytes", strings.Repeat("a", 256), []byte{0x0c, 0x82, 0x01, 0x00}},
		{"1000 bytes", strings.Repeat("a", 1000), []byte{0x0c, 0x82, 0x03, 0xe8}},
		{"70000 bytes", strings.Repeat("a", 70000), []byte{0x0c, 0x83, 0x01, 0x11, 0x70}},
		{"uuid", "0190a5b2-7c1e-7def-8abc-0123456789ab", []byte{0x0c, 36}},
		{"non-ASCII", "grüße-日本-🔑", []byte{0x0c, byte(len("grüße-日本-🔑"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := MarshalUTF8String(tt.value)
			if err != nil {
				t.Fatalf("MarshalUTF8String: %v", err)
			}
			if !bytes.HasPrefix(der, tt.wantHeader) || len(der) != len(tt.wantHeader)+len(tt.value) {
				t.Fatalf("encoding starts % x (len %d), want % x then the value",
					der[:min(len(der), 6)], len(der), tt.wantHeader)
			}

			// encoding/asn1 must agree on the encoding and the value.
			std, err := asn1.MarshalWithParams(tt.value, "utf8")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(der, std) {
				t.Errorf("encoding differs from encoding/asn1")
			}

			got, err := ParseUTF8String(der)
			if err != nil {
				t.Fatalf("ParseUTF8String: %v", err)
			}
			if got != tt.value {
				t.Errorf("round trip = %q, want %q", got, tt.value)
			}
		})
	}
}

func TestMarshalUTF8StringRejectsInvalidUTF8(t *testing.T) {
	for _, s := range []string{"\xff", "abc\xc3", "\xed\xa0\x80"} {
		if der, err := MarshalUTF8String(s); err == nil {
			t.Errorf("MarshalUTF8String(%q) = % x, want error", s, der)
		}
	}
}

func TestParseUTF8StringRejects(t *testing.T) {
	valid, _ := MarshalUTF8String("grant")
	long := strings.Repeat("a", 200)
	tests := []struct {
		name string
		der  []byte
	}{
		{"nil", nil},
		{"identifier only", []byte{0x0c}},
		{"PrintableString", mustASN1(t, "grant", "printable")},
		{"IA5String", mustASN1(t, "grant", "ia5")},
		{"OCTET STRING", mustASN1(t, []byte("grant"), "")},
		{"BMPString tag", append([]byte{0x1e, 0x02}, 0, 'a')},
		{"constructed UTF8String", append([]byte{0x2c, 0x07, 0x0c, 0x05}, "grant"...)},
		{"context-specific tag 12", append([]byte{0x8c, 0x05}, "grant"...)},
		{"indefinite length", append(append([]byte{0x0c, 0x80}, "grant"...), 0, 0)},
		{"non-minimal long form for 5", append([]byte{0x0c, 0x81, 0x05}, "grant"...)},
		{"leading zero length octet", append([]byte{0x0c, 0x82, 0x00, 0xc8}, long...)},
		{"reserved length 0xff", append([]byte{0x0c, 0xff}, "grant"...)},
		{"length of 5 octets", append([]byte{0x0c, 0x85, 0, 0, 0, 0, 5}, "grant"...)},
		{"truncated content", valid[:len(valid)-1]},
		{"truncated long length", []byte{0x0c, 0x82, 0x01}},
		{"length beyond data", append([]byte{0x0c, 0x84, 0x7f, 0xff, 0xff, 0xff}, "grant"...)},
		{"trailing byte", append(bytes.Clone(valid), 0)},
		{"two strings", append(bytes.Clone(valid), valid...)},
		{"invalid UTF-8", []byte{0x0c, 0x02, 0xc3, 0x28}},
		{"UTF-16 surrogate", []byte{0x0c, 0x03, 0xed, 0xa0, 0x80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ParseUTF8String(tt.der); err == nil {
				t.Fatalf("ParseUTF8String(% x) = %q, want error", tt.der, got)
			}
		})
	}
}

// mustASN1 marshals v with encoding/asn1 parameters.
func mustASN1(t *testing.T, v any, params string) []byte {
	t.Helper()
	der, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
