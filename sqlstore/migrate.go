package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// migrationFiles holds the schema of every dialect, one directory each.
//
//go:embed migrations
var migrationFiles embed.FS

// newMigrations returns the goose provider for the dialect's migrations.
func newMigrations(pool *sql.DB, d *dialect) (*goose.Provider, error) {
	dir, err := fs.Sub(migrationFiles, "migrations/"+d.migrations)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations for %s: %w", d.migrations, err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if d.migrationLock != nil {
		opts = append(opts, goose.WithSessionLocker(d.migrationLock))
	}
	p, err := goose.NewProvider(d.goose, pool, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations for %s: %w", d.migrations, err)
	}
	return p, nil
}

// migrate applies the pending migrations. It refuses, before applying
// anything, a database whose schema is newer than the newest embedded
// migration: this build would not know what the extra columns mean.
//
// On a dialect with a migration lock (PostgreSQL: a session-level advisory
// lock), reading the version and applying migrations each run under it,
// so replicas that start at once on an empty database create the version
// table and apply each migration exactly once; the others wait, then find
// nothing to do.
//
// TODO(migrations): SQLite runs goose without a lock. Two processes that
// open the same new SQLite file at the same moment can both try migration
// 1; the loser's transaction fails and its open returns an error, with
// nothing half-applied.
func migrate(ctx context.Context, p *goose.Provider) error {
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	sources := p.ListSources()
	known := sources[len(sources)-1].Version
	if current > known {
		return fmt.Errorf("%w: database is at version %d, this build knows up to %d",
			ErrSchemaTooNew, current, known)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}
