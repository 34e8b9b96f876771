package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/remote"
)

// Limits of peer add.
const (
	// maxURLFile bounds the file or input holding an enrollment URL.
	maxURLFile = 4 << 10
	// enrollTimeout bounds the whole enrollment, all three calls.
	enrollTimeout = 3 * time.Minute
)

// peerCmd is "mosaic federation peer": the gateways this one knows.
func (a *app) peerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "peer", Short: "Enroll with a grantor; list, renew and remove peers"}
	cmd.AddCommand(a.peerAddCmd(), a.peerListCmd(), a.peerRenewCmd(), a.peerRemoveCmd())
	return cmd
}

// peerAddOptions are the flags of peer add.
type peerAddOptions struct {
	urlFile     string
	displayName string
	commonName  string
	asJSON      bool
}

// peerAddCmd is "mosaic federation peer add".
func (a *app) peerAddCmd() *cobra.Command {
	var o peerAddOptions
	cmd := &cobra.Command{
		Use:   "add (URL | - | --url-file FILE|-) [--name NAME] [--common-name CN]",
		Short: "Enroll with a grantor using the enrollment URL it issued",
		Long: "Enroll with a grantor using the enrollment URL it issued. The URL is a\n" +
			"secret: prefer --url-file FILE or \"-\" (standard input) to an argument,\n" +
			"which other users can see in the process list.\n\n" +
			"The grantor's CA is checked against the pin in the URL before anything is\n" +
			"created or sent. If a later step fails, the pending peer created for the\n" +
			"enrollment stays behind without a certificate; other peers are untouched.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := a.enrollmentURLText(cmd, args, o.urlFile)
			if err != nil {
				return err
			}
			u, err := remote.ParseEnrollmentURL(text)
			if err != nil {
				return err
			}
			return a.peerAdd(cmd, u, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.urlFile, "url-file", "",
		"read the enrollment URL from this file (\"-\": standard input)")
	f.StringVar(&o.displayName, "name", "", "display name of the grantor (default: its host)")
	f.StringVar(&o.commonName, "common-name", "",
		"common name put in the certificate request (default: the display name)")
	addJSONFlag(cmd, &o.asJSON)
	return cmd
}

// enrollmentURLText returns the enrollment URL from exactly one source: the
// argument, standard input ("-" as the argument or as --url-file) or
// --url-file.
func (a *app) enrollmentURLText(cmd *cobra.Command, args []string, file string) (string, error) {
	var r io.Reader
	switch {
	case len(args) == 1 && file != "":
		return "", errors.New("give the enrollment URL either as an argument or with --url-file")
	case len(args) == 0 && file == "":
		return "", errors.New("no enrollment URL: give it with --url-file FILE, " +
			"on standard input with -, or as an argument")
	case file == "-":
		r = cmd.InOrStdin()
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	case args[0] == "-":
		r = cmd.InOrStdin()
	default:
		return strings.TrimSpace(args[0]), nil
	}
	data, err := io.ReadAll(io.LimitReader(r, maxURLFile+1))
	if err != nil {
		return "", fmt.Errorf("reading the enrollment URL: %w", err)
	}
	if len(data) > maxURLFile {
		return "", fmt.Errorf("the enrollment URL input is larger than %d bytes", maxURLFile)
	}
	return strings.TrimSpace(string(data)), nil
}

// keypairAnswer is the answer of POST .../peers/keypair.
type keypairAnswer struct {
	PeerID string `json:"peerId"`
	CSRPEM string `json:"csrPem"`
}

// peerAdd enrolls with the grantor named by u: it checks the grantor's CA
// against the pin, has our gateway make a key pair and a pending outbound
// peer, sends the CSR to the grantor, and gives the certificate to our
// gateway, which checks and stores it.
func (a *app) peerAdd(cmd *cobra.Command, u *remote.EnrollmentURL, o peerAddOptions) error {
	display, cn, err := peerNames(u, o)
	if err != nil {
		return err
	}
	c, err := a.client(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), enrollTimeout)
	defer cancel()

	// Check the pin before anything is created here or sent there.
	if _, _, err := remote.FetchPinnedCA(ctx, u.BaseURL, u.Pin, nil); err != nil {
		return err
	}

	data, err := c.post(ctx, "/api/admin/federation/peers/keypair", map[string]string{
		"commonName": cn, "displayName": display, "endpointUrl": u.BaseURL, "caPin": u.Pin,
	})
	if err != nil {
		return err
	}
	var kp keypairAnswer
	if err := decode(data, &kp); err != nil {
		return err
	}
	id, err := pathID("peer", kp.PeerID)
	if err != nil {
		return err
	}

	res, err := remote.Enroll(ctx, u, kp.CSRPEM)
	if err != nil {
		return leftPending(err, kp.PeerID)
	}
	data, err = c.patch(ctx, "/api/admin/federation/peers/"+id+"/cert", res)
	if err != nil {
		return leftPending(err, kp.PeerID)
	}
	if o.asJSON {
		return printJSON(a.stdout, data)
	}
	var p mosaic.Peer
	if err := decode(data, &p); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "peer %s (%s) is %s; certificate valid until %s\n",
		p.ID, oneLine(p.DisplayName), p.State, fmtTimePtr(p.CertNotAfter))
	return nil
}

// peerNames returns the display and common names for a new outbound peer:
// the flags, or the grantor's host name.
func peerNames(u *remote.EnrollmentURL, o peerAddOptions) (display, cn string, err error) {
	display, cn = o.displayName, o.commonName
	if display == "" {
		base, err := url.Parse(u.BaseURL)
		if err != nil {
			return "", "", err
		}
		display = base.Hostname()
	}
	if cn == "" {
		cn = display
	}
	if err := mosaic.ValidatePeerName("name", display); err != nil {
		return "", "", err
	}
	if err := mosaic.ValidatePeerName("common-name", cn); err != nil {
		return "", "", err
	}
	return display, cn, nil
}

// leftPending adds to an enrollment error that the pending peer remains.
func leftPending(err error, peerID string) error {
	note := "; pending peer " + peerID + " remains without a certificate"
	var e *mosaic.Error
	if errors.As(err, &e) {
		return fmt.Errorf("%s%s", describe(e), note)
	}
	return fmt.Errorf("%v%s", err, note)
}

// peerListCmd is "mosaic federation peer list".
func (a *app) peerListCmd() *cobra.Command {
	var (
		role, state string
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "list [--role inbound|outbound] [--state STATE]",
		Short: "List peers with their state, certificate and renewal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if role != "" {
				q.Set("role", role)
			}
			if state != "" {
				q.Set("state", state)
			}
			return a.runGet(cmd, "/api/admin/federation/peers", q, asJSON,
				rows(decodeItems[mosaic.Peer], a.printPeers))
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "only inbound or only outbound peers")
	cmd.Flags().StringVar(&state, "state", "", "only peers in this state")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printPeers writes peers as a table.
func (a *app) printPeers(peers []*mosaic.Peer) error {
	t := newTable(a.stdout, "ID", "ROLE", "NAME", "STATE", "NOT AFTER", "CERT SHA-256", "ENDPOINT",
		"RENEWAL")
	for _, p := range peers {
		t.row(p.ID, string(p.Role), p.DisplayName, string(p.State), fmtTimePtr(p.CertNotAfter),
			p.CertFingerprint, p.EndpointURL, renewalCell(p))
	}
	return t.flush()
}
