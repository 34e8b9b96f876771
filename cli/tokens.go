package cli

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// tokenAnswer is the answer of POST .../grants/{id}/tokens. It is the only
// answer that carries a token, and it is printed once.
type tokenAnswer struct {
	Token         string    `json:"token"`
	GrantID       string    `json:"grantId"`
	PeerID        string    `json:"peerId"`
	ExpiresAt     time.Time `json:"expiresAt"`
	TTLSeconds    int       `json:"ttlSeconds"`
	CAPin         string    `json:"caPin"`
	EnrollmentURL string    `json:"enrollmentUrl"`
}

// grantTokenCmd is "mosaic federation grant token".
func (a *app) grantTokenCmd() *cobra.Command {
	var (
		in struct {
			TTLSeconds int    `json:"ttlSeconds,omitempty"`
			PeerID     string `json:"peerId,omitempty"`
		}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "token GRANT [--ttl SECONDS] [--peer PEER]",
		Short: "Issue a single-use enrollment token for a pending grant",
		Long: "Issue a single-use enrollment token for a pending grant and print it with\n" +
			"its enrollment URL. Both are shown once and are secrets until used: hand\n" +
			"the URL to the peer's operator, who runs\n" +
			"  mosaic federation peer add --url-file FILE\n" +
			"A TTL above 900 seconds is clamped to 900.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := pathID("grant", args[0])
			if err != nil {
				return err
			}
			if in.TTLSeconds < 0 {
				return fmt.Errorf("--ttl must be positive")
			}
			return a.runSend(cmd, http.MethodPost, "/api/admin/federation/grants/"+id+"/tokens",
				in, asJSON, func(data []byte) error { return a.printToken(data, in.TTLSeconds) })
		},
	}
	cmd.Flags().IntVar(&in.TTLSeconds, "ttl", 0,
		"token lifetime in seconds (default and maximum 900)")
	cmd.Flags().StringVar(&in.PeerID, "peer", "", "refuse unless the grant's peer is this id")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printToken writes a token answer for a person, saying whether the TTL
// asked for was clamped.
func (a *app) printToken(data []byte, requested int) error {
	var t tokenAnswer
	if err := decode(data, &t); err != nil {
		return err
	}
	ttl := fmt.Sprintf("%ds", t.TTLSeconds)
	if requested > t.TTLSeconds {
		ttl += fmt.Sprintf(", %ds requested and clamped", requested)
	}
	fmt.Fprintln(a.stdout, "Enrollment token (shown once; a secret until used):")
	err := keyValues(a.stdout,
		[2]string{"  grant", t.GrantID},
		[2]string{"  peer", t.PeerID},
		[2]string{"  token", t.Token},
		[2]string{"  expires", fmtTime(t.ExpiresAt) + " (ttl " + ttl + ")"},
		[2]string{"  CA pin", t.CAPin},
		[2]string{"  enrollment URL", t.EnrollmentURL},
	)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "On the peer: mosaic federation peer add --url-file FILE "+
		"(or pipe the URL to: mosaic federation peer add -)")
	return nil
}
