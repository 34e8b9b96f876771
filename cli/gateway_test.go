package cli

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/gateway"
)

func TestGatewayConfig(t *testing.T) {
	env := map[string]string{
		"MOSAIC_DATA_DIR":        "/env/data",
		"MOSAIC_ADMIN_ADDR":      "127.0.0.1:9480",
		"MOSAIC_FEDERATION_ADDR": "0.0.0.0:9443",
		"MOSAIC_PUBLIC_URL":      "https://env.example:9443",
		"MOSAIC_LOG_LEVEL":       "warn",
	}
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		want      [4]string // data dir, admin addr, federation addr, public URL
		wantLevel slog.Level
	}{
		{"defaults", nil, nil,
			[4]string{"./mosaic-data", "127.0.0.1:8480", "127.0.0.1:8443", ""}, slog.LevelInfo},
		{"environment", env, nil,
			[4]string{"/env/data", "127.0.0.1:9480", "0.0.0.0:9443", "https://env.example:9443"},
			slog.LevelWarn},
		{"flags over environment", env,
			[]string{"--data-dir", "/flag/data", "--admin-addr", "127.0.0.1:0",
				"--federation-addr", "127.0.0.1:0", "--public-url", "https://b.example",
				"--log-level", "debug"},
			[4]string{"/flag/data", "127.0.0.1:0", "127.0.0.1:0", "https://b.example"},
			slog.LevelDebug},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string { return tt.env[k] }
			a := &app{stdout: io.Discard, stderr: io.Discard, env: env}
			root := a.rootCmd()
			serve, _, err := root.Find([]string{"gateway", "serve"})
			if err != nil {
				t.Fatal(err)
			}
			if err := serve.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := a.gatewayConfig(serve)
			if err != nil {
				t.Fatal(err)
			}
			got := [4]string{cfg.DataDir, cfg.AdminAddr, cfg.FederationAddr, cfg.PublicURL}
			if got != tt.want {
				t.Errorf("config %v, want %v", got, tt.want)
			}
			ctx := context.Background()
			if !cfg.Logger.Enabled(ctx, tt.wantLevel) || cfg.Logger.Enabled(ctx, tt.wantLevel-1) {
				t.Errorf("logger is not at level %v", tt.wantLevel)
			}
			if cfg.Env("MOSAIC_ADMIN_ADDR") != tt.env["MOSAIC_ADMIN_ADDR"] {
				t.Error("the gateway does not get the CLI's environment")
			}
		})
	}

	line := run(t, nil, "", "gateway", "serve", "--log-level", "loud").mustFail(t)
	if line != "--log-level: want debug, info, warn or error" {
		t.Errorf("error %q", line)
	}
}

func TestGatewayConfigDurations(t *testing.T) {
	config := func(env map[string]string, args ...string) (gateway.Config, error) {
		a := &app{stdout: io.Discard, stderr: io.Discard,
			env: func(k string) string { return env[k] }}
		serve, _, err := a.rootCmd().Find([]string{"gateway", "serve"})
		if err != nil {
			t.Fatal(err)
		}
		if err := serve.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return a.gatewayConfig(serve)
	}
	cfg, err := config(nil)
	if err != nil || cfg.CertLifetime != 24*time.Hour || cfg.RenewInterval != time.Minute ||
		cfg.RenewOverlap != 10*time.Minute || cfg.SweepInterval != 30*time.Second {
		t.Fatalf("defaults: %v %v %v %v, %v", cfg.CertLifetime, cfg.RenewInterval,
			cfg.RenewOverlap, cfg.SweepInterval, err)
	}
	env := map[string]string{"MOSAIC_CERT_LIFETIME": "30s", "MOSAIC_RENEW_INTERVAL": "1s",
		"MOSAIC_RENEW_OVERLAP": "2m", "MOSAIC_SWEEP_INTERVAL": "10s"}
	cfg, err = config(env)
	if err != nil || cfg.CertLifetime != 30*time.Second || cfg.RenewInterval != time.Second ||
		cfg.RenewOverlap != 2*time.Minute || cfg.SweepInterval != 10*time.Second {
		t.Fatalf("environment: %v %v %v %v, %v", cfg.CertLifetime, cfg.RenewInterval,
			cfg.RenewOverlap, cfg.SweepInterval, err)
	}
	cfg, err = config(env, "--cert-lifetime", "1h", "--renew-interval", "5s",
		"--sweep-interval", "2m")
	if err != nil || cfg.CertLifetime != time.Hour || cfg.RenewInterval != 5*time.Second ||
		cfg.SweepInterval != 2*time.Minute {
		t.Fatalf("flags: %v %v %v, %v", cfg.CertLifetime, cfg.RenewInterval, cfg.SweepInterval,
			err)
	}

	for _, args := range [][]string{{"--cert-lifetime", "soon"}, {"--renew-interval", "0s"},
		{"--renew-overlap", "-1m"}, {"--sweep-interval", "0"}, {"--sweep-interval", "-30s"},
		{"--sweep-interval", "often"}} {
		line := run(t, nil, "", append([]string{"gateway", "serve"}, args...)...).mustFail(t)
		if line != args[0]+": want a positive duration such as 90s or 24h" {
			t.Errorf("%v: error %q", args, line)
		}
	}
}
