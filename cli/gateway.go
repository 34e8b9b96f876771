package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic/gateway"
)

// Environment variables of the gateway commands.
const (
	envAdminAddr      = "MOSAIC_ADMIN_ADDR"
	envFederationAddr = "MOSAIC_FEDERATION_ADDR"
	envPublicURL      = "MOSAIC_PUBLIC_URL"
	envLogLevel       = "MOSAIC_LOG_LEVEL"
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
	cmd.AddCommand(serve, initCmd)
	return cmd
}

// gatewayConfig builds the gateway configuration from the flags, then the
// environment, then the defaults.
func (a *app) gatewayConfig(cmd *cobra.Command) (gateway.Config, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.setting(cmd, "log-level", envLogLevel))); err != nil {
		return gateway.Config{}, fmt.Errorf("--log-level: want debug, info, warn or error")
	}
	logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	return gateway.Config{
		DataDir:        a.dataDir(cmd),
		AdminAddr:      a.setting(cmd, "admin-addr", envAdminAddr),
		FederationAddr: a.setting(cmd, "federation-addr", envFederationAddr),
		PublicURL:      a.setting(cmd, "public-url", envPublicURL),
		Logger:         logger,
		Env:            a.env,
	}, nil
}
