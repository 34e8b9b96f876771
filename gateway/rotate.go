package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

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
	if cfg.DatabaseURL == "" {
		_, err := os.Stat(dbPath(cfg.DataDir))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("gateway: no database in %s; run mosaic gateway init first",
				cfg.DataDir)
		}
		if err != nil {
			return nil, fmt.Errorf("gateway: database file: %w", err)
		}
	}
	if !secretConfigured(cfg) {
		return nil, fmt.Errorf("gateway: no secret: set %s as the gateway has it, "+
			"or give the data directory that holds it", seal.EnvSecret)
	}
	secret, _, err := seal.LoadSecret(cfg.Env, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("gateway: secret: %w", err)
	}
	sealer, err := seal.New(secret)
	if err != nil {
		return nil, fmt.Errorf("gateway: secret: %w", err)
	}

	store, _, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway: database: %w", err)
	}
	defer store.Close()
	if _, err := store.GetKey(ctx, embedded.KeyRoot); mosaic.IsKind(err, mosaic.KindNotFound) {
		return nil, errors.New("gateway: the database holds no CA; run mosaic gateway init first")
	} else if err != nil {
		return nil, fmt.Errorf("gateway: database: %w", err)
	}
	ca, err := embedded.Load(ctx, store, sealer, embedded.Options{})
	if err != nil {
		return nil, fmt.Errorf("gateway: certificate authority: %w", err)
	}
	return ca.Rotate(ctx)
}
