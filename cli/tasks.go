package cli

import (
	"net/http"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// taskCmd is "mosaic task": users' to-do items.
func (a *app) taskCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "task", Short: "Create and list tasks"}
	cmd.AddCommand(a.taskCreateCmd(), a.taskListCmd())
	return cmd
}

// taskCreateCmd is "mosaic task create".
func (a *app) taskCreateCmd() *cobra.Command {
	var (
		in struct {
			UserID string `json:"userId"`
			Title  string `json:"title"`
			Status string `json:"status,omitempty"`
		}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --user USER --title TITLE [--status STATUS]",
		Short: "Create a task for a user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSend(cmd, http.MethodPost, "/api/admin/tasks", in, asJSON,
				rows(decodeOne[mosaic.Task], a.printTasks))
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.UserID, "user", "", "id of the owner")
	f.StringVar(&in.Title, "title", "", "title")
	f.StringVar(&in.Status, "status", "", "open, in_progress or done (default open)")
	addJSONFlag(cmd, &asJSON)
	_ = cmd.MarkFlagRequired("user")
	_ = cmd.MarkFlagRequired("title")
	return cmd
}

// taskListCmd is "mosaic task list".
func (a *app) taskListCmd() *cobra.Command {
	var p pageFlags
	cmd := &cobra.Command{
		Use:   "list [--user USER]",
		Short: "List tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runPage(cmd, "/api/admin/tasks", &p,
				rows(decodeItems[mosaic.Task], a.printTasks))
		},
	}
	p.add(cmd)
	return cmd
}

// printTasks writes tasks as a table.
func (a *app) printTasks(tasks []*mosaic.Task) error {
	t := newTable(a.stdout, "ID", "USER", "STATUS", "TITLE", "UPDATED")
	for _, task := range tasks {
		t.row(task.ID, task.UserID, task.Status, task.Title, fmtTime(task.UpdatedAt))
	}
	return t.flush()
}
