package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/mosaicgw/mosaic"
)

// Secrets are the secrets a process is given: the current one, which it
// seals with, and during a rotation the previous one, which it still opens
// values with. The sources say where each came from ("env MOSAIC_SECRET",
// "file /path") for messages. Secrets never print their values.
type Secrets struct {
	Current        []byte
	CurrentSource  string
	Previous       []byte // nil when no rotation is in progress
	PreviousSource string
}

// String describes where the secrets came from, never what they are.
func (s Secrets) String() string {
	if s.Previous == nil {
		return "secret from " + s.CurrentSource
	}
	return "secret from " + s.CurrentSource + ", previous from " + s.PreviousSource
}

// GoString is String, so that %#v reveals nothing either.
func (s Secrets) GoString() string { return s.String() }

// registryAttempts bounds how often Resolve re-reads a registry that
// another process changed under it.
const registryAttempts = 5

// Resolve finds the key versions of the secrets in the key registry of the
// database and returns a Sealer that seals with the current secret's
// version and opens values under both.
//
// A database without a registry gets one: its sealed values, all made
// before versions were registered, are version 1 under whichever secret
// opens them; an empty database registers the current secret as version 1
// (after the previous one, if given). A current secret the registry does
// not know is registered as the next version, but only when the previous
// secret is given and is the newest registered version: that is the start
// of a rotation. Any other unknown secret is refused with an error naming
// where it came from, and nothing is written; so is a previous secret of a
// newer version than the current one (the two given the wrong way round),
// which would seal everything back under the older secret. The registry changes only by
// compare-and-swap, so processes starting together agree on one registry.
func Resolve(ctx context.Context, store mosaic.SealedStore, s Secrets) (*Sealer, error) {
	if s.Previous != nil && bytes.Equal(s.Previous, s.Current) {
		s.Previous = nil
	}
	for range registryAttempts {
		text, err := store.GetSetting(ctx, RegistrySetting)
		if mosaic.IsKind(err, mosaic.KindNotFound) {
			reg, err := bootstrap(ctx, store, s)
			if err != nil {
				return nil, err
			}
			ok, err := store.InsertSetting(ctx, RegistrySetting, reg.String())
			if err != nil {
				return nil, fmt.Errorf("seal: store key registry: %w", err)
			}
			if ok {
				return sealerFor(reg, s)
			}
			continue // another process registered first: read its registry
		}
		if err != nil {
			return nil, fmt.Errorf("seal: read key registry: %w", err)
		}

		reg, err := ParseRegistry(text)
		if err != nil {
			return nil, err
		}
		next, err := admit(reg, s)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return sealerFor(reg, s)
		}
		ok, err := store.ReplaceSetting(ctx, RegistrySetting, text, next.String())
		if err != nil {
			return nil, fmt.Errorf("seal: store key registry: %w", err)
		}
		if ok {
			return sealerFor(*next, s)
		}
	}
	return nil, errors.New("seal: the key registry kept changing while it was read; try again")
}

// admit checks the secrets against a registry. It returns nil when both
// are registered, or the registry with the current secret added as the
// next version when a rotation starts.
func admit(reg Registry, s Secrets) (*Registry, error) {
	var prev uint32
	if s.Previous != nil {
		if prev = reg.Lookup(CheckValue(s.Previous)); prev == 0 {
			return nil, fmt.Errorf("seal: the previous secret (%s) matches no key version "+
				"registered in the database: wrong %s?", s.PreviousSource, EnvSecretPrevious)
		}
	}
	check := CheckValue(s.Current)
	if current := reg.Lookup(check); current != 0 {
		// Sealing under an older version than the one still being opened
		// would undo a rotation: the secrets were given the wrong way round.
		if prev > current {
			return nil, fmt.Errorf("seal: the previous secret (%s) is key version %d, newer "+
				"than the secret's (%s) version %d: are %s and %s swapped?",
				s.PreviousSource, prev, s.CurrentSource, current, EnvSecret, EnvSecretPrevious)
		}
		return nil, nil
	}
	if s.Previous == nil {
		return nil, fmt.Errorf("seal: the secret (%s) matches no key version registered in "+
			"the database: wrong %s? To rotate to a new secret, set %s to the one in use",
			s.CurrentSource, EnvSecret, EnvSecretPrevious)
	}
	if newest := reg.Newest(); prev != newest {
		return nil, fmt.Errorf("seal: the previous secret (%s) is key version %d, but "+
			"version %d is newer: a rotation moves on from the newest secret", s.PreviousSource,
			prev, newest)
	}
	next, _ := reg.With(check)
	return &next, nil
}

// bootstrap makes the first registry of a database. Values sealed before
// versions were registered are all version 1; the secret that opens one of
// them is version 1.
func bootstrap(ctx context.Context, store mosaic.SealedStore, s Secrets) (Registry, error) {
	var reg Registry
	sample, err := firstSealed(ctx, store)
	if err != nil {
		return reg, err
	}
	if sample == nil {
		// Nothing sealed yet: the previous secret, if any, comes first.
		if s.Previous != nil {
			reg, _ = reg.With(CheckValue(s.Previous))
		}
		reg, _ = reg.With(CheckValue(s.Current))
		return reg, nil
	}

	if v, err := KeyVersion(sample.Sealed); err != nil || v != 1 {
		return reg, fmt.Errorf("seal: %s is not a value sealed under key version 1, "+
			"yet the database has no key registry", sample.Ref)
	}
	switch {
	case opens(s.Current, sample):
		if s.Previous != nil {
			return reg, fmt.Errorf("seal: the previous secret (%s) opens no value sealed in "+
				"the database: wrong %s?", s.PreviousSource, EnvSecretPrevious)
		}
		reg, _ = reg.With(CheckValue(s.Current))
	case s.Previous != nil && opens(s.Previous, sample):
		reg, _ = reg.With(CheckValue(s.Previous))
		reg, _ = reg.With(CheckValue(s.Current))
	default:
		return reg, fmt.Errorf("seal: the secret (%s) does not open the values sealed in the "+
			"database (%s): wrong %s?", s.CurrentSource, sample.Ref, EnvSecret)
	}
	return reg, nil
}

// firstSealed returns the first sealed value of the database, or nil when
// there is none.
func firstSealed(ctx context.Context, store mosaic.SealedStore) (*mosaic.SealedValue, error) {
	for _, table := range mosaic.SealedTables() {
		vs, err := store.ListSealed(ctx, table, "", 1)
		if err != nil {
			return nil, fmt.Errorf("seal: read sealed values: %w", err)
		}
		if len(vs) > 0 {
			return &vs[0], nil
		}
	}
	return nil, nil
}

// opens reports whether secret, as key version 1, opens the value.
func opens(secret []byte, v *mosaic.SealedValue) bool {
	s, err := New(secret)
	if err != nil {
		return false
	}
	plaintext, err := s.Open(v.Sealed, v.Ref.AAD())
	clear(plaintext)
	return err == nil
}

// sealerFor returns the Sealer of the secrets under their registered
// versions.
func sealerFor(reg Registry, s Secrets) (*Sealer, error) {
	current := reg.Lookup(CheckValue(s.Current))
	secrets := map[uint32][]byte{current: s.Current}
	if s.Previous != nil {
		if v := reg.Lookup(CheckValue(s.Previous)); v != 0 {
			secrets[v] = s.Previous
		}
	}
	return NewWithVersions(current, secrets)
}
