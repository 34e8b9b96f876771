package pki

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// DER identifier octet of a UTF8String: universal class, primitive form,
// tag number 12.
const tagUTF8String = 0x0c

// maxLengthOctets bounds the long form of a DER length. Four octets describe
// values up to 4 GiB, far beyond anything a certificate can hold.
const maxLengthOctets = 4

// MarshalUTF8String returns the DER encoding of s as an ASN.1 UTF8String. It
// fails if s is not valid UTF-8.
func MarshalUTF8String(s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("pki: utf8string: value is not valid utf-8")
	}
	out := []byte{tagUTF8String}
	out = appendLength(out, len(s))
	return append(out, s...), nil
}

// appendLength appends a DER definite length in its minimal form: one octet
// below 128, else 0x80|n followed by n big-endian octets with no leading zero.
func appendLength(out []byte, n int) []byte {
	if n < 0x80 {
		return append(out, byte(n))
	}
	var be []byte
	for v := n; v > 0; v >>= 8 {
		be = append([]byte{byte(v)}, be...)
	}
	out = append(out, 0x80|byte(len(be)))
	return append(out, be...)
}

// ParseUTF8String decodes der, which must be exactly one DER UTF8String:
// universal primitive tag 12, a minimal definite length, valid UTF-8
// content and nothing after it.
func ParseUTF8String(der []byte) (string, error) {
	if len(der) < 2 {
		return "", errors.New("pki: utf8string: truncated")
	}
	if der[0] != tagUTF8String {
		return "", fmt.Errorf("pki: utf8string: identifier 0x%02x is not a primitive UTF8String", der[0])
	}
	n, rest, err := parseLength(der[1:])
	if err != nil {
		return "", err
	}
	if uint64(len(rest)) < n {
		return "", errors.New("pki: utf8string: truncated content")
	}
	if uint64(len(rest)) > n {
		return "", errors.New("pki: utf8string: trailing bytes")
	}
	if !utf8.Valid(rest) {
		return "", errors.New("pki: utf8string: content is not valid utf-8")
	}
	return string(rest), nil
}

// parseLength reads a DER length from the start of b and returns it with the
// bytes that follow. It refuses the indefinite form, reserved and oversized
// forms, and any length not encoded in the fewest octets.
func parseLength(b []byte) (uint64, []byte, error) {
	first := b[0]
	if first < 0x80 {
		return uint64(first), b[1:], nil
	}
	count := int(first & 0x7f)
	switch {
	case count == 0:
		return 0, nil, errors.New("pki: utf8string: indefinite length")
	case count > maxLengthOctets:
		return 0, nil, errors.New("pki: utf8string: length too large")
	case len(b) < 1+count:
		return 0, nil, errors.New("pki: utf8string: truncated length")
	}
	octets := b[1 : 1+count]
	if octets[0] == 0 {
		return 0, nil, errors.New("pki: utf8string: non-minimal length")
	}
	var n uint64
	for _, o := range octets {
		n = n<<8 | uint64(o)
	}
	if n < 0x80 {
		return 0, nil, errors.New("pki: utf8string: non-minimal length")
	}
	return n, b[1+count:], nil
}
