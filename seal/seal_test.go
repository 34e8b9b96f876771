package seal

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// testSecret returns a secret of 32 bytes or more built from seed.
func testSecret(seed string) []byte {
	return []byte(strings.Repeat(seed, 32/len(seed)+1))
}

// newSealer returns a Sealer for secret or fails the test.
func newSealer(t *testing.T, secret []byte) *Sealer {
	t.Helper()
	s, err := New(secret)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// mustSeal seals plaintext or fails the test.
func mustSeal(t *testing.T, s *Sealer, plaintext, aad []byte) []byte {
	t.Helper()
	sealed, err := s.Seal(plaintext, aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

// wantUnsealFailed checks that Open failed the documented way.
func wantUnsealFailed(t *testing.T, got []byte, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("Open succeeded, want error")
	}
	if got != nil {
		t.Errorf("Open returned %d bytes with its error", len(got))
	}
	if mosaic.ErrorCode(err) != "unseal_failed" || mosaic.ErrorKind(err) != mosaic.KindInternal {
		t.Errorf("error = %v, want internal unseal_failed", err)
	}
}

func TestRoundTrip(t *testing.T) {
	s := newSealer(t, testSecret("k"))
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty plaintext", []byte{}, []byte("row-1")},
		{"empty aad", []byte("secret key bytes"), nil},
		{"binary", []byte{0, 1, 2, 255, 254}, []byte("mosaic/key/ca-root")},
		{"large", bytes.Repeat([]byte("x"), 1<<16), []byte("peer/0190")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed := mustSeal(t, s, tt.plaintext, tt.aad)
			if len(sealed) != overhead+len(tt.plaintext) {
				t.Errorf("sealed length = %d, want %d", len(sealed), overhead+len(tt.plaintext))
			}
			if sealed[0] != formatV1 || !bytes.Equal(sealed[1:5], []byte{0, 0, 0, 1}) {
				t.Errorf("header = % x, want format 1 version 1", sealed[:5])
			}
			if len(tt.plaintext) > 4 && bytes.Contains(sealed, tt.plaintext) {
				t.Errorf("sealed value contains the plaintext")
			}
			got, err := s.Open(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	s := newSealer(t, testSecret("k"))
	a := mustSeal(t, s, []byte("same"), []byte("aad"))
	b := mustSeal(t, s, []byte("same"), []byte("aad"))
	if bytes.Equal(a[headerLen:headerLen+nonceLen], b[headerLen:headerLen+nonceLen]) {
		t.Fatalf("two seals used the same nonce")
	}
	if bytes.Equal(a, b) {
		t.Fatalf("two seals of one value are identical")
	}
}

func TestOpenRejectsEveryFlippedBit(t *testing.T) {
	s := newSealer(t, testSecret("k"))
	aad := []byte("row-7")
	sealed := mustSeal(t, s, []byte("a private key"), aad)
	for i := range sealed {
		for bit := range 8 {
			bad := bytes.Clone(sealed)
			bad[i] ^= 1 << bit
			got, err := s.Open(bad, aad)
			if err == nil || got != nil {
				t.Fatalf("flipping bit %d of byte %d: Open = %q, %v; want error", bit, i, got, err)
			}
		}
	}
}

func TestOpenRejects(t *testing.T) {
	s := newSealer(t, testSecret("k"))
	other := newSealer(t, testSecret("other"))
	rowA := mustSeal(t, s, []byte("key of row a"), []byte("peer/a"))
	rowB := mustSeal(t, s, []byte("key of row b"), []byte("peer/b"))
	v2, err := NewWithVersions(2, map[uint32][]byte{2: testSecret("k")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		opener *Sealer
		sealed []byte
		aad    []byte
	}{
		{"row a under b's aad (swapped rows)", s, rowA, []byte("peer/b")},
		{"row b under a's aad (swapped rows)", s, rowB, []byte("peer/a")},
		{"aad with extra byte", s, rowA, []byte("peer/a\x00")},
		{"empty aad", s, rowA, nil},
		{"wrong secret", other, rowA, []byte("peer/a")},
		{"unknown key version", v2, rowA, []byte("peer/a")},
		{"nil", s, nil, []byte("peer/a")},
		{"header only", s, rowA[:headerLen], []byte("peer/a")},
		{"no tag", s, rowA[:headerLen+nonceLen+tagLen-1], []byte("peer/a")},
		{"last byte cut", s, rowA[:len(rowA)-1], []byte("peer/a")},
		{"byte appended", s, append(bytes.Clone(rowA), 0), []byte("peer/a")},
		{"unknown format", s, append([]byte{2}, rowA[1:]...), []byte("peer/a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.opener.Open(tt.sealed, tt.aad)
			wantUnsealFailed(t, got, err)
		})
	}
}

func TestNewRejectsShortSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
	}{
		{"nil", nil},
		{"one byte", []byte("x")},
		{"31 bytes", bytes.Repeat([]byte("x"), 31)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.secret); err == nil {
				t.Fatalf("New accepted a %d-byte secret", len(tt.secret))
			}
		})
	}
	if _, err := New(bytes.Repeat([]byte("x"), 32)); err != nil {
		t.Fatalf("New refused a 32-byte secret: %v", err)
	}
}

func TestRotation(t *testing.T) {
	oldSecret, newSecret := testSecret("old"), testSecret("new")
	before := newSealer(t, oldSecret)
	sealedOld := mustSeal(t, before, []byte("ca key"), []byte("mosaic/key/ca-root"))

	after, err := NewWithVersions(2, map[uint32][]byte{1: oldSecret, 2: newSecret})
	if err != nil {
		t.Fatalf("NewWithVersions: %v", err)
	}
	got, err := after.Open(sealedOld, []byte("mosaic/key/ca-root"))
	if err != nil || string(got) != "ca key" {
		t.Fatalf("opening a version-1 value after rotation = %q, %v", got, err)
	}
	sealedNew := mustSeal(t, after, []byte("ca key"), []byte("mosaic/key/ca-root"))
	if v, err := KeyVersion(sealedNew); err != nil || v != 2 {
		t.Fatalf("KeyVersion of a new value = %d, %v; want 2", v, err)
	}
	if v, err := KeyVersion(sealedOld); err != nil || v != 1 {
		t.Fatalf("KeyVersion of an old value = %d, %v; want 1", v, err)
	}
	got, err = before.Open(sealedNew, []byte("mosaic/key/ca-root"))
	wantUnsealFailed(t, got, err)

	// The version is authenticated: relabelling a value fails, even when
	// both versions hold the same secret.
	same, err := NewWithVersions(2, map[uint32][]byte{1: oldSecret, 2: oldSecret})
	if err != nil {
		t.Fatal(err)
	}
	relabelled := bytes.Clone(sealedOld)
	relabelled[4] = 2
	got, err = same.Open(relabelled, []byte("mosaic/key/ca-root"))
	wantUnsealFailed(t, got, err)
}

func TestNewWithVersionsRejects(t *testing.T) {
	tests := []struct {
		name    string
		current uint32
		secrets map[uint32][]byte
	}{
		{"current missing", 3, map[uint32][]byte{1: testSecret("a")}},
		{"empty", 1, nil},
		{"old secret short", 2, map[uint32][]byte{1: []byte("short"), 2: testSecret("b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewWithVersions(tt.current, tt.secrets); err == nil {
				t.Fatalf("NewWithVersions succeeded, want error")
			}
		})
	}
}

func TestZeroSealerRefusesToSeal(t *testing.T) {
	var s Sealer
	if out, err := s.Seal([]byte("x"), nil); err == nil {
		t.Fatalf("zero Sealer sealed %d bytes", len(out))
	}
}
