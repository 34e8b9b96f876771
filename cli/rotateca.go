package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/gateway"
)

// rotateCACmd is "mosaic gateway rotate-ca": a new intermediate for the
// embedded CA.
func (a *app) rotateCACmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate-ca [--json]",
		Short: "Give the embedded CA a new signing intermediate under the same root",
		Long: "Make a new intermediate under the embedded CA's root and sign with it from now\n" +
			"on. The root, and so the pin peers hold, stays the same. Certificates issued by\n" +
			"the old intermediate keep verifying until they expire; intermediates that have\n" +
			"expired are dropped. It works on the database of the data directory (or --db)\n" +
			"while gateways serve it: each picks up the new intermediate within its CA\n" +
			"reload interval (" + gateway.DefaultCAReloadInterval.String() + " by default, " +
			gateway.EnvCAReloadInterval + ") and reissues\n" +
			"its federation TLS certificate from it. Peers get the new chain when they\n" +
			"next enroll or renew.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.gatewayConfig(cmd)
			if err != nil {
				return err
			}
			rot, err := gateway.RotateCA(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				data, err := json.Marshal(rot)
				if err != nil {
					return err
				}
				return printJSON(a.stdout, data)
			}
			return a.printCARotation(rot)
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printCARotation writes what a CA rotation did for a person.
func (a *app) printCARotation(rot *embedded.Rotation) error {
	w := a.stdout
	fmt.Fprintf(w, "new signing intermediate %s, valid until %s\n",
		rot.New.Serial, fmtTime(rot.New.NotAfter))
	fmt.Fprintf(w, "previous intermediate %s, valid until %s, kept: "+
		"its certificates verify until they expire\n", rot.Old.Serial, fmtTime(rot.Old.NotAfter))
	for _, d := range rot.Dropped {
		fmt.Fprintf(w, "dropped expired intermediate %s (ended %s)\n", d.Serial, fmtTime(d.NotAfter))
	}
	_, err := fmt.Fprintf(w, "root unchanged: peers keep the pin %s\n", rot.CAPin)
	return err
}
