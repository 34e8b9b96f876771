package cli

import (
	"net/http"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// userCmd is "mosaic user": the people on this gateway.
func (a *app) userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Create and list users"}
	cmd.AddCommand(a.userCreateCmd(), a.userListCmd())
	return cmd
}

// userCreateCmd is "mosaic user create".
func (a *app) userCreateCmd() *cobra.Command {
	var (
		in struct {
			Name          string `json:"name"`
			Email         string `json:"email"`
			EmailVerified bool   `json:"emailVerified"`
		}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME --email EMAIL [--email-verified]",
		Short: "Create a user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSend(cmd, http.MethodPost, "/api/admin/users", in, asJSON,
				rows(decodeOne[mosaic.User], a.printUsers))
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Name, "name", "", "full name")
	f.StringVar(&in.Email, "email", "", "email address")
	f.BoolVar(&in.EmailVerified, "email-verified", false, "mark the email address as verified")
	addJSONFlag(cmd, &asJSON)
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

// userListCmd is "mosaic user list".
func (a *app) userListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runGet(cmd, "/api/admin/users", nil, asJSON,
				rows(decodeItems[mosaic.User], a.printUsers))
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printUsers writes users as a table.
func (a *app) printUsers(users []*mosaic.User) error {
	t := newTable(a.stdout, "ID", "NAME", "EMAIL", "VERIFIED", "CREATED")
	for _, u := range users {
		t.row(u.ID, u.Name, u.Email, yesNo(u.EmailVerified), fmtTime(u.CreatedAt))
	}
	return t.flush()
}
