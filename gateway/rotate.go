package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// rotateLockFile is the file in the data directory that rotations of it
// lock, so that two never run at once (the gateway's own lock stays free:
// a rotation runs beside a serving gateway).
const rotateLockFile = "rotate.lock"

// RotateOptions say how RotateSecret runs. The zero value re-seals with
// the configured secrets and the default batches.
type RotateOptions struct {
	// Generate first replaces the secret file of the data directory with a
	// new random secret, keeping the old one as secret.previous, for a
	// gateway whose secret lives there. It refuses while values remain
	// under an older version than the current one, and when the secret
	// comes from the environment.
	Generate bool
	// BatchSize and BatchDelay are those of seal.RotateOptions.
	BatchSize  int
	BatchDelay time.Duration
}

// RotateResult is what RotateSecret did.
type RotateResult struct {
	*seal.RotateReport
	// SecretFile is where Generate wrote the new secret; empty without it.
	SecretFile string `json:"secretFile,omitempty"`
}

// RotateSecret re-seals every sealed value of the gateway's database under
// the current secret (see seal.Rotate), opening older values with the
// previous secret (MOSAIC_SECRET_PREVIOUS or <data-dir>/secret.previous).
// It runs beside serving gateways on the same database; they keep opening
// values under either version throughout. A current secret the database
// has not seen is registered as the next key version, provided the
// previous secret is the newest one registered.
//
// With Generate, the new secret is first written to the data directory,
// durably, before any value is re-sealed under it. A run that stops half
// way is finished by running RotateSecret again, without Generate.
func RotateSecret(ctx context.Context, cfg Config, opts RotateOptions) (*RotateResult, error) {
	cfg = cfg.withDefaults()
	if opts.Generate {
		if err := checkGenerate(cfg); err != nil {
			return nil, err
		}
	}
	secrets, err := readSecrets(cfg)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("gateway: no sealing secret: set %s or keep it in %s",
			seal.EnvSecret, filepath.Join(cfg.DataDir, seal.SecretFileName))
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: secret: %w", err)
	}
	db, err := openExistingStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	// Two rotations of one data directory's files or database never run
	// at once; replicas on PostgreSQL need no lock.
	if opts.Generate || cfg.DatabaseURL == "" {
		lock, err := lockRotation(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		defer lock.Close()
	}

	sealer, err := seal.Resolve(ctx, db, secrets)
	if err != nil {
		return nil, fmt.Errorf("gateway: secret: %w", err)
	}
	res := &RotateResult{}
	if opts.Generate {
		if sealer, res.SecretFile, err = generateSecret(ctx, cfg, db, sealer); err != nil {
			return nil, err
		}
	}
	res.RotateReport, err = seal.Rotate(ctx, db, sealer, seal.RotateOptions{
		BatchSize: opts.BatchSize, BatchDelay: opts.BatchDelay, Logger: cfg.Logger})
	if err != nil {
		return res, fmt.Errorf("gateway: rotate: %w", err)
	}
	return res, nil
}

// checkGenerate refuses Generate when the secrets come from the
// environment: the new secret must then be given there.
func checkGenerate(cfg Config) error {
	for _, name := range []string{seal.EnvSecret, seal.EnvSecretAlias, seal.EnvSecretPrevious} {
		if cfg.Env(name) != "" {
			return fmt.Errorf("gateway: --generate replaces %s, but %s is set: give the new "+
				"secret as %s and the old one as %s instead",
				filepath.Join(cfg.DataDir, seal.SecretFileName), name, seal.EnvSecret,
				seal.EnvSecretPrevious)
		}
	}
	return nil
}

// generateSecret writes a new secret into the data directory, the old one
// kept as the previous, once every value is under the current version, and
// returns the sealer of the new pair and where the new secret is.
func generateSecret(ctx context.Context, cfg Config, db *sqlstore.DB,
	sealer *seal.Sealer) (*seal.Sealer, string, error) {
	counts, err := seal.CountVersions(ctx, db)
	if err != nil {
		return nil, "", fmt.Errorf("gateway: rotate: %w", err)
	}
	for _, c := range counts {
		if c.Version != sealer.Current() {
			return nil, "", fmt.Errorf("gateway: %d sealed values in %s are still under key "+
				"version %d, not the current %d: finish that rotation first with "+
				"mosaic gateway rotate-secret, without --generate", c.Count, c.Table,
				c.Version, sealer.Current())
		}
	}

	path, err := seal.RotateSecretFile(cfg.DataDir)
	if err != nil {
		return nil, "", fmt.Errorf("gateway: new secret: %w", err)
	}
	cfg.Logger.Info("new sealing secret written; the old one kept as the previous",
		slog.String("secret_file", path))
	secrets, err := readSecrets(cfg)
	if err == nil {
		sealer, err = seal.Resolve(ctx, db, secrets)
	}
	if err != nil {
		return nil, "", fmt.Errorf("gateway: new secret written to %s, but: %w; run "+
			"mosaic gateway rotate-secret again, without --generate", path, err)
	}
	return sealer, path, nil
}

// openExistingStore opens the gateway's database for a rotation. A data
// directory without a SQLite database, or a database that holds no gateway
// schema (a mistyped --db, say), is an error rather than a new, empty
// database: nothing is created in it.
func openExistingStore(ctx context.Context, cfg Config) (*sqlstore.DB, error) {
	if err := checkExistingStore(ctx, cfg); err != nil {
		return nil, err
	}
	db, _, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway: database: %w", err)
	}
	return db, nil
}

// checkExistingStore makes sure the configured database holds a gateway
// schema, without creating or changing anything. The PostgreSQL URL is
// never repeated: it may hold a password.
func checkExistingStore(ctx context.Context, cfg Config) error {
	var v int64
	var err error
	where := dbPath(cfg.DataDir)
	if cfg.DatabaseURL == "" {
		if _, statErr := os.Stat(where); statErr != nil {
			return fmt.Errorf("gateway: no database at %s; has the gateway run there?", where)
		}
		v, err = sqlstore.ProbeSQLite(ctx, where)
	} else {
		where = "the --db URL"
		if !strings.HasPrefix(cfg.DatabaseURL, "postgres://") &&
			!strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
			return errors.New("gateway: database URL: want postgres://…")
		}
		v, err = sqlstore.ProbePostgres(ctx, cfg.DatabaseURL)
	}
	if err != nil {
		return fmt.Errorf("gateway: database: %w", err)
	}
	if v == 0 {
		return fmt.Errorf("gateway: no gateway database at %s: it holds no schema; check "+
			"where it points, or start the gateway there first", where)
	}
	return nil
}

// lockRotation takes the rotation lock of a data directory, or fails at
// once if another rotation holds it.
func lockRotation(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, rotateLockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("gateway: rotation lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("gateway: another rotate-secret is running on %s", dir)
	}
	return f, nil
}
