package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/gateway"
)

// Environment variables of the gateway commands.
const (
	envAdminAddr      = "MOSAIC_ADMIN_ADDR"
	envFederationAddr = "MOSAIC_FEDERATION_ADDR"
	envPublicURL      = "MOSAIC_PUBLIC_URL"
	envLogLevel       = "MOSAIC_LOG_LEVEL"
	envDatabaseURL    = "MOSAIC_DATABASE_URL"
	envCA             = "MOSAIC_CA"
	envCertLifetime   = "MOSAIC_CERT_LIFETIME"
	envRenewInterval  = "MOSAIC_RENEW_INTERVAL"
	envRenewOverlap   = "MOSAIC_RENEW_OVERLAP"
	envSweepInterval  = "MOSAIC_SWEEP_INTERVAL"
)

// gatewayCmd is "mosaic gateway": run or prepare a gateway.
func (a *app) gatewayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run or prepare a gateway",
	}
	pf := cmd.PersistentFlags()
	pf.String("admin-addr", gateway.DefaultAdminAddr,
		"admin API listen address (env "+envAdminAddr+")")
	pf.String("federation-addr", gateway.DefaultFederationAddr,
		"federation API listen address, TLS (env "+envFederationAddr+")")
	pf.String("public-url", "",
		"how peers reach the federation API (env "+envPublicURL+
			`; default "https://" + the federation address)`)
	pf.String("log-level", "info", "debug, info, warn or error (env "+envLogLevel+")")
	pf.String("db", "", "PostgreSQL URL, postgres://… (env "+envDatabaseURL+
		"; default the SQLite file in the data directory)")
	pf.String("ca", gateway.CAEmbedded, "CA signing peer certificates: embedded or step "+
		"(env "+envCA+"; step reads STEP_CA_URL, STEP_CA_PROVISIONER_KEY_JSON or _FILE, "+
		"STEP_CA_ROOT_CERT_PATH, STEP_CA_PROVISIONER)")
	pf.String("cert-lifetime", "24h", "lifetime of the client certificates issued to peers "+
		"(env "+envCertLifetime+")")
	pf.String("renew-interval", "1m", "how often to renew outbound certificates that are due "+
		"(two thirds into their life) (env "+envRenewInterval+")")
	pf.String("renew-overlap", "10m", "how long a peer certificate replaced by a renewal "+
		"stays accepted (env "+envRenewOverlap+")")
	pf.String("sweep-interval", gateway.DefaultSweepInterval.String(), "how often to mark "+
		"grants past their expiry as expired in the database (env "+envSweepInterval+")")

	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.gatewayConfig(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return gateway.Run(ctx, cfg)
		},
	}
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Prepare the data directory (database, secret, CA, admin token) and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.gatewayConfig(cmd)
			if err != nil {
				return err
			}
			if err := gateway.Init(cmd.Context(), cfg); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "gateway initialised in %s; admin connection in %s\n",
				cfg.DataDir, filepath.Join(cfg.DataDir, gateway.AdminFile))
			return nil
		},
	}
	cmd.AddCommand(serve, initCmd, a.doctorCmd(), a.rotateSecretCmd(), a.rotateCACmd())
	return cmd
}

// doctorCmd is "mosaic gateway doctor": check a running gateway.
func (a *app) doctorCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a running gateway: secret, listeners, database, schema, CA and TLS",
		Long: "Check a running gateway from outside. Each check is ok, warn or fail with a\n" +
			"reason; the command exits non-zero when any check fails. It reads admin.json\n" +
			"in the data directory for the addresses and changes nothing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.gatewayConfig(cmd)
			if err != nil {
				return err
			}
			checks := gateway.Doctor(cmd.Context(), cfg)
			if err := a.printChecks(checks, asJSON); err != nil {
				return err
			}
			if checks.Failed() {
				return errors.New("doctor: some checks failed")
			}
			return nil
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printChecks writes health checks as a table or JSON.
func (a *app) printChecks(checks mosaic.Checks, asJSON bool) error {
	if asJSON {
		status := "ok"
		if checks.Failed() {
			status = "fail"
		}
		data, err := json.Marshal(map[string]any{"status": status, "checks": checks})
		if err != nil {
			return err
		}
		return printJSON(a.stdout, data)
	}
	t := newTable(a.stdout, "CHECK", "STATUS", "REASON")
	for _, c := range checks {
		t.row(c.Name, string(c.Status), c.Reason)
	}
	return t.flush()
}

// gatewayConfig builds the gateway configuration from the flags, then the
// environment, then the defaults.
func (a *app) gatewayConfig(cmd *cobra.Command) (gateway.Config, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.setting(cmd, "log-level", envLogLevel))); err != nil {
		return gateway.Config{}, fmt.Errorf("--log-level: want debug, info, warn or error")
	}
	logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	var durations [4]time.Duration
	for i, d := range []struct{ flag, env string }{
		{"cert-lifetime", envCertLifetime},
		{"renew-interval", envRenewInterval},
		{"renew-overlap", envRenewOverlap},
		{"sweep-interval", envSweepInterval},
	} {
		v, err := time.ParseDuration(a.setting(cmd, d.flag, d.env))
		if err != nil || v <= 0 {
			return gateway.Config{}, fmt.Errorf("--%s: want a positive duration such as 90s or 24h",
				d.flag)
		}
		durations[i] = v
	}
	return gateway.Config{
		DataDir:        a.dataDir(cmd),
		AdminAddr:      a.setting(cmd, "admin-addr", envAdminAddr),
		FederationAddr: a.setting(cmd, "federation-addr", envFederationAddr),
		PublicURL:      a.setting(cmd, "public-url", envPublicURL),
		DatabaseURL:    a.setting(cmd, "db", envDatabaseURL),
		CA:             a.setting(cmd, "ca", envCA),
		CertLifetime:   durations[0],
		RenewInterval:  durations[1],
		RenewOverlap:   durations[2],
		SweepInterval:  durations[3],
		Logger:         logger,
		Env:            a.env,
	}, nil
}
