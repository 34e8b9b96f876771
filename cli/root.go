// Package cli is the mosaic command: it runs a gateway and administers one
// through its admin API. Each command group lives in its own file; commands
// write to the writers given to New, so tests run them as they are.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/gateway"
)

// Environment variables read by the CLI. Flags override them.
const (
	envDataDir    = "MOSAIC_DATA_DIR"
	envAdminURL   = "MOSAIC_ADMIN_URL"
	envAdminToken = "MOSAIC_ADMIN_TOKEN"
)

// app holds what every command shares: the output writers, the environment
// and the global flags.
type app struct {
	stdout io.Writer
	stderr io.Writer
	env    func(string) string

	adminURL       string
	adminToken     string
	adminTokenFile string
}

// New returns the root "mosaic" command. Output goes to stdout and stderr;
// env reads environment variables (nil reads none). Errors are returned by
// Execute, not printed: Main prints them.
func New(stdout, stderr io.Writer, env func(string) string) *cobra.Command {
	if env == nil {
		env = func(string) string { return "" }
	}
	a := &app{stdout: stdout, stderr: stderr, env: env}
	return a.rootCmd()
}

// rootCmd builds the command tree over a.
func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "mosaic",
		Short: "Mosaic federation gateway",
		Long: "mosaic runs a Mosaic federation gateway and administers it: users and their\n" +
			"data, grants to peer gateways, enrollment and federated reads.",
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)

	pf := root.PersistentFlags()
	pf.String("data-dir", gateway.DefaultDataDir, "data directory (env "+envDataDir+")")
	pf.StringVar(&a.adminURL, "admin-url", "",
		"admin API URL (env "+envAdminURL+"; default from <data-dir>/admin.json)")
	pf.StringVar(&a.adminToken, "admin-token", "",
		"admin bearer token (env "+envAdminToken+"; default from <data-dir>/admin.json; "+
			"prefer --admin-token-file)")
	pf.StringVar(&a.adminTokenFile, "admin-token-file", "", "read the admin token from this file")
	root.MarkFlagsMutuallyExclusive("admin-token", "admin-token-file")

	root.AddCommand(a.gatewayCmd(), a.userCmd(), a.teamCmd(), a.taskCmd(), a.noteCmd(),
		a.credentialCmd(), a.federationCmd())
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command group fail on an unknown
// subcommand ("mosaic federation grnt") instead of printing its help and
// succeeding; a group given no subcommand still prints its help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() || !cmd.HasParent() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q; see %q",
				args[0], c.CommandPath(), c.CommandPath()+" --help")
		}
		return c.Help()
	}
}

// Main runs the mosaic command with the process's arguments, environment
// and standard streams, prints an error as one line on stderr, and returns
// the exit code.
func Main() int {
	root := New(os.Stdout, os.Stderr, os.Getenv)
	root.SetIn(os.Stdin)
	return execute(root, os.Args[1:], os.Stderr)
}

// execute runs root with args and reports any error as one line
// "mosaic: <message>" on stderr. It returns 0 on success and 1 on error.
func execute(root *cobra.Command, args []string, stderr io.Writer) int {
	if args == nil {
		args = []string{}
	}
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "mosaic: "+errorLine(err))
		return 1
	}
	return 0
}

// errorLine renders err for the one error line: "<code>: <message>" for an
// API error, the error's text otherwise, with line breaks and other control
// characters removed.
func errorLine(err error) string {
	msg := err.Error()
	var e *mosaic.Error
	if errors.As(err, &e) && error(e) == err {
		msg = describe(e)
	}
	return oneLine(msg)
}

// describe returns "<code>: <message>" for an *mosaic.Error, without its
// log-only detail, and the error's text for anything else.
func describe(err error) string {
	var e *mosaic.Error
	if errors.As(err, &e) {
		return e.Code + ": " + e.Message
	}
	return err.Error()
}

// oneLine replaces line breaks, tabs and other control characters with
// spaces and collapses runs of spaces.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
