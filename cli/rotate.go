package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/seal"
)

// maxNamedRemaining is how many remaining values the error line names.
const maxNamedRemaining = 3

// rotateSecretCmd is "mosaic gateway rotate-secret": re-seal every sealed
// value under the current secret.
func (a *app) rotateSecretCmd() *cobra.Command {
	var asJSON bool
	var opts gateway.RotateOptions
	cmd := &cobra.Command{
		Use:   "rotate-secret",
		Short: "Re-seal every sealed value under the current sealing secret",
		Long: "Re-seal every sealed value (CA, TLS and peer keys, credential secrets) under\n" +
			"the current secret (" + seal.EnvSecret + " or <data-dir>/secret), opening the older ones\n" +
			"with the previous secret (" + seal.EnvSecretPrevious + " or <data-dir>/" +
			seal.PreviousSecretFileName + ").\n" +
			"It runs beside serving gateways. An interrupted run is finished by running it\n" +
			"again. --generate first writes a new random secret to <data-dir>/secret and\n" +
			"keeps the old one as " + seal.PreviousSecretFileName + ". The command exits\n" +
			"non-zero while any value remains under another key version, naming it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.gatewayConfig(cmd)
			if err != nil {
				return err
			}
			if opts.BatchSize < 1 || opts.BatchSize > 1000 {
				return fmt.Errorf("--batch: want 1 to 1000")
			}
			if opts.BatchDelay < 0 {
				return fmt.Errorf("--batch-delay: must not be negative")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := gateway.RotateSecret(ctx, cfg, opts)
			if err != nil {
				return err
			}
			if err := a.printRotation(res, asJSON); err != nil {
				return err
			}
			return remainingError(res.RotateReport)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Generate, "generate", false,
		"first replace <data-dir>/secret with a new random secret, keeping the old one as "+
			seal.PreviousSecretFileName)
	f.IntVar(&opts.BatchSize, "batch", seal.DefaultBatchSize, "values read at a time")
	f.DurationVar(&opts.BatchDelay, "batch-delay", 0,
		"pause after each batch, to spare a busy database (e.g. 100ms)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printRotation writes what a rotation did as a table or JSON.
func (a *app) printRotation(res *gateway.RotateResult, asJSON bool) error {
	if asJSON {
		data, err := json.Marshal(res)
		if err != nil {
			return err
		}
		return printJSON(a.stdout, data)
	}
	if res.SecretFile != "" {
		fmt.Fprintf(a.stdout, "new secret written to %s; the old one kept as %s\n",
			res.SecretFile, seal.PreviousSecretFileName)
	}
	t := newTable(a.stdout, "TABLE", "RESEALED", "ALREADY_CURRENT", "REMAINING")
	for _, tr := range res.Tables {
		t.row(string(tr.Table), strconv.Itoa(tr.Resealed), strconv.Itoa(tr.AlreadyCurrent),
			strconv.Itoa(tr.Remaining))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if res.Done() {
		fmt.Fprintf(a.stdout, "every sealed value is under key version %d\n",
			res.CurrentVersion)
	}
	return nil
}

// remainingError is the command's error when values remain under another
// key version: how many, and the first few by table and id.
func remainingError(rep *seal.RotateReport) error {
	if rep.Done() {
		return nil
	}
	var named []string
	for _, r := range rep.Remaining {
		if len(named) == maxNamedRemaining {
			named = append(named, "…")
			break
		}
		where := string(r.Table) + "/" + r.ID
		if r.ID == "" {
			where = string(r.Table)
		}
		named = append(named, fmt.Sprintf("%s (version %d: %s)", where, r.Version, r.Reason))
	}
	left := 0
	for _, tr := range rep.Tables {
		left += tr.Remaining
	}
	return fmt.Errorf("rotate-secret: %d values remain under another key version than %d: %s",
		left, rep.CurrentVersion, strings.Join(named, "; "))
}
