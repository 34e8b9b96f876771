package sqlstore_test

import (
	"testing"

	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

func TestPageCache(t *testing.T) { storetest.RunPageCache(t, sqliteChainEnv) }

func TestPostgresPageCache(t *testing.T) {
	storetest.RunPageCache(t, func(t *testing.T) *storetest.ChainEnv {
		return postgresChainEnv(t, storetest.PostgresURL(t))
	})
}
