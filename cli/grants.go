package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic"
)

// maxScopeFile bounds a scope file, like an API request body.
const maxScopeFile = 64 << 10

// grantCmd is "mosaic federation grant": access this gateway gives peers.
func (a *app) grantCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "grant", Short: "Create, inspect and revoke grants; issue tokens"}
	cmd.AddCommand(a.grantCreateCmd(), a.grantListCmd(), a.grantShowCmd(),
		a.grantRevokeCmd(), a.grantTokenCmd())
	return cmd
}

// grantCreateBody is the body of POST /api/admin/federation/grants.
type grantCreateBody struct {
	UserID    string       `json:"userId"`
	PeerID    string       `json:"peerId,omitempty"`
	PeerName  string       `json:"peerName,omitempty"`
	Scope     mosaic.Scope `json:"scope"`
	ExpiresAt *time.Time   `json:"expiresAt,omitempty"`
}

// grantCreateCmd is "mosaic federation grant create".
func (a *app) grantCreateCmd() *cobra.Command {
	var (
		in                              grantCreateBody
		scopeFile, expiresAt, expiresIn string
		asJSON                          bool
	)
	cmd := &cobra.Command{
		Use: "create --user USER (--peer PEER | --peer-name NAME) --scope FILE " +
			"[--expires-at TIME | --expires-in DURATION]",
		Short: "Grant a peer read access to one user's data",
		Long: "Grant a peer read access to one user's data. --scope names a JSON file\n" +
			`("-" for standard input) such as` + "\n" +
			`  {"resources":["tasks","notes"],"excluded_resources":["credentials"],` +
			`"max_rows_per_query":100}` + "\n" +
			"--peer-name creates the pending peer in the same step.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			scope, err := readScope(cmd, scopeFile)
			if err != nil {
				return err
			}
			in.Scope = scope
			if in.ExpiresAt, err = grantExpiry(expiresAt, expiresIn, time.Now()); err != nil {
				return err
			}
			return a.runSend(cmd, http.MethodPost, "/api/admin/federation/grants", in, asJSON,
				a.printGrant)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.UserID, "user", "", "id of the user whose data is shared")
	f.StringVar(&in.PeerID, "peer", "", "id of an existing inbound peer")
	f.StringVar(&in.PeerName, "peer-name", "", "display name of a new pending inbound peer")
	f.StringVar(&scopeFile, "scope", "", `scope JSON file ("-" for standard input)`)
	f.StringVar(&expiresAt, "expires-at", "", "RFC 3339 time after which the grant expires")
	f.StringVar(&expiresIn, "expires-in", "",
		"how long until the grant expires: a duration such as 72h or 90m, or days such as 30d")
	addJSONFlag(cmd, &asJSON)
	_ = cmd.MarkFlagRequired("user")
	_ = cmd.MarkFlagRequired("scope")
	cmd.MarkFlagsOneRequired("peer", "peer-name")
	cmd.MarkFlagsMutuallyExclusive("peer", "peer-name")
	return cmd
}

// readScope reads and validates a scope from a file or standard input
// ("-"), so that a mistake is reported before anything is sent.
func readScope(cmd *cobra.Command, path string) (mosaic.Scope, error) {
	var r io.Reader = cmd.InOrStdin()
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return mosaic.Scope{}, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxScopeFile+1))
	if err != nil {
		return mosaic.Scope{}, fmt.Errorf("reading the scope: %w", err)
	}
	if len(data) > maxScopeFile {
		return mosaic.Scope{}, fmt.Errorf("the scope is larger than %d bytes", maxScopeFile)
	}
	scope, err := mosaic.ParseScope(data)
	if err != nil {
		return mosaic.Scope{}, err
	}
	if scope.ExcludedResources == nil {
		scope.ExcludedResources = []mosaic.Resource{}
	}
	return scope, nil
}

// grantListCmd is "mosaic federation grant list".
func (a *app) grantListCmd() *cobra.Command {
	var (
		peer, status string
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "list [--peer PEER] [--status STATUS]",
		Short: "List grants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if peer != "" {
				q.Set("peer", peer)
			}
			if status != "" {
				if !mosaic.GrantStatus(status).Valid() {
					return fmt.Errorf("--status must be pending, active, revoked or expired")
				}
				q.Set("status", status)
			}
			return a.runGet(cmd, "/api/admin/federation/grants", q, asJSON,
				rows(decodeItems[mosaic.Grant], a.printGrants))
		},
	}
	cmd.Flags().StringVar(&peer, "peer", "", "only grants to this peer id")
	cmd.Flags().StringVar(&status, "status", "", "only grants in this status")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printGrants writes grants as a table.
func (a *app) printGrants(grants []*mosaic.Grant) error {
	t := newTable(a.stdout, "ID", "USER", "PEER", "STATUS", "RESOURCES", "MAX ROWS", "EXPIRES",
		"TIME LEFT")
	now := time.Now()
	for _, g := range grants {
		t.row(g.ID, g.UserID, g.PeerID, string(g.Status), joinResources(g.Scope.Resources),
			strconv.Itoa(g.Scope.MaxRowsPerQuery), fmtTimePtr(g.ExpiresAt), timeLeft(g, now))
	}
	return t.flush()
}

// grantShowCmd is "mosaic federation grant show".
func (a *app) grantShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show GRANT",
		Short: "Show a grant in full",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := pathID("grant", args[0])
			if err != nil {
				return err
			}
			return a.runGet(cmd, "/api/admin/federation/grants/"+id, nil, asJSON, a.printGrant)
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printGrant writes one grant, every field on its own line.
func (a *app) printGrant(data []byte) error {
	var g mosaic.Grant
	if err := decode(data, &g); err != nil {
		return err
	}
	return keyValues(a.stdout,
		[2]string{"id", g.ID},
		[2]string{"user", g.UserID},
		[2]string{"peer", g.PeerID},
		[2]string{"status", string(g.Status)},
		[2]string{"resources", joinResources(g.Scope.Resources)},
		[2]string{"excluded resources", joinResources(g.Scope.ExcludedResources)},
		[2]string{"max rows per query", strconv.Itoa(g.Scope.MaxRowsPerQuery)},
		[2]string{"created", fmtTime(g.CreatedAt)},
		[2]string{"updated", fmtTime(g.UpdatedAt)},
		[2]string{"activated", fmtTimePtr(g.ActivatedAt)},
		[2]string{"expires", fmtTimePtr(g.ExpiresAt)},
		[2]string{"time left", timeLeft(&g, time.Now())},
		[2]string{"revoked", fmtTimePtr(g.RevokedAt)},
		[2]string{"revocation reason", g.RevokedReason},
	)
}

// grantRevokeCmd is "mosaic federation grant revoke".
func (a *app) grantRevokeCmd() *cobra.Command {
	var (
		in struct {
			Reason string `json:"reason,omitempty"`
		}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "revoke GRANT [--reason REASON]",
		Short: "Revoke a grant; the peer's next request is denied",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := pathID("grant", args[0])
			if err != nil {
				return err
			}
			if err := mosaic.ValidateRevokeReason(in.Reason); err != nil {
				return err
			}
			return a.runSend(cmd, http.MethodPatch,
				"/api/admin/federation/grants/"+id+"/revoke", in, asJSON, a.printGrant)
		},
	}
	cmd.Flags().StringVar(&in.Reason, "reason", "",
		"why, recorded with the grant and in the audit log")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// joinResources lists resource names separated by commas.
func joinResources(rs []mosaic.Resource) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}

// parseTime parses an RFC 3339 time given to flag.
func parseTime(flag, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time such as 2026-01-02T15:04:05Z",
			flag)
	}
	return t.UTC(), nil
}

// grantExpiry returns the expiry a new grant asks for: the time given to
// --expires-at, which must be after now, or now plus the duration given to
// --expires-in, or nil. Giving both is an error.
func grantExpiry(at, in string, now time.Time) (*time.Time, error) {
	switch {
	case at != "" && in != "":
		return nil, errors.New("--expires-in and --expires-at: give one, not both")
	case at != "":
		t, err := parseTime("--expires-at", at)
		if err != nil {
			return nil, err
		}
		if !t.After(now) {
			return nil, errors.New("--expires-at: must be in the future")
		}
		return &t, nil
	case in != "":
		d, err := parseExpiresIn(in)
		if err != nil {
			return nil, err
		}
		t := now.Add(d).UTC()
		return &t, nil
	}
	return nil, nil
}

// parseExpiresIn parses a positive Go duration (72h, 90m) or a whole
// number of days (30d).
func parseExpiresIn(s string) (time.Duration, error) {
	bad := fmt.Errorf("--expires-in: want a positive duration such as 72h, 90m or 30d")
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > maxExpiryDays {
			return 0, bad
		}
		d = time.Duration(n) * day
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d <= 0 {
		return 0, bad
	}
	return d, nil
}

// maxExpiryDays bounds --expires-in in days, well within time.Duration.
const maxExpiryDays = 100 * 365

// timeLeft is how long g has until it expires as of now: days and hours
// from a day on ("29d23h"), hours and minutes below ("23h59m", "0h05m"),
// "<1m" in its last minute, "expired" once past its expiry, and "-" when
// it never expires or is revoked.
func timeLeft(g *mosaic.Grant, now time.Time) string {
	switch {
	case g.Status == mosaic.GrantExpired:
		return "expired"
	case g.Status == mosaic.GrantRevoked || g.ExpiresAt == nil:
		return "-"
	}
	left := g.ExpiresAt.Sub(now)
	switch {
	case left <= 0:
		return "expired"
	case left < time.Minute:
		return "<1m"
	case left < day:
		left = left.Truncate(time.Minute)
		return fmt.Sprintf("%dh%02dm", int64(left/time.Hour), int64(left%time.Hour/time.Minute))
	}
	left = left.Truncate(time.Hour)
	return fmt.Sprintf("%dd%02dh", int64(left/day), int64(left%day/time.Hour))
}

// day is 24 hours, the unit of --expires-in's days and of long times left.
const day = 24 * time.Hour
