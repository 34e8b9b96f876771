package cli

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// federationCmd is "mosaic federation": grants, peers, federated reads and
// the audit log.
func (a *app) federationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "federation",
		Short: "Grant peers access, enroll with grantors, read federated data, audit",
	}
	cmd.AddCommand(a.grantCmd(), a.peerCmd(), a.queryCmd(), a.auditCmd())
	return cmd
}

// auditCmd is "mosaic federation audit".
func (a *app) auditCmd() *cobra.Command {
	var (
		peer, grant, outcome string
		limit                int
		asJSON               bool
	)
	cmd := &cobra.Command{
		Use:   "audit [--peer PEER] [--grant GRANT] [--outcome allowed|denied] [--limit N]",
		Short: "Show the audit log, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if peer != "" {
				q.Set("peer", peer)
			}
			if grant != "" {
				q.Set("grant", grant)
			}
			switch mosaic.Outcome(outcome) {
			case "":
			case mosaic.OutcomeAllowed, mosaic.OutcomeDenied:
				q.Set("outcome", outcome)
			default:
				return fmt.Errorf("--outcome must be allowed or denied")
			}
			if limit < 0 {
				return fmt.Errorf("--limit must be positive")
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			return a.runGet(cmd, "/api/admin/federation/audit", q, asJSON,
				rows(decodeItems[mosaic.AuditEvent], a.printAudit))
		},
	}
	f := cmd.Flags()
	f.StringVar(&peer, "peer", "", "only events of this peer id")
	f.StringVar(&grant, "grant", "", "only events of this grant id")
	f.StringVar(&outcome, "outcome", "", "only allowed or only denied events")
	f.IntVar(&limit, "limit", 0, "at most this many events (default: the gateway's)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printAudit writes audit events as a table.
func (a *app) printAudit(events []*mosaic.AuditEvent) error {
	t := newTable(a.stdout, "TIME", "OUTCOME", "STATUS", "VERB", "RESOURCE", "ROWS",
		"PEER", "GRANT", "REASON", "SOURCE", "REQUEST")
	for _, ev := range events {
		t.row(fmtTime(ev.Time), string(ev.Outcome), strconv.Itoa(ev.Status), ev.Verb,
			ev.Resource, strconv.Itoa(ev.Rows), ev.PeerID, ev.GrantID, ev.Reason,
			ev.SourceAddr, ev.RequestID)
	}
	return t.flush()
}
