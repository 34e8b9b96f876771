package seal_test

import (
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// TestResolveRefusesSwappedSecrets registers two versions, then gives the
// secrets the wrong way round: the older as current, the newer as
// previous. Resolve refuses, naming both variables and neither secret,
// and leaves the registry as it was; the right way round still works.
func TestResolveRefusesSwappedSecrets(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		resolve(t, db, secrets(secretOne, nil))
		resolve(t, db, secrets(secretTwo, secretOne))
		before, err := db.GetSetting(t.Context(), seal.RegistrySetting)
		if err != nil {
			t.Fatal(err)
		}

		_, err = seal.Resolve(t.Context(), db, secrets(secretOne, secretTwo))
		if err == nil {
			t.Fatal("Resolve accepted swapped secrets")
		}
		msg := err.Error()
		if !strings.Contains(msg, "swapped") || !strings.Contains(msg, seal.EnvSecretPrevious) ||
			strings.Contains(msg, string(secretOne)) || strings.Contains(msg, string(secretTwo)) {
			t.Errorf("error %q", msg)
		}
		if after, _ := db.GetSetting(t.Context(), seal.RegistrySetting); after != before {
			t.Errorf("registry changed from %s to %s", before, after)
		}
		wantVersions(t, resolve(t, db, secrets(secretTwo, secretOne)), 2, 1, 2)
		wantVersions(t, resolve(t, db, secrets(secretOne, nil)), 1, 1)
	})
}
