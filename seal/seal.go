// Package seal encrypts values at rest, such as private keys in the
// database, with AES-256-GCM under keys derived from the operator's secret.
//
// A sealed value is one format byte, a four-byte big-endian key version, a
// twelve-byte random nonce, and the ciphertext with its tag. The format byte
// and key version are authenticated together with the caller's additional
// data, which binds the value to its place (such as a row id). Keeping the
// version in each value lets the secret be rotated: a Sealer can hold the
// keys of several versions, opens any of them and seals with the current one.
//
// Around that: the secret files of a data directory (LoadSecret,
// ReadPreviousSecret, RotateSecretFile); the registry that tells every
// process sharing a database which secret is which version (Resolve); and
// the walk that re-seals every stored value under the current version
// (Rotate).
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/mosaicgw/mosaic"
)

// MinSecretLen is the shortest secret accepted, in bytes.
const MinSecretLen = 32

// Layout of a sealed value.
const (
	formatV1   byte = 1 // AES-256-GCM, key from HKDF-SHA256 with keyInfo
	headerLen       = 1 + 4
	nonceLen        = 12
	tagLen          = 16
	overhead        = headerLen + nonceLen + tagLen
	keyLen          = 32
	keyInfo         = "mosaic seal v1 aes-256-gcm"
	openFailed      = "sealed value cannot be opened"
)

// Sealer seals with the key of its current version and opens values sealed
// with any version it holds. It implements mosaic.Sealer and is safe for
// concurrent use.
type Sealer struct {
	current uint32
	aeads   map[uint32]cipher.AEAD
}

var _ mosaic.Sealer = (*Sealer)(nil)

// New returns a Sealer with one key, version 1, derived from secret. A
// secret shorter than MinSecretLen bytes is refused.
func New(secret []byte) (*Sealer, error) {
	return NewWithVersions(1, map[uint32][]byte{1: secret})
}

// NewWithVersions returns a Sealer holding one key per version, derived from
// each secret, that seals with version current. It is how a secret is
// rotated: the old secret stays under its version until every value has
// been sealed again with the new one.
func NewWithVersions(current uint32, secrets map[uint32][]byte) (*Sealer, error) {
	if _, ok := secrets[current]; !ok {
		return nil, fmt.Errorf("seal: no secret for current version %d", current)
	}
	s := &Sealer{current: current, aeads: make(map[uint32]cipher.AEAD, len(secrets))}
	for v, secret := range secrets {
		if len(secret) < MinSecretLen {
			return nil, fmt.Errorf("seal: secret of version %d is shorter than %d bytes",
				v, MinSecretLen)
		}
		aead, err := newAEAD(secret)
		if err != nil {
			return nil, err
		}
		s.aeads[v] = aead
	}
	return s, nil
}

// Current returns the key version the Sealer seals with.
func (s *Sealer) Current() uint32 { return s.current }

// Holds reports whether the Sealer has the key of version v.
func (s *Sealer) Holds(v uint32) bool {
	_, ok := s.aeads[v]
	return ok
}

// Versions returns the key versions the Sealer holds, in increasing order.
func (s *Sealer) Versions() []uint32 {
	vs := make([]uint32, 0, len(s.aeads))
	for v := range s.aeads {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// newAEAD derives the AES-256-GCM cipher of one secret.
func newAEAD(secret []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, keyInfo, keyLen)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: new gcm: %w", err)
	}
	return aead, nil
}

// Seal encrypts plaintext with the current key and a fresh random nonce,
// bound to aad.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	aead := s.aeads[s.current]
	if aead == nil {
		return nil, fmt.Errorf("seal: sealer has no key; make it with New")
	}
	out := make([]byte, headerLen+nonceLen, overhead+len(plaintext))
	out[0] = formatV1
	binary.BigEndian.PutUint32(out[1:headerLen], s.current)
	nonce := out[headerLen:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: read nonce: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, additionalData(out[:headerLen], aad)), nil
}

// Open decrypts a value made by Seal with the same aad. A wrong secret, an
// unknown format or key version, a truncated or altered value, or another
// aad is a KindInternal error with code "unseal_failed", and no plaintext.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < overhead {
		return nil, unsealError(fmt.Errorf("seal: value of %d bytes is truncated", len(sealed)))
	}
	if sealed[0] != formatV1 {
		return nil, unsealError(fmt.Errorf("seal: unknown format %d", sealed[0]))
	}
	version := binary.BigEndian.Uint32(sealed[1:headerLen])
	aead, ok := s.aeads[version]
	if !ok {
		return nil, unsealError(fmt.Errorf("seal: no key of version %d", version))
	}
	nonce := sealed[headerLen : headerLen+nonceLen]
	ad := additionalData(sealed[:headerLen], aad)
	plaintext, err := aead.Open(nil, nonce, sealed[headerLen+nonceLen:], ad)
	if err != nil {
		return nil, unsealError(fmt.Errorf("seal: wrong secret or altered value: %w", err))
	}
	return plaintext, nil
}

// KeyVersion returns the key version a sealed value was made with, so that
// a rotation can find the values still sealed under an old secret.
func KeyVersion(sealed []byte) (uint32, error) {
	if len(sealed) < overhead || sealed[0] != formatV1 {
		return 0, unsealError(fmt.Errorf("seal: not a sealed value"))
	}
	return binary.BigEndian.Uint32(sealed[1:headerLen]), nil
}

// additionalData authenticates the header along with the caller's aad. The
// header has a fixed length, so the concatenation is unambiguous.
func additionalData(header, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	return append(append(ad, header...), aad...)
}

// unsealError is the error of Open.
func unsealError(err error) error {
	return mosaic.WrapError(mosaic.KindInternal, "unseal_failed", openFailed, err)
}
