package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

func TestPageCache(t *testing.T) {
	storetest.RunPageCache(t, func(t *testing.T) *storetest.ChainEnv {
		path := filepath.Join(t.TempDir(), "mosaic.db")
		return &storetest.ChainEnv{
			Store: openSQLite(t, path),
			Open:  func(t *testing.T) storetest.ChainStore { return openSQLite(t, path) },
			Exec:  execOn(rawDB(t, path), false),
		}
	})
}

func TestPostgresPageCache(t *testing.T) {
	storetest.RunPageCache(t, func(t *testing.T) *storetest.ChainEnv {
		dbURL := storetest.PostgresURL(t)
		return &storetest.ChainEnv{
			Store: openPostgres(t, dbURL),
			Open:  func(t *testing.T) storetest.ChainStore { return openPostgres(t, dbURL) },
			Exec:  execOn(rawPostgres(t, dbURL), true),
		}
	})
}
