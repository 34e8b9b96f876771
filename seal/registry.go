package seal

import (
	"cmp"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// RegistrySetting names the setting that holds the Registry, so that every
// process sharing a database agrees which secret is which key version.
const RegistrySetting = "seal_keys"

// The check value of a secret: HKDF-SHA256 with its own info string, so
// that it reveals nothing of the sealing key derived from the same secret.
const (
	checkInfo     = "mosaic seal key check v1"
	checkValueLen = 16
)

// CheckValue returns the check value of a secret: 16 bytes of HKDF-SHA256
// under an info string of its own, in hex. It identifies the secret's key
// version in the Registry and is safe to store: it is neither the secret
// nor the sealing key, and tells no more about the secret than any sealed
// value does.
func CheckValue(secret []byte) string {
	sum, err := hkdf.Key(sha256.New, secret, nil, checkInfo, checkValueLen)
	if err != nil {
		// HKDF-SHA256 refuses only outputs longer than 255 hashes.
		panic("seal: check value: " + err.Error())
	}
	return hex.EncodeToString(sum)
}

// Registry lists the key versions of a database: for each, the check value
// of its secret. Versions only ever grow; an entry is never changed.
type Registry struct {
	Keys []RegisteredKey `json:"keys"`
}

// RegisteredKey is one key version and the check value of its secret.
type RegisteredKey struct {
	Version uint32 `json:"version"`
	Check   string `json:"check"`
}

// ParseRegistry reads a Registry as stored. Versions must be positive and
// distinct, and so must the check values.
func ParseRegistry(text string) (Registry, error) {
	var r Registry
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		return Registry{}, fmt.Errorf("seal: key registry %s: %w", RegistrySetting, err)
	}
	versions := map[uint32]bool{}
	checks := map[string]bool{}
	for _, k := range r.Keys {
		if k.Version == 0 || versions[k.Version] || checks[k.Check] || len(k.Check) != 2*checkValueLen {
			return Registry{}, fmt.Errorf("seal: key registry %s: bad or repeated entry "+
				"for version %d", RegistrySetting, k.Version)
		}
		versions[k.Version], checks[k.Check] = true, true
	}
	return r, nil
}

// String returns the Registry as stored: JSON with versions in order.
func (r Registry) String() string {
	keys := slices.Clone(r.Keys)
	slices.SortFunc(keys, func(a, b RegisteredKey) int { return cmp.Compare(a.Version, b.Version) })
	data, _ := json.Marshal(Registry{Keys: keys}) // plain values: cannot fail
	return string(data)
}

// Lookup returns the version registered for a check value, or 0.
func (r Registry) Lookup(check string) uint32 {
	for _, k := range r.Keys {
		if k.Check == check {
			return k.Version
		}
	}
	return 0
}

// Newest returns the highest registered version, or 0 when none is.
func (r Registry) Newest() uint32 {
	var n uint32
	for _, k := range r.Keys {
		n = max(n, k.Version)
	}
	return n
}

// With returns a copy of r with check registered as the version after the
// newest, and that version.
func (r Registry) With(check string) (Registry, uint32) {
	v := r.Newest() + 1
	return Registry{Keys: append(slices.Clone(r.Keys), RegisteredKey{Version: v, Check: check})}, v
}
