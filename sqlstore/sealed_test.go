package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

func TestSealedStore(t *testing.T) {
	storetest.RunSealed(t, func(t *testing.T) storetest.SealedTestStore {
		return openSQLite(t, filepath.Join(t.TempDir(), "mosaic.db"))
	})
}

func TestPostgresSealedStore(t *testing.T) {
	storetest.RunSealed(t, func(t *testing.T) storetest.SealedTestStore {
		return openPostgres(t, storetest.PostgresURL(t))
	})
}
