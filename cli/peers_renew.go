package cli

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// renewTimeout bounds "peer renew": the gateway asks the peer, whose
// answer may take up to a minute, then checks and stores it.
const renewTimeout = 150 * time.Second

// maxRenewalCell bounds the error shown in the RENEWAL column of a table;
// --json has it whole.
const maxRenewalCell = 60

// peerRenewCmd is "mosaic federation peer renew".
func (a *app) peerRenewCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "renew PEER",
		Short: "Renew our certificate from an outbound peer now",
		Long: "Renew our certificate from an outbound peer now, whatever its renewal\n" +
			"time: the gateway makes a fresh key, asks the peer over mutual TLS and\n" +
			"stores the checked answer. The gateway also does this on its own, two\n" +
			"thirds into each certificate's life. A failure is recorded on the peer\n" +
			"(see \"peer list\") and retried with backoff.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := pathID("peer", args[0])
			if err != nil {
				return err
			}
			c, err := a.client(cmd)
			if err != nil {
				return err
			}
			data, err := c.call(cmd.Context(), renewTimeout, http.MethodPost,
				"/api/admin/federation/peers/"+id+"/renew", nil, nil)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.stdout, data)
			}
			var p mosaic.Peer
			if err := decode(data, &p); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "peer %s (%s) renewed: certificate %s valid until %s; "+
				"next renewal at %s\n", p.ID, oneLine(p.DisplayName), p.CertSerial,
				fmtTimePtr(p.CertNotAfter), fmtTimePtr(p.RenewNextAt))
			return nil
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// renewalCell is the RENEWAL column of a peer: its renewal state, with the
// number of failures and the last error when it is failing.
func renewalCell(p *mosaic.Peer) string {
	if p.Renewal != mosaic.RenewalFailing {
		return p.Renewal
	}
	return "failing ×" + strconv.Itoa(p.RenewFailures) + ": " +
		truncate(oneLine(p.RenewLastError), maxRenewalCell)
}
