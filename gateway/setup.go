package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/ca/stepca"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// AdminFile is the name of the file in the data directory that tells the CLI
// where the admin API is and how to authenticate.
const AdminFile = "admin.json"

// adminTokenSetting names the setting holding the admin token's SHA-256.
const adminTokenSetting = "admin_token_sha256"

// AdminInfo is the content of admin.json.
type AdminInfo struct {
	AdminURL   string `json:"adminUrl"`
	AdminToken string `json:"adminToken"`
	// PublicURL is the federation API's public base URL, for information.
	PublicURL string `json:"publicUrl,omitempty"`
}

// gw is an opened gateway: every part ready, nothing listening yet.
type gw struct {
	cfg        Config
	log        *slog.Logger
	publicURL  string
	lock       *os.File
	store      mosaic.Store
	db         *sqlstore.DB
	sealer     mosaic.Sealer
	keys       *keyring
	seals      *sealCheck
	ca         *embedded.CA
	step       *stepca.CA
	signer     mosaic.CA
	serverCert atomic.Pointer[tls.Certificate]
	svc        *federation.Service
	adminHash  string
}

// open prepares the data directory and every part of the gateway. On error
// everything opened so far is closed.
func open(ctx context.Context, cfg Config, publicURL string) (*gw, error) {
	g := &gw{cfg: cfg, log: cfg.Logger, publicURL: publicURL}
	if err := g.openParts(ctx); err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

// openParts opens the parts in dependency order, keeping each in g as it
// goes so that close can release them.
func (g *gw) openParts(ctx context.Context) error {
	cfg := g.cfg
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	g.lock = lock

	// A configured secret is checked before anything is created; one is
	// generated only after the database shows no sealed keys exist.
	haveSecret := secretConfigured(cfg)
	stamp := secretStamp(cfg.DataDir)
	var secrets seal.Secrets
	if haveSecret {
		if secrets, err = g.loadSecrets(); err != nil {
			return err
		}
	}
	store, kind, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("gateway: database: %w", err)
	}
	g.store, g.db = store, store
	g.log.Info("database opened", slog.String("store", kind))
	if !haveSecret {
		if err := refuseNewSecretOverSealedKeys(ctx, cfg, store); err != nil {
			return err
		}
		if secrets, err = g.loadSecrets(); err != nil {
			return err
		}
	}
	// The key registry says which version each secret is.
	if g.keys, err = newKeyring(ctx, cfg, store, secrets, stamp); err != nil {
		return fmt.Errorf("gateway: secret: %w", err)
	}
	g.sealer = g.keys

	// The embedded CA signs peer certificates and our TLS certificate.
	g.ca, err = embedded.Load(ctx, g.store, g.sealer, embedded.Options{
		DefaultLifetime: cfg.CertLifetime,
	})
	if err != nil {
		return fmt.Errorf("gateway: certificate authority: %w", err)
	}
	if err := g.loadServerCert(ctx); err != nil {
		return err
	}

	if g.signer, err = g.peerCA(); err != nil {
		return err
	}

	g.svc = federation.New(federation.Config{
		Store:        g.store,
		CA:           g.signer,
		Sealer:       g.sealer,
		Logger:       g.log,
		PublicURL:    g.publicURL,
		CAPin:        g.ca.Pin(),
		CAPEM:        pemOf(g.ca),
		CertLifetime: cfg.CertLifetime,
		RenewOverlap: cfg.RenewOverlap,
	})
	g.seals = newSealCheck(ctx, g.keys)
	return nil
}

// peerCA returns the CA that signs peer certificates: the embedded one, or
// a Step-CA configured through the environment.
func (g *gw) peerCA() (mosaic.CA, error) {
	switch g.cfg.CA {
	case "", CAEmbedded:
		return g.ca, nil
	case CAStep:
		cfg, err := stepca.ConfigFromEnv(g.cfg.Env)
		if err != nil {
			return nil, fmt.Errorf("gateway: step-ca: %w", err)
		}
		if g.step, err = stepca.New(cfg); err != nil {
			return nil, fmt.Errorf("gateway: step-ca: %w", err)
		}
		g.log.Info("peer certificates signed by step-ca",
			slog.String("url", g.step.URL()), slog.String("provisioner", g.step.Provisioner()))
		return g.step, nil
	}
	return nil, fmt.Errorf("gateway: CA %q: want %s or %s", g.cfg.CA, CAEmbedded, CAStep)
}

// loadSecrets reads or generates the sealing secret, reads the previous
// secret of a rotation if one is given, and logs where they came from
// (never their values).
func (g *gw) loadSecrets() (seal.Secrets, error) {
	var s seal.Secrets
	var err error
	s.Current, s.CurrentSource, err = seal.LoadSecret(g.cfg.Env, g.cfg.DataDir)
	if err != nil {
		return s, fmt.Errorf("gateway: secret: %w", err)
	}
	g.log.Info("sealing secret loaded", slog.String("source", s.CurrentSource))
	s.Previous, s.PreviousSource, err = seal.ReadPreviousSecret(g.cfg.Env, g.cfg.DataDir)
	if err != nil {
		return s, fmt.Errorf("gateway: previous secret: %w", err)
	}
	if s.Previous != nil {
		g.log.Info("previous sealing secret loaded", slog.String("source", s.PreviousSource))
	}
	return s, nil
}

// close releases what open acquired.
func (g *gw) close() {
	if g.store != nil {
		if err := g.store.Close(); err != nil {
			g.log.Warn("closing database", slog.Any("error", err))
		}
	}
	if g.step != nil {
		g.step.Close()
	}
	if g.lock != nil {
		g.lock.Close()
	}
}

// writeAdminFile makes sure an admin token exists, its hash is stored, and
// admin.json names it with the admin URL. A token already in admin.json is
// kept while its hash matches the stored one.
func (g *gw) writeAdminFile(ctx context.Context, adminURL string) error {
	path := filepath.Join(g.cfg.DataDir, AdminFile)
	stored, err := g.store.GetSetting(ctx, adminTokenSetting)
	if err != nil && !mosaic.IsKind(err, mosaic.KindNotFound) {
		return fmt.Errorf("gateway: admin token: %w", err)
	}

	token, err := g.chooseAdminToken(path, stored)
	if err != nil {
		return err
	}
	if hashHex(token) != stored {
		if err := g.store.PutSetting(ctx, adminTokenSetting, hashHex(token)); err != nil {
			return fmt.Errorf("gateway: admin token: %w", err)
		}
		if stored != "" {
			g.log.Warn("admin token replaced; the previous one no longer works")
		}
		g.log.Info("admin token stored", slog.String("admin_file", path))
	}
	g.adminHash = hashHex(token)

	info := AdminInfo{AdminURL: adminURL, AdminToken: token, PublicURL: g.publicURL}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o600)
}

// EnvAdminToken names the environment variable that sets the admin token,
// so that several replicas of one gateway share it.
const EnvAdminToken = "MOSAIC_ADMIN_TOKEN"

// chooseAdminToken picks the admin token: the one set in the environment,
// else the one in admin.json while it matches the stored hash, else a new
// one.
func (g *gw) chooseAdminToken(path, stored string) (string, error) {
	if t := g.cfg.Env(EnvAdminToken); t != "" {
		if len(t) < 32 {
			return "", fmt.Errorf("gateway: %s: at least 32 characters", EnvAdminToken)
		}
		return t, nil
	}
	if info, err := ReadAdminFile(path); err == nil && stored != "" &&
		subtle.ConstantTimeCompare([]byte(hashHex(info.AdminToken)), []byte(stored)) == 1 {
		return info.AdminToken, nil
	}
	t, err := mosaic.NewTokenSecret(rand.Reader)
	if err != nil {
		return "", err
	}
	return t.Reveal(), nil
}

// ReadAdminFile reads an admin.json file.
func ReadAdminFile(path string) (*AdminInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var info AdminInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("gateway: %s: %w", path, err)
	}
	if info.AdminURL == "" || info.AdminToken == "" {
		return nil, errors.New("gateway: " + path + ": incomplete")
	}
	return &info, nil
}

// writeFileAtomic writes data to path through a temporary file and a rename,
// so a reader never sees a partial file, with the given mode from the start.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("gateway: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("gateway: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("gateway: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("gateway: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gateway: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("gateway: write %s: %w", path, err)
	}
	return nil
}

// hashHex returns the hex SHA-256 of s.
func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
