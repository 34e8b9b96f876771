package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// keyringEnv is a data directory with a SQLite store and a keyring over
// the secrets the environment env gives.
type keyringEnv struct {
	cfg   Config
	store *sqlstore.DB
	keys  *keyring
}

// newKeyringEnv opens a store in a new data directory and a keyring over
// the secrets of env (the data directory's files when env has none).
func newKeyringEnv(t *testing.T, env map[string]string) *keyringEnv {
	t.Helper()
	cfg := Config{DataDir: t.TempDir(), Env: func(k string) string { return env[k] },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	store, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(cfg.DataDir, "mosaic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	stamp := secretStamp(cfg.DataDir)
	if _, _, err := seal.LoadSecret(cfg.Env, cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	secrets, err := readSecrets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := newKeyring(t.Context(), cfg, store, secrets, stamp)
	if err != nil {
		t.Fatal(err)
	}
	return &keyringEnv{cfg: cfg, store: store, keys: keys}
}

// credential stores a credential whose secret is sealed by the keyring and
// returns its id.
func (e *keyringEnv) credential(t *testing.T, owner, secret string) string {
	t.Helper()
	c := &mosaic.Credential{ID: mosaic.NewID(), UserID: owner, Name: "c", Kind: "password"}
	ref := mosaic.SealedRef{Table: mosaic.SealedCredentials, ID: c.ID}
	sealed, err := e.keys.Seal([]byte(secret), ref.AAD())
	if err != nil {
		t.Fatal(err)
	}
	c.SealedSecret = sealed
	if err := e.store.CreateCredential(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// owner stores a user to own credentials.
func (e *keyringEnv) owner(t *testing.T) string {
	t.Helper()
	u := &mosaic.User{Name: "Owner", Email: mosaic.NewID() + "@example.test"}
	if err := e.store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestKeyringFollowsRotatedFiles rotates the secret files of a data
// directory while goroutines seal and open values through the keyring,
// then re-seals everything: no call fails, and the keyring ends sealing
// with the new version without being told.
func TestKeyringFollowsRotatedFiles(t *testing.T) {
	e := newKeyringEnv(t, nil)
	owner := e.owner(t)
	secrets := map[string]string{}
	for i := range 20 {
		secret := fmt.Sprintf("secret %d", i)
		secrets[e.credential(t, owner, secret)] = secret
	}

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				for id, want := range secrets {
					if err := openCredential(e, id, want); err != nil {
						errs <- err
						return
					}
				}
				ref := mosaic.SealedRef{Table: mosaic.SealedCredentials, ID: "new"}
				if _, err := e.keys.Seal([]byte("x"), ref.AAD()); err != nil {
					errs <- err
					return
				}
			}
		})
	}

	res, err := RotateSecret(t.Context(), e.cfg, RotateOptions{Generate: true, BatchSize: 3})
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a call through the keyring failed during the rotation: %v", err)
	}
	if err != nil || !res.Done() || res.Resealed != len(secrets) {
		t.Fatalf("RotateSecret = %+v, %v; want all %d re-sealed", res, err, len(secrets))
	}
	if v := e.keys.sealer().Current(); v != 2 {
		t.Errorf("the keyring seals with version %d after the rotation, want 2", v)
	}
	for id, want := range secrets {
		if err := openCredential(e, id, want); err != nil {
			t.Error(err)
		}
	}
}

// openCredential opens a stored credential through the keyring and checks
// its secret.
func openCredential(e *keyringEnv, id, want string) error {
	ref := mosaic.SealedRef{Table: mosaic.SealedCredentials, ID: id}
	sealed, err := e.store.GetSealed(context.Background(), ref)
	if err != nil {
		return err
	}
	got, err := e.keys.Open(sealed, ref.AAD())
	if err != nil {
		return fmt.Errorf("open %s: %w", ref, err)
	}
	if string(got) != want {
		return fmt.Errorf("%s opens to %q, want %q", ref, got, want)
	}
	return nil
}

// TestKeyringMissingVersion opens a value sealed under a version whose
// secret the keyring was not given (secrets from the environment): the
// error is a 503 seal_key_unavailable naming the version and no secret.
func TestKeyringMissingVersion(t *testing.T) {
	one := strings.Repeat("1", 40)
	two := strings.Repeat("2", 40)
	e := newKeyringEnv(t, map[string]string{seal.EnvSecret: one})
	newer, err := seal.NewWithVersions(2, map[uint32][]byte{2: []byte(two)})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := newer.Seal([]byte("peer key"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.keys.Open(sealed, []byte("aad"))
	if got != nil || mosaic.ErrorKind(err) != mosaic.KindUnavailable ||
		mosaic.ErrorCode(err) != "seal_key_unavailable" {
		t.Fatalf("Open = %q, %v; want 503 seal_key_unavailable", got, err)
	}
	msg := mosaic.ErrorMessage(err)
	if !strings.Contains(msg, "version 2") || strings.Contains(err.Error(), one) ||
		strings.Contains(err.Error(), two) {
		t.Errorf("error %q: want version 2 named and no secret", err)
	}

	// A value under a version it holds but altered is the usual error.
	mine, err := e.keys.Seal([]byte("peer key"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	mine[len(mine)-1] ^= 1
	if _, err := e.keys.Open(mine, []byte("aad")); mosaic.ErrorCode(err) != "unseal_failed" {
		t.Errorf("Open of an altered value: %v, want unseal_failed", err)
	}
}
