package cli

import (
	"net/http"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// noteCmd is "mosaic note": users' free-text notes.
func (a *app) noteCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "note", Short: "Create and list notes"}
	cmd.AddCommand(a.noteCreateCmd(), a.noteListCmd())
	return cmd
}

// noteCreateCmd is "mosaic note create".
func (a *app) noteCreateCmd() *cobra.Command {
	var (
		in struct {
			UserID string `json:"userId"`
			Title  string `json:"title"`
			Body   string `json:"body"`
		}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --user USER --title TITLE --body BODY",
		Short: "Create a note for a user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSend(cmd, http.MethodPost, "/api/admin/notes", in, asJSON,
				rows(decodeOne[mosaic.Note], a.printNotes))
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.UserID, "user", "", "id of the owner")
	f.StringVar(&in.Title, "title", "", "title")
	f.StringVar(&in.Body, "body", "", "text of the note")
	addJSONFlag(cmd, &asJSON)
	for _, name := range []string{"user", "title", "body"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// noteListCmd is "mosaic note list".
func (a *app) noteListCmd() *cobra.Command {
	var p pageFlags
	cmd := &cobra.Command{
		Use:   "list [--user USER]",
		Short: "List notes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runPage(cmd, "/api/admin/notes", &p,
				rows(decodeItems[mosaic.Note], a.printNotes))
		},
	}
	p.add(cmd)
	return cmd
}

// printNotes writes notes as a table, with the start of each body.
func (a *app) printNotes(notes []*mosaic.Note) error {
	t := newTable(a.stdout, "ID", "USER", "TITLE", "BODY", "UPDATED")
	for _, n := range notes {
		t.row(n.ID, n.UserID, n.Title, truncate(oneLine(n.Body), 40), fmtTime(n.UpdatedAt))
	}
	return t.flush()
}
