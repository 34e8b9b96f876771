// Package gateway assembles a running Mosaic gateway from its parts: the data
// directory, the sealing secret, the store, the embedded CA, the admin and
// federation listeners. It holds no rules of its own.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic/httpapi"
)

// Default listener addresses.
const (
	DefaultDataDir        = "./mosaic-data"
	DefaultAdminAddr      = "127.0.0.1:8480"
	DefaultFederationAddr = "127.0.0.1:8443"
)

// Certificate authority backends for Config.CA.
const (
	CAEmbedded = "embedded"
	CAStep     = "step"
)

// Config says how to run a gateway. The zero value of each field means its
// default.
type Config struct {
	// DataDir holds the SQLite database, the generated secret and
	// admin.json. Empty means DefaultDataDir.
	DataDir string
	// AdminAddr is the admin API's listen address. Empty means
	// DefaultAdminAddr; port 0 picks a free port.
	AdminAddr string
	// FederationAddr is the federation API's listen address (TLS). Empty
	// means DefaultFederationAddr; port 0 picks a free port.
	FederationAddr string
	// PublicURL is how peers reach the federation API, e.g.
	// https://b.example:8443. Empty means "https://" + the federation
	// listener's address.
	PublicURL string
	// DatabaseURL selects PostgreSQL (postgres://…). Empty means the
	// SQLite file mosaic.db in DataDir.
	DatabaseURL string
	// CA selects the certificate authority that signs peer certificates:
	// "embedded" (the default when empty) or "step" (a Step-CA configured
	// through the STEP_CA_* environment variables). The federation TLS
	// certificate and the CA pin always come from the embedded CA.
	CA string
	// CertLifetime is the lifetime of issued peer certificates. Zero means
	// the CA's default (24 hours).
	CertLifetime time.Duration
	// Logger receives structured logs. Nil means a text logger on stderr.
	Logger *slog.Logger
	// Env reads environment variables (MOSAIC_SECRET and its alias,
	// MOSAIC_ADMIN_TOKEN). Nil means os.Getenv.
	Env func(string) string
	// Ready, when set, is called once both listeners accept connections,
	// with their actual addresses.
	Ready func(admin, federation net.Addr)

	// EnrollRatePerMinute and EnrollBurst are the per-source rate limit of
	// the enrollment endpoint (httpapi.EnrollmentLimit): a burst of
	// EnrollBurst requests, then EnrollRatePerMinute a minute. When both
	// are zero, MOSAIC_ENROLL_RATE_LIMIT sets them, else the defaults
	// apply (httpapi.DefaultEnrollPerMinute, httpapi.DefaultEnrollBurst);
	// when only one is zero, that one has its default. A negative
	// EnrollRatePerMinute turns the limit off, for a gateway behind a
	// proxy that limits on its own.
	EnrollRatePerMinute int
	EnrollBurst         int
	// MaxConnections caps the connections each listener serves at once;
	// more clients wait in the kernel's accept queue until one closes.
	// Zero means DefaultMaxConnections.
	MaxConnections int
	// SweepInterval is how often grants past their expiry are marked
	// expired in the database. Zero means DefaultSweepInterval.
	SweepInterval time.Duration
	// CAReloadInterval is how often the embedded CA's signing
	// intermediate is read again, so that a rotation reaches a running
	// gateway. Zero means EnvCAReloadInterval, else
	// DefaultCAReloadInterval.
	CAReloadInterval time.Duration
	// RenewInterval is how often the gateway looks for outbound peers
	// whose certificate is due for renewal (two thirds into its life) and
	// renews them. Zero means DefaultRenewInterval.
	RenewInterval time.Duration
	// RenewOverlap is how long a peer certificate replaced by a renewal is
	// still accepted. Zero means federation.DefaultRenewOverlap.
	RenewOverlap time.Duration
}

// DefaultMaxConnections is the default cap on the connections each
// listener serves at once.
const DefaultMaxConnections = 1024

// EnvEnrollRateLimit names the environment variable that sets the
// enrollment rate limit when Config leaves it unset: "PER_MINUTE/BURST"
// such as "10/5", "PER_MINUTE" alone, or "off".
const EnvEnrollRateLimit = "MOSAIC_ENROLL_RATE_LIMIT"

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.AdminAddr == "" {
		c.AdminAddr = DefaultAdminAddr
	}
	if c.FederationAddr == "" {
		c.FederationAddr = DefaultFederationAddr
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.RenewInterval <= 0 {
		c.RenewInterval = DefaultRenewInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if c.Env == nil {
		c.Env = os.Getenv
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	return c
}

// check refuses settings that have no meaning.
func (c Config) check() error {
	switch {
	case c.MaxConnections < 0:
		return fmt.Errorf("gateway: max connections %d: must be positive", c.MaxConnections)
	case c.EnrollBurst < 0:
		return fmt.Errorf("gateway: enrollment burst %d: must be positive", c.EnrollBurst)
	case c.CertLifetime < 0:
		return fmt.Errorf("gateway: certificate lifetime %s: must be positive", c.CertLifetime)
	case c.RenewOverlap < 0:
		return fmt.Errorf("gateway: renewal overlap %s: must be positive", c.RenewOverlap)
	}
	// Bad settings are refused before anything is created.
	if _, err := c.caReloadInterval(); err != nil {
		return err
	}
	_, err := c.enrollLimit()
	return err
}

// enrollLimit returns the enrollment rate limit: the one configured, else
// the one of EnvEnrollRateLimit, else the defaults.
func (c Config) enrollLimit() (httpapi.EnrollmentLimit, error) {
	l := httpapi.EnrollmentLimit{PerMinute: c.EnrollRatePerMinute, Burst: c.EnrollBurst}
	v := strings.TrimSpace(c.Env(EnvEnrollRateLimit))
	if l.PerMinute != 0 || l.Burst != 0 || v == "" {
		return l, nil
	}
	if strings.EqualFold(v, "off") {
		return httpapi.EnrollmentLimit{PerMinute: -1}, nil
	}
	bad := fmt.Errorf("gateway: %s %q: want PER_MINUTE/BURST, PER_MINUTE or off",
		EnvEnrollRateLimit, v)
	rate, burst, hasBurst := strings.Cut(v, "/")
	var err error
	if l.PerMinute, err = strconv.Atoi(rate); err != nil || l.PerMinute < 1 {
		return l, bad
	}
	if hasBurst {
		if l.Burst, err = strconv.Atoi(burst); err != nil || l.Burst < 1 {
			return l, bad
		}
	}
	return l, nil
}

// Init prepares the data directory as the first start would (database,
// secret, CA, TLS certificate, admin token and admin.json) and returns.
func Init(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return err
	}
	publicURL, err := resolvePublicURL(cfg.PublicURL, cfg.FederationAddr)
	if err != nil {
		return err
	}
	g, err := open(ctx, cfg, publicURL)
	if err != nil {
		return err
	}
	defer g.close()
	return g.writeAdminFile(ctx, "http://"+cfg.AdminAddr)
}

// Run starts the gateway and serves until ctx is cancelled, then shuts both
// listeners down gracefully.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if err := cfg.check(); err != nil {
		return err
	}

	// Listen first, so that port 0 resolves before the public URL and
	// admin.json are written.
	adminLn, err := listen(cfg.AdminAddr, cfg.MaxConnections)
	if err != nil {
		return fmt.Errorf("gateway: admin listener: %w", err)
	}
	defer adminLn.Close()
	fedLn, err := listen(cfg.FederationAddr, cfg.MaxConnections)
	if err != nil {
		return fmt.Errorf("gateway: federation listener: %w", err)
	}
	defer fedLn.Close()

	publicURL, err := resolvePublicURL(cfg.PublicURL, fedLn.Addr().String())
	if err != nil {
		return err
	}
	g, err := open(ctx, cfg, publicURL)
	if err != nil {
		return err
	}
	defer g.close()
	if err := g.writeAdminFile(ctx, "http://"+adminLn.Addr().String()); err != nil {
		return err
	}

	admin, fed, err := g.servers()
	if err != nil {
		return err
	}
	stopSweep := g.startSweeper(ctx, cfg.SweepInterval)
	defer stopSweep()
	reload, _ := cfg.caReloadInterval() // checked above
	stopReload := g.startCAReloader(ctx, reload)
	defer stopReload()
	stopRenew := g.startRenewer(ctx, cfg.RenewInterval)
	defer stopRenew()
	errc := make(chan error, 2)
	go func() { errc <- serve(admin, adminLn, false) }()
	go func() { errc <- serve(fed, httpapi.CorkListener(fedLn), true) }()
	log.Info("gateway started",
		slog.String("admin_addr", adminLn.Addr().String()),
		slog.String("federation_addr", fedLn.Addr().String()),
		slog.String("public_url", publicURL),
		slog.String("data_dir", cfg.DataDir),
		slog.String("ca_pin", g.ca.Pin()))
	if cfg.Ready != nil {
		cfg.Ready(adminLn.Addr(), fedLn.Addr())
	}

	// Wait for a stop signal or a listener failure, then drain.
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = admin.Shutdown(shutCtx)
	_ = fed.Shutdown(shutCtx)
	log.Info("gateway stopped")
	return runErr
}

// serve runs srv on ln until it is shut down.
func serve(srv *http.Server, ln net.Listener, tls bool) error {
	var err error
	if tls {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("gateway: serve %s: %w", ln.Addr(), err)
}

// resolvePublicURL checks an operator-given public URL or derives one from
// the federation address.
func resolvePublicURL(given, fedAddr string) (string, error) {
	if given == "" {
		return "https://" + fedAddr, nil
	}
	u, err := url.Parse(given)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("gateway: public URL %q: want https://host[:port]", given)
	}
	return "https://" + u.Host, nil
}

// dbPath is where the SQLite database lives in a data directory.
func dbPath(dataDir string) string { return filepath.Join(dataDir, "mosaic.db") }
