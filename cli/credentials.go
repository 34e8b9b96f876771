package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// maxSecret bounds a credential's secret value.
const maxSecret = 64 << 10

// credentialCmd is "mosaic credential": users' secrets, of which only
// metadata is ever listed or federated.
func (a *app) credentialCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "credential", Short: "Store and list credentials (metadata only)"}
	cmd.AddCommand(a.credentialCreateCmd(), a.credentialListCmd())
	return cmd
}

// credentialCreateCmd is "mosaic credential create". The secret comes from
// a file or standard input, never from an argument, so that it does not
// appear in the process list or the shell history.
func (a *app) credentialCreateCmd() *cobra.Command {
	var (
		in struct {
			UserID string `json:"userId"`
			Name   string `json:"name"`
			Kind   string `json:"kind"`
			Secret string `json:"secret"`
		}
		secretFile string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "create --user USER --name NAME --kind KIND [--secret-file FILE]",
		Short: "Store a credential; the secret is read from --secret-file or standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Check the connection first, so nobody types a secret in vain.
			if _, err := a.client(cmd); err != nil {
				return err
			}
			secret, err := readSecret(cmd, secretFile)
			if err != nil {
				return err
			}
			in.Secret = secret
			return a.runSend(cmd, http.MethodPost, "/api/admin/credentials", in, asJSON,
				rows(decodeOne[mosaic.Credential], a.printCredentials))
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.UserID, "user", "", "id of the owner")
	f.StringVar(&in.Name, "name", "", "name of the credential")
	f.StringVar(&in.Kind, "kind", "", "kind, such as password or api_key")
	f.StringVar(&secretFile, "secret-file", "",
		`file holding the secret ("-" or unset: standard input)`)
	addJSONFlag(cmd, &asJSON)
	for _, name := range []string{"user", "name", "kind"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// readSecret reads a secret from path, or standard input when path is empty
// or "-", and drops one trailing line break. Errors never quote it.
func readSecret(cmd *cobra.Command, path string) (string, error) {
	var r io.Reader = cmd.InOrStdin()
	source := "standard input"
	if (path == "" || path == "-") && isTerminal(r) {
		// TODO(cli): the standard library cannot turn off echo, so a
		// secret typed here is visible; piping it in or --secret-file
		// avoids that.
		fmt.Fprintln(cmd.ErrOrStderr(), "mosaic: type the secret, then Ctrl-D "+
			"(it is echoed; prefer --secret-file or a pipe)")
	}
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r, source = f, path
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSecret+1))
	if err != nil {
		return "", fmt.Errorf("reading the secret from %s: %w", source, err)
	}
	if len(data) > maxSecret {
		return "", fmt.Errorf("the secret in %s is larger than %d bytes", source, maxSecret)
	}
	secret := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if secret == "" {
		return "", errors.New(
			"no secret given: pass --secret-file FILE or write it to standard input")
	}
	return secret, nil
}

// credentialListCmd is "mosaic credential list".
func (a *app) credentialListCmd() *cobra.Command {
	var p pageFlags
	cmd := &cobra.Command{
		Use:   "list [--user USER]",
		Short: "List credentials (metadata only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runPage(cmd, "/api/admin/credentials", &p,
				rows(decodeItems[mosaic.Credential], a.printCredentials))
		},
	}
	p.add(cmd)
	return cmd
}

// printCredentials writes credential metadata as a table.
func (a *app) printCredentials(creds []*mosaic.Credential) error {
	t := newTable(a.stdout, "ID", "USER", "NAME", "KIND", "CREATED")
	for _, c := range creds {
		t.row(c.ID, c.UserID, c.Name, c.Kind, fmtTime(c.CreatedAt))
	}
	return t.flush()
}

// isTerminal reports whether r is a character device such as a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
