package sqlstore_test

import (
	"testing"

	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

func TestAccessCache(t *testing.T) { storetest.RunAccessCache(t, sqliteChainEnv) }

func TestPostgresAccessCache(t *testing.T) {
	storetest.RunAccessCache(t, func(t *testing.T) *storetest.ChainEnv {
		return postgresChainEnv(t, storetest.PostgresURL(t))
	})
}
