package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// queryAnswer is a federated read as the grantor answered it.
type queryAnswer struct {
	Items        []map[string]any `json:"items"`
	NextCursor   string           `json:"nextCursor"`
	LimitApplied int              `json:"limitApplied"`
	LimitCapped  bool             `json:"limitCapped"`
}

// queryColumns are the table columns of each resource: a JSON field and its
// header.
var queryColumns = map[mosaic.Resource][][2]string{
	mosaic.ResourceTasks: {{"id", "ID"}, {"userId", "USER"}, {"status", "STATUS"},
		{"title", "TITLE"}, {"updatedAt", "UPDATED"}},
	mosaic.ResourceNotes: {{"id", "ID"}, {"userId", "USER"}, {"title", "TITLE"},
		{"body", "BODY"}, {"updatedAt", "UPDATED"}},
	mosaic.ResourceTeams: {{"id", "ID"}, {"name", "NAME"}, {"memberIds", "MEMBER IDS"}},
	mosaic.ResourceUsers: {{"id", "ID"}, {"name", "NAME"}, {"email", "EMAIL"},
		{"emailVerified", "VERIFIED"}},
	mosaic.ResourceCredentials: {{"id", "ID"}, {"userId", "USER"}, {"name", "NAME"},
		{"kind", "KIND"}, {"updatedAt", "UPDATED"}},
}

// queryCmd is "mosaic federation query".
func (a *app) queryCmd() *cobra.Command {
	var (
		limit         int
		cursor, since string
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "query PEER RESOURCE [--limit N] [--cursor C] [--since TIME]",
		Short: "Read a resource from a grantor over mutual TLS",
		Long: "Read one page of a resource (tasks, notes, teams, users, credentials) that\n" +
			"an outbound peer shares with this gateway. A denial is an error line\n" +
			`"mosaic: denied: <code>: <message>" and exit status 1.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			peer, err := pathID("peer", args[0])
			if err != nil {
				return err
			}
			resource := mosaic.Resource(args[1])
			if !resource.Valid() {
				return fmt.Errorf("unknown resource %q: "+
					"want tasks, notes, teams, users or credentials", oneLine(args[1]))
			}
			q, err := queryParams(limit, cursor, since)
			if err != nil {
				return err
			}
			return a.query(cmd, peer, resource, q, asJSON)
		},
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", 0, "rows wanted (the grant's row cap applies)")
	f.StringVar(&cursor, "cursor", "", "cursor printed by the previous page")
	f.StringVar(&since, "since", "", "only rows updated at or after this RFC 3339 time")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// queryParams checks the paging flags of a federated read and returns them
// as query parameters; since is passed on in UTC.
func queryParams(limit int, cursor, since string) (url.Values, error) {
	q := url.Values{}
	if limit < 0 {
		return nil, fmt.Errorf("--limit must be positive")
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if since != "" {
		t, err := parseTime("--since", since)
		if err != nil {
			return nil, err
		}
		q.Set("since", fmtTime(t))
	}
	return q, nil
}

// query runs one federated read through the admin API and prints it.
func (a *app) query(cmd *cobra.Command, peer string, resource mosaic.Resource, q url.Values,
	asJSON bool) error {
	c, err := a.client(cmd)
	if err != nil {
		return err
	}
	path := "/api/admin/federation/peers/" + peer + "/query/" + string(resource)
	data, err := c.call(cmd.Context(), queryTimeout, http.MethodGet, path, q, nil)
	if mosaic.IsKind(err, mosaic.KindForbidden) {
		return fmt.Errorf("denied: %s", describe(err))
	}
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, data)
	}
	var ans queryAnswer
	if err := decode(data, &ans); err != nil {
		return err
	}
	return a.printQuery(resource, &ans)
}

// printQuery writes a federated page as a table, then the next cursor and
// whether the row cap cut the page.
func (a *app) printQuery(resource mosaic.Resource, ans *queryAnswer) error {
	cols := queryColumns[resource]
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c[1]
	}
	t := newTable(a.stdout, headers...)
	for _, item := range ans.Items {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = truncate(oneLine(fmtCell(c[0], item[c[0]])), 60)
		}
		t.row(cells...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if ans.NextCursor != "" {
		fmt.Fprintf(a.stdout, "next cursor: %s\n", oneLine(ans.NextCursor))
	}
	if ans.LimitCapped {
		fmt.Fprintf(a.stdout, "limit applied %d (capped)\n", ans.LimitApplied)
	}
	return nil
}

// fmtCell formats one field of a federated row; timestamps are shown like
// every other time the CLI prints.
func fmtCell(field string, v any) string {
	if s, ok := v.(string); ok && strings.HasSuffix(field, "At") {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return fmtTime(t)
		}
	}
	return fmtAny(v)
}
