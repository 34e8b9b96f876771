package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
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

// auditCmd is "mosaic federation audit": it lists the audit log, and its
// subcommands verify and export it.
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
	cmd.AddCommand(a.auditVerifyCmd(), a.auditExportCmd())
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

// Audit chain paths and limits.
const (
	auditVerifyPath = "/api/admin/federation/audit/verify"
	auditExportPath = "/api/admin/federation/audit/export"
	// auditVerifyTimeout bounds a verification: the gateway reads the
	// whole log before it answers.
	auditVerifyTimeout = 30 * time.Minute
	// maxExportLine bounds one line of an export.
	maxExportLine = 1 << 20
)

// auditVerifyCmd is "mosaic federation audit verify".
func (a *app) auditVerifyCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--json]",
		Short: "Check the audit log's hash chain; fail at the first row altered or removed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd)
			if err != nil {
				return err
			}
			data, err := c.call(cmd.Context(), auditVerifyTimeout, http.MethodGet,
				auditVerifyPath, nil, nil)
			if err != nil {
				return err
			}
			var r auditchain.Report
			if err := decode(data, &r); err != nil {
				return err
			}
			if !r.Intact && r.Break == nil {
				return errors.New("the admin API's answer is not a verification report")
			}
			if asJSON {
				err = printJSON(a.stdout, data)
			} else {
				err = a.printVerify(&r)
			}
			if err != nil || r.Intact {
				return err
			}
			return fmt.Errorf("audit chain broken at row %d (%s)", r.Break.ID, r.Break.Problem)
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printVerify writes a verification report for a person.
func (a *app) printVerify(r *auditchain.Report) error {
	w := a.stdout
	if r.Intact {
		fmt.Fprintf(w, "chain intact, %d rows\n", r.Rows)
		if r.Rows > 0 {
			fmt.Fprintf(w, "head: row %d, hash %s\n", r.HeadID, oneLine(r.HeadHash))
		}
		return nil
	}
	b := r.Break
	fmt.Fprintf(w, "chain broken at row %d: %s\n", b.ID, oneLine(b.Problem))
	fmt.Fprintln(w, oneLine(b.Detail))
	if b.PrevID == 0 {
		_, err := fmt.Fprintln(w, "no row before it verified")
		return err
	}
	_, err := fmt.Fprintf(w, "last intact row: %d, hash %s\n", b.PrevID, oneLine(r.HeadHash))
	return err
}

// auditExportCmd is "mosaic federation audit export".
func (a *app) auditExportCmd() *cobra.Command {
	var format, since string
	cmd := &cobra.Command{
		Use:   "export [--format jsonl] [--since RFC3339]",
		Short: "Write the audit log to standard output as JSON lines, oldest first",
		Long: "export writes every audit event, oldest first, one JSON object a line with\n" +
			"its id, prevHash and hash, as the gateway streams them (for a SIEM). It runs\n" +
			"until the log has been written or it is interrupted, and fails if the\n" +
			"stream is cut off.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{"format": {format}}
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return errors.New("--since: want an RFC 3339 time such as 2026-01-02T15:04:05Z")
				}
				q.Set("since", t.UTC().Format(time.RFC3339Nano))
			}
			c, err := a.client(cmd)
			if err != nil {
				return err
			}
			return c.stream(cmd.Context(), auditExportPath, q, a.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "jsonl", "export format (jsonl)")
	f.StringVar(&since, "since", "", "only events at or after this RFC 3339 time")
	return cmd
}

// stream sends GET path?q and copies the JSON lines of the answer to w as
// they arrive, checking that each line is JSON. An error answer is
// returned as the API's error, and an answer cut off before its end is an
// error too, whatever was written by then.
func (c *adminClient) stream(ctx context.Context, path string, q url.Values,
	w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := c.http.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		return c.apiError(resp.StatusCode, data)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/x-ndjson" {
		return fmt.Errorf("the admin API answered %q, not JSON lines", oneLine(mt))
	}
	return copyLines(w, resp.Body)
}

// copyLines copies the JSON lines of r to w, one line at a time.
func copyLines(w io.Writer, r io.Reader) error {
	out := bufio.NewWriter(w)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExportLine)
	n := 0
	for sc.Scan() {
		n++
		if !json.Valid(sc.Bytes()) {
			_ = out.Flush()
			return fmt.Errorf("line %d of the export is not JSON", n)
		}
		_, _ = out.Write(sc.Bytes())
		if err := out.WriteByte('\n'); err != nil {
			return fmt.Errorf("writing the export: %w", err)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing the export: %w", err)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the export was cut off (%d lines received): %v", n, err)
	}
	return nil
}
