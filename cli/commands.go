package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"
)

// The shapes most commands share: send one request, then print the answer
// either as indented JSON (--json) or through a printer that decodes it
// into a table.

// printer decodes an API answer and writes it for a person.
type printer func(data []byte) error

// runGet sends GET path?q and prints the answer.
func (a *app) runGet(cmd *cobra.Command, path string, q url.Values, asJSON bool,
	print printer) error {
	c, err := a.client(cmd)
	if err != nil {
		return err
	}
	data, err := c.get(cmd.Context(), path, q)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, data)
	}
	return print(data)
}

// runSend sends method path with in as the JSON body and prints the answer.
func (a *app) runSend(cmd *cobra.Command, method, path string, in any, asJSON bool,
	print printer) error {
	c, err := a.client(cmd)
	if err != nil {
		return err
	}
	data, err := c.call(cmd.Context(), callTimeout, method, path, nil, in)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, data)
	}
	return print(data)
}

// pageFlags are the filters of a paged listing of a user's data.
type pageFlags struct {
	user   string
	limit  int
	cursor string
	asJSON bool
}

// add registers the flags on cmd.
func (p *pageFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.user, "user", "", "only rows of this user id")
	f.IntVar(&p.limit, "limit", 0, "page size (default: the gateway's)")
	f.StringVar(&p.cursor, "cursor", "", "cursor printed by the previous page")
	addJSONFlag(cmd, &p.asJSON)
}

// query returns the listing's query parameters.
func (p *pageFlags) query() (url.Values, error) {
	q := url.Values{}
	if p.user != "" {
		q.Set("user", p.user)
	}
	if p.limit < 0 {
		return nil, fmt.Errorf("--limit must be positive")
	}
	if p.limit > 0 {
		q.Set("limit", strconv.Itoa(p.limit))
	}
	if p.cursor != "" {
		q.Set("cursor", p.cursor)
	}
	return q, nil
}

// runPage gets one page of a listing, prints its rows and then the cursor
// of the next page, if any.
func (a *app) runPage(cmd *cobra.Command, path string, p *pageFlags, print printer) error {
	q, err := p.query()
	if err != nil {
		return err
	}
	return a.runGet(cmd, path, q, p.asJSON, func(data []byte) error {
		if err := print(data); err != nil {
			return err
		}
		var page struct {
			NextCursor string `json:"nextCursor"`
		}
		if err := json.Unmarshal(data, &page); err == nil && page.NextCursor != "" {
			fmt.Fprintf(a.stdout, "next cursor: %s\n", oneLine(page.NextCursor))
		}
		return nil
	})
}

// decodeItems decodes a listing answer {"items": [...]}.
func decodeItems[T any](data []byte) ([]*T, error) {
	var page struct {
		Items []*T `json:"items"`
	}
	if err := decode(data, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

// decodeOne decodes an answer holding one object.
func decodeOne[T any](data []byte) ([]*T, error) {
	var v T
	if err := decode(data, &v); err != nil {
		return nil, err
	}
	return []*T{&v}, nil
}

// rows returns a printer that decodes with dec and prints with print.
func rows[T any](dec func([]byte) ([]*T, error), print func([]*T) error) printer {
	return func(data []byte) error {
		items, err := dec(data)
		if err != nil {
			return err
		}
		return print(items)
	}
}
