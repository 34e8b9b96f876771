package cli

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// peerRemoveCmd is "mosaic federation peer remove".
func (a *app) peerRemoveCmd() *cobra.Command {
	var (
		in struct {
			Reason string `json:"reason,omitempty"`
		}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "remove PEER [--reason REASON]",
		Short: "Remove a peer for good: revoke its grants, or wipe our key for it",
		Long: "Remove a peer for good. On the grantor (an inbound peer) every pending or\n" +
			"active grant of the peer is revoked, each audited, and its next request is\n" +
			"refused; a new grant for the peer (grant create --peer PEER) lets it enroll\n" +
			"again. On the reader (an outbound peer) our private key and the certificate\n" +
			"it issued us are wiped, so it can no longer be queried; the other gateway\n" +
			"is not told. Removing a removed peer is refused and changes nothing.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := pathID("peer", args[0])
			if err != nil {
				return err
			}
			if err := mosaic.ValidateRevokeReason(in.Reason); err != nil {
				return err
			}
			return a.runSend(cmd, http.MethodPost, "/api/admin/federation/peers/"+id+"/remove",
				in, asJSON, a.printRemoved)
		},
	}
	cmd.Flags().StringVar(&in.Reason, "reason", "",
		`why, recorded with each grant revoked and in the audit log (default "`+
			mosaic.DefaultRemovalReason+`")`)
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printRemoved confirms a removal in one or two lines.
func (a *app) printRemoved(data []byte) error {
	var out mosaic.PeerRemoved
	if err := decode(data, &out); err != nil {
		return err
	}
	p := out.Peer
	if p == nil {
		return fmt.Errorf("the admin API's answer names no peer")
	}
	w := a.stdout
	fmt.Fprintf(w, "peer %s (%s, %s) removed; it is now %s\n",
		oneLine(p.ID), oneLine(p.DisplayName), p.Role, p.State)
	if p.Role == mosaic.PeerOutbound {
		_, err := fmt.Fprintln(w, "our key and certificate for it are wiped; "+
			"enroll again with a new enrollment URL to read from it")
		return err
	}
	ids := make([]string, len(out.Revoked))
	for i, g := range out.Revoked {
		ids[i] = oneLine(g.ID)
	}
	if len(ids) == 0 {
		_, err := fmt.Fprintln(w, "no pending or active grant to revoke")
		return err
	}
	_, err := fmt.Fprintf(w, "%d grant(s) revoked: %s\n", len(ids), strings.Join(ids, ", "))
	return err
}
