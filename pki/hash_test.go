package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

func TestPinAndKeyHash(t *testing.T) {
	ca := newTestCA(t)
	sum := sha256.Sum256(ca.root.RawSubjectPublicKeyInfo)
	want := "sha256:" + hex.EncodeToString(sum[:])
	if got := Pin(ca.root); got != want {
		t.Fatalf("Pin = %q, want %q", got, want)
	}
	kh, err := KeyHash(ca.root.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if "sha256:"+kh != want {
		t.Errorf("KeyHash = %q, want the digest of the pin", kh)
	}
	if Pin(ca.inter) == want {
		t.Errorf("root and intermediate have the same pin")
	}

	digest, err := ParsePin(want)
	if err != nil {
		t.Fatalf("ParsePin(Pin) = %v", err)
	}
	if !MatchesPin(ca.root, digest) || MatchesPin(ca.inter, digest) {
		t.Errorf("MatchesPin does not tell the root from the intermediate")
	}
	upper, err := ParsePin("sha256:" + strings.ToUpper(want[7:]))
	if err != nil || !bytes.Equal(upper, digest) {
		t.Errorf("ParsePin of upper-case hex = %x, %v", upper, err)
	}
	if _, err := KeyHash(struct{}{}); err == nil {
		t.Errorf("KeyHash of an unknown key type succeeded")
	}
}

func TestParsePinRejects(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		pin  string
	}{
		{"empty", ""},
		{"no prefix", hex64},
		{"other algorithm", "sha1:" + hex64},
		{"upper-case prefix", "SHA256:" + hex64},
		{"short", "sha256:" + hex64[:62]},
		{"long", "sha256:" + hex64 + "00"},
		{"not hex", "sha256:" + strings.Repeat("zz", 32)},
		{"base64", "sha256:q83vq83vq83vq83vq83vq83vq83vq83vq83vq83vq80="},
		{"space", " sha256:" + hex64},
		{"newline", "sha256:" + hex64 + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePin(tt.pin)
			wantError(t, err, mosaic.KindInvalid, "invalid_pin")
		})
	}
}

func TestFingerprintAndSerialHex(t *testing.T) {
	ca := newTestCA(t)
	sum := sha256.Sum256(ca.root.Raw)
	if got := Fingerprint(ca.root); got != hex.EncodeToString(sum[:]) {
		t.Errorf("Fingerprint = %q", got)
	}
	tmpl := leafTemplate(t)
	tmpl.SerialNumber, _ = new(big.Int).SetString("00ABCDEF0123456789", 16)
	leaf := ca.issue(t, tmpl, &mustKey(t).PublicKey)
	if got := SerialHex(leaf); got != "abcdef0123456789" {
		t.Errorf("SerialHex = %q, want abcdef0123456789", got)
	}
}

func TestNewSerial(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n, err := NewSerial(rand.Reader)
		if err != nil {
			t.Fatalf("NewSerial: %v", err)
		}
		if n.Sign() <= 0 {
			t.Fatalf("serial %x is not positive", n)
		}
		if n.BitLen() < 128 || n.BitLen() > 159 {
			t.Fatalf("serial %x has %d bits, want 128..159", n, n.BitLen())
		}
		if seen[n.Text(16)] {
			t.Fatalf("serial %x drawn twice", n)
		}
		seen[n.Text(16)] = true
	}
}

func TestNewSerialBadReader(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
	}{
		{"failing", iotestErr{}},
		{"short", bytes.NewReader(make([]byte, 10))},
		{"zeros", zeros{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n, err := NewSerial(tt.r); err == nil {
				t.Fatalf("NewSerial = %x, want error", n)
			}
		})
	}
	// A top byte of 0xff is cleared to keep the serial positive.
	n, err := NewSerial(bytes.NewReader(bytes.Repeat([]byte{0xff}, 20)))
	if err != nil || n.BitLen() != 159 {
		t.Fatalf("NewSerial of all ones = %x, %v; want 159 bits", n, err)
	}
}

// iotestErr fails every read.
type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// zeros reads zeros forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
