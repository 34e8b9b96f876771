package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/seal"
)

// RotateCA gives the embedded CA of the gateway whose database cfg names a
// new signing intermediate under the same root (so peers keep their pin),
// keeping the old intermediates until they expire and dropping those that
// have (see embedded.CA.Rotate). It works while gateways serve that
// database: it takes no data directory lock, and each running gateway
// signs with the new intermediate, and reissues its TLS certificate from
// it, within its CA reload interval. It never creates anything else: a
// missing database, secret or CA is an error.
func RotateCA(ctx context.Context, cfg Config) (*embedded.Rotation, error) {
	cfg = cfg.withDefaults()
	store, err := openExistingStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if !secretConfigured(cfg) {
		return nil, fmt.Errorf("gateway: no secret: set %s as the gateway has it, "+
			"or give the data directory that holds it", seal.EnvSecret)
	}
	secrets, err := readSecrets(cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway: secret: %w", err)
	}
	if _, err := store.GetKey(ctx, embedded.KeyRoot); mosaic.IsKind(err, mosaic.KindNotFound) {
		return nil, errors.New("gateway: the database holds no CA; run mosaic gateway init first")
	} else if err != nil {
		return nil, fmt.Errorf("gateway: database: %w", err)
	}
	// The new intermediate's key is sealed under the current key version,
	// as the serving gateways would seal it.
	sealer, err := seal.Resolve(ctx, store, secrets)
	if err != nil {
		return nil, fmt.Errorf("gateway: secret: %w", err)
	}
	ca, err := embedded.Load(ctx, store, sealer, embedded.Options{})
	if err != nil {
		return nil, fmt.Errorf("gateway: certificate authority: %w", err)
	}
	return ca.Rotate(ctx)
}
