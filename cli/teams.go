package cli

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// teamCmd is "mosaic team": groups of users.
func (a *app) teamCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "team", Short: "Create teams, add members, list teams"}
	cmd.AddCommand(a.teamCreateCmd(), a.teamAddMemberCmd(), a.teamListCmd())
	return cmd
}

// teamCreateCmd is "mosaic team create".
func (a *app) teamCreateCmd() *cobra.Command {
	var (
		in struct {
			Name      string   `json:"name"`
			MemberIDs []string `json:"memberIds,omitempty"`
		}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--member USER]...",
		Short: "Create a team",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSend(cmd, http.MethodPost, "/api/admin/teams", in, asJSON,
				rows(decodeOne[mosaic.Team], a.printTeams))
		},
	}
	cmd.Flags().StringVar(&in.Name, "name", "", "team name")
	cmd.Flags().StringArrayVar(&in.MemberIDs, "member", nil, "id of a member (repeatable)")
	addJSONFlag(cmd, &asJSON)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// teamAddMemberCmd is "mosaic team add-member".
func (a *app) teamAddMemberCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "add-member TEAM USER",
		Short: "Add a user to a team",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			team, err := pathID("team", args[0])
			if err != nil {
				return err
			}
			if err := mosaic.ValidateID("user", args[1]); err != nil {
				return err
			}
			c, err := a.client(cmd)
			if err != nil {
				return err
			}
			body := struct {
				UserID string `json:"userId"`
			}{args[1]}
			_, err = c.post(cmd.Context(), "/api/admin/teams/"+team+"/members", body)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "added user %s to team %s\n", args[1], args[0])
			return nil
		},
	}
}

// teamListCmd is "mosaic team list".
func (a *app) teamListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List teams with their members",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runGet(cmd, "/api/admin/teams", nil, asJSON,
				rows(decodeItems[mosaic.Team], a.printTeams))
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printTeams writes teams as a table.
func (a *app) printTeams(teams []*mosaic.Team) error {
	t := newTable(a.stdout, "ID", "NAME", "MEMBERS", "MEMBER IDS")
	for _, team := range teams {
		t.row(team.ID, team.Name, strconv.Itoa(len(team.MemberIDs)),
			strings.Join(team.MemberIDs, ","))
	}
	return t.flush()
}
