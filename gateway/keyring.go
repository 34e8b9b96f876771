package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
)

// Bounds of a keyring reload.
const (
	// reloadBackoff is how long a keyring waits after a failed reload
	// before it tries again.
	reloadBackoff = time.Second
	// reloadTimeout bounds reading the key registry during a reload.
	reloadTimeout = 5 * time.Second
)

// keyring is the gateway's mosaic.Sealer: the seal.Sealer of the
// configured secrets under the versions the key registry gives them. It
// seals with the current secret and opens values under the current and the
// previous one.
//
// When the secret files in the data directory change, as
// "mosaic gateway rotate-secret --generate" changes them beside a running
// gateway, the keyring loads the secrets again before it next seals or
// meets a value under a version it does not hold, so that the rotation
// needs no restart. Secrets from the environment cannot change under a
// running process: a value under a version they do not cover is a 503
// "seal_key_unavailable" until the gateway is restarted with that secret.
//
// TODO(seal-rotation): during a rolling restart onto a new secret, a
// replica not yet restarted cannot open what an updated replica sealed
// under the new version. Sealing with a new version only once the registry
// records that every replica holds it would close that window; today the
// README asks operators to finish the rolling restart before adding peers.
type keyring struct {
	cfg   Config
	store mosaic.SealedStore
	log   *slog.Logger
	cur   atomic.Pointer[loadedKeys]

	mu       sync.Mutex // held while reloading
	failedAt time.Time  // of the last reload that failed
}

var _ mosaic.Sealer = (*keyring)(nil)

// loadedKeys is one load of the secrets: the sealer and the state of the
// secret files it was read from.
type loadedKeys struct {
	sealer  *seal.Sealer
	secrets string // where the secrets came from, for logs
	stamp   string // secretStamp when they were read
}

// newKeyring resolves secrets, read when the secret files were at stamp,
// against the key registry of store.
func newKeyring(ctx context.Context, cfg Config, store mosaic.SealedStore,
	secrets seal.Secrets, stamp string) (*keyring, error) {
	k := &keyring{cfg: cfg, store: store, log: cfg.Logger}
	sealer, err := seal.Resolve(ctx, store, secrets)
	if err != nil {
		return nil, err
	}
	k.cur.Store(&loadedKeys{sealer: sealer, secrets: secrets.String(), stamp: stamp})
	k.log.Info("sealing keys ready", slog.String("secrets", secrets.String()),
		slog.Any("key_versions", sealer.Versions()),
		slog.Uint64("sealing_version", uint64(sealer.Current())))
	return k, nil
}

// Seal seals with the current secret, first picking up changed secret
// files.
func (k *keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	return k.sealer().Seal(plaintext, aad)
}

// Open opens a value under any version the keyring holds. A value under
// another version makes it pick up changed secret files and try again;
// failing that it is KindUnavailable "seal_key_unavailable".
func (k *keyring) Open(sealed, aad []byte) ([]byte, error) {
	l := k.cur.Load()
	plaintext, err := l.sealer.Open(sealed, aad)
	if err == nil {
		return plaintext, nil
	}
	version, verr := seal.KeyVersion(sealed)
	if verr != nil || l.sealer.Holds(version) {
		return nil, err
	}
	if l = k.reload(); l.sealer.Holds(version) {
		return l.sealer.Open(sealed, aad)
	}
	return nil, mosaic.WrapError(mosaic.KindUnavailable, "seal_key_unavailable",
		fmt.Sprintf("a value is sealed under key version %d, whose secret this gateway "+
			"was not given; give it that secret as %s or %s and restart it", version,
			seal.EnvSecret, seal.EnvSecretPrevious), err)
}

// sealer returns the sealer to use now, first picking up changed secret
// files.
func (k *keyring) sealer() *seal.Sealer {
	l := k.cur.Load()
	if secretStamp(k.cfg.DataDir) != l.stamp {
		l = k.reload()
	}
	return l.sealer
}

// reload reads the secrets again if their files changed since the last
// load, and returns what is in use afterwards. A reload that fails keeps
// the keys in use, is logged, and is not tried again for reloadBackoff.
func (k *keyring) reload() *loadedKeys {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.cur.Load()
	stamp := secretStamp(k.cfg.DataDir)
	if stamp == l.stamp || time.Since(k.failedAt) < reloadBackoff {
		return l
	}

	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	secrets, err := readSecrets(k.cfg)
	var sealer *seal.Sealer
	if err == nil {
		sealer, err = seal.Resolve(ctx, k.store, secrets)
	}
	if err != nil {
		k.failedAt = time.Now()
		k.log.Warn("sealing secrets changed but could not be loaded; keeping those in use",
			slog.Any("error", err))
		return l
	}
	next := &loadedKeys{sealer: sealer, secrets: secrets.String(), stamp: stamp}
	k.cur.Store(next)
	k.log.Info("sealing secrets reloaded", slog.String("secrets", secrets.String()),
		slog.Any("key_versions", sealer.Versions()),
		slog.Uint64("sealing_version", uint64(sealer.Current())))
	return next
}

// readSecrets reads the configured secrets without generating one: the
// current secret from the environment or the data directory, and the
// previous one of a rotation if it is given.
func readSecrets(cfg Config) (seal.Secrets, error) {
	var s seal.Secrets
	var err error
	if s.Current, s.CurrentSource, err = seal.ReadSecret(cfg.Env, cfg.DataDir); err != nil {
		return s, err
	}
	s.Previous, s.PreviousSource, err = seal.ReadPreviousSecret(cfg.Env, cfg.DataDir)
	return s, err
}

// secretStamp identifies the state of the secret files of a data
// directory: it changes when either file is replaced, written or removed.
func secretStamp(dataDir string) string {
	var b strings.Builder
	for _, name := range []string{seal.SecretFileName, seal.PreviousSecretFileName} {
		st, err := os.Stat(filepath.Join(dataDir, name))
		if err != nil {
			b.WriteString("-;")
			continue
		}
		var ino uint64
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			ino = sys.Ino
		}
		fmt.Fprintf(&b, "%d:%d:%d;", ino, st.Size(), st.ModTime().UnixNano())
	}
	return b.String()
}
