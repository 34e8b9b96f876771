package seal

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/. scripts/fuzz.sh runs
// every target for a bounded time.

// FuzzOpen checks that bytes nobody sealed never open and never panic. The
// Sealer holds two versions of secrets drawn for this run, so no input, not
// even a value sealed under a test secret in the corpus, can be genuine.
func FuzzOpen(f *testing.F) {
	s, err := NewWithVersions(2, map[uint32][]byte{1: fuzzSecret(f), 2: fuzzSecret(f)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		got, err := s.Open(sealed, aad)
		wantUnsealFailed(t, got, err)
	})
}

// Mutations FuzzOpenMutated applies to a sealed value or to its aad.
const (
	mutateFlip         = iota // xor one byte of the value with a non-zero byte
	mutateInsert              // insert one byte into the value
	mutateDelete              // delete one byte of the value
	mutateTruncate            // cut the value short
	mutateOtherVersion        // relabel the value with the Sealer's other key version
	mutateAADFlip             // xor one byte of the aad with a non-zero byte
	mutateAADInsert           // insert one byte into the aad
	mutateAADDelete           // delete one byte of the aad
	mutations
)

// FuzzOpenMutated seals plaintext bound to aad, checks that it opens, then
// makes one change to the value or the aad and checks that it no longer
// opens, with the Sealer of two versions that made it.
func FuzzOpenMutated(f *testing.F) {
	s, err := NewWithVersions(2, map[uint32][]byte{
		1: testSecret("fuzz-one"), 2: testSecret("fuzz-two"),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, plaintext, aad []byte, op uint8, pos uint16, b byte) {
		sealed := mustSeal(t, s, plaintext, aad)
		if got, err := s.Open(sealed, aad); err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("the unchanged value does not open: %v", err)
		}
		if b == 0 {
			b = 0xff
		}

		value, binding := sealed, aad
		switch op %= mutations; op {
		case mutateFlip, mutateInsert, mutateDelete, mutateTruncate:
			value = mutate(sealed, op, int(pos), b)
		case mutateOtherVersion:
			value = bytes.Clone(sealed)
			value[headerLen-1] ^= 3 // version 2 becomes version 1
		case mutateAADFlip, mutateAADInsert, mutateAADDelete:
			if len(aad) == 0 && op != mutateAADInsert {
				return // no byte to change
			}
			binding = mutate(aad, op-mutateAADFlip, int(pos), b)
		}
		got, err := s.Open(value, binding)
		wantUnsealFailed(t, got, err)
	})
}

// mutate returns a copy of v with one change of kind mutateFlip,
// mutateInsert, mutateDelete or mutateTruncate, at an index chosen by pos.
// Every change leaves a different byte string.
func mutate(v []byte, kind uint8, pos int, b byte) []byte {
	out := bytes.Clone(v)
	switch kind {
	case mutateFlip:
		out[pos%len(out)] ^= b
	case mutateInsert:
		at := pos % (len(out) + 1)
		out = append(out[:at], append([]byte{b}, out[at:]...)...)
	case mutateDelete:
		at := pos % len(out)
		out = append(out[:at], out[at+1:]...)
	default:
		out = out[:pos%len(out)]
	}
	return out
}

// fuzzSecret draws a secret for one fuzz run.
func fuzzSecret(f *testing.F) []byte {
	f.Helper()
	secret := make([]byte, MinSecretLen)
	if _, err := rand.Read(secret); err != nil {
		f.Fatal(err)
	}
	return secret
}
