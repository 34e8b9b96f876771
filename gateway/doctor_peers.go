package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/pki"
)

// Names of the doctor's checks of outbound peers: one summary, and one
// check for each peer that needs attention.
const (
	checkOutboundPeers = "outbound_peers"
	checkPeerRenewal   = "peer_renewal"
)

// peerChecks asks the admin API for the active outbound peers and reports
// the renewal of our certificate from each: fail for an expired one (the
// peer must enroll again; warn once it has, under another peer), warn for
// one whose renewal is failing, or whose
// certificate has less than half of the time left that it had when its
// renewal fell due (the renewal is late). The first check sums up, naming
// the first peers that need attention; one more follows for each of them.
func peerChecks(ctx context.Context, info *AdminInfo, now time.Time) mosaic.Checks {
	peers, err := listOutbound(ctx, info)
	if err != nil {
		return mosaic.Checks{{Name: checkOutboundPeers, Status: mosaic.CheckWarn,
			Reason: "cannot list outbound peers: " + err.Error()}}
	}
	return judgePeers(peers, now)
}

// judgePeers is peerChecks on a list of active outbound peers.
func judgePeers(peers []*mosaic.Peer, now time.Time) mosaic.Checks {
	summary := mosaic.Check{Name: checkOutboundPeers, Status: mosaic.CheckOK}
	checks := mosaic.Checks{summary}
	var named []string
	live := liveGrants(peers, now)
	for _, p := range peers {
		c, problem, ok := peerRenewalCheck(p, now, live)
		if !ok {
			continue
		}
		checks = append(checks, c)
		named = append(named, fmt.Sprintf("peer %s (%s): %s", p.ID, p.DisplayName, problem))
		if c.Status == mosaic.CheckFail || summary.Status == mosaic.CheckOK {
			summary.Status = c.Status
		}
	}
	switch n := len(named); {
	case len(peers) == 0:
		summary.Reason = "no active outbound peers"
	case n == 0:
		summary.Reason = fmt.Sprintf("%d active outbound peers, certificates renewed on time",
			len(peers))
	default:
		summary.Reason = fmt.Sprintf("%d of %d active outbound peers need attention: %s", n,
			len(peers), nameSome(named, summaryPeers))
	}
	checks[0] = summary
	return checks
}

// summaryPeers is how many peers that need attention the summary names.
const summaryPeers = 3

// nameSome joins the first limit of names, and says how many more there are.
func nameSome(names []string, limit int) string {
	if len(names) <= limit {
		return strings.Join(names, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(names[:limit], "; "), len(names)-limit)
}

// peerRenewalCheck returns the check of one outbound peer that needs
// attention, with its problem in a few words for the summary, and false
// for a peer that needs none. live maps the grants of unexpired
// certificates to their peers: an expired certificate whose grant has one
// was replaced by a re-enrollment, and only warns.
func peerRenewalCheck(p *mosaic.Peer, now time.Time, live map[string]string) (mosaic.Check,
	string, bool) {
	c := mosaic.Check{Name: checkPeerRenewal, Status: mosaic.CheckWarn}
	who := fmt.Sprintf("peer %s (%s): ", p.ID, p.DisplayName)
	if p.CertNotAfter == nil {
		return c, "", false
	}
	notAfter := p.CertNotAfter.UTC().Format(time.RFC3339)
	dueAt := federation.RenewalDueAt(p)
	var problem string
	switch {
	case !now.Before(*p.CertNotAfter) && live[grantOf(p)] != "":
		problem = "certificate expired, enrolled again"
		c.Reason = who + "certificate expired at " + notAfter + "; enrolled again as peer " +
			live[grantOf(p)] + ", this one can go"
	case !now.Before(*p.CertNotAfter):
		problem = "certificate expired"
		c.Status = mosaic.CheckFail
		c.Reason = who + "certificate expired at " + notAfter + "; ask the grantor for a new " +
			"token and enroll again, or remove this peer (mosaic federation peer remove) " +
			"if the grantor removed us"
	case p.RenewFailures > 0:
		problem = "renewal failing"
		c.Reason = fmt.Sprintf("%srenewal failing (%s): %s; certificate valid until %s",
			who, attempts(p.RenewFailures), p.RenewLastError, notAfter)
	case now.After(dueAt) && p.CertNotAfter.Sub(now) < p.CertNotAfter.Sub(dueAt)/2:
		problem = "renewal late"
		c.Reason = who + "renewal late: due at " + dueAt.UTC().Format(time.RFC3339) +
			", certificate valid until " + notAfter + "; is the gateway running?"
	default:
		return c, "", false
	}
	return c, problem, true
}

// listOutbound returns the active outbound peers, through the admin API.
func listOutbound(ctx context.Context, info *AdminInfo) ([]*mosaic.Peer, error) {
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		info.AdminURL+"/api/admin/federation/peers?role=outbound&state=active", nil)
	if err != nil {
		return nil, fmt.Errorf("bad admin URL in admin.json")
	}
	req.Header.Set("Authorization", "Bearer "+info.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no answer at %s", info.AdminURL)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the admin API answered HTTP %d", resp.StatusCode)
	}
	var body struct {
		Items []*mosaic.Peer `json:"items"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("unreadable peer list")
	}
	return body.Items, nil
}

// liveGrants maps the grant of each unexpired certificate among peers to
// that peer's id.
func liveGrants(peers []*mosaic.Peer, now time.Time) map[string]string {
	live := map[string]string{}
	for _, p := range peers {
		if g := grantOf(p); g != "" && p.CertNotAfter != nil && now.Before(*p.CertNotAfter) {
			live[g] = p.ID
		}
	}
	return live
}

// grantOf returns the grant id a peer's certificate speaks for, or "".
func grantOf(p *mosaic.Peer) string {
	certs, err := pki.ParseCerts(p.CertPEM)
	if err != nil || len(certs) == 0 {
		return ""
	}
	id, err := pki.ParseIdentity(certs[0])
	if err != nil {
		return ""
	}
	return id.GrantID
}

// attempts says how many attempts failed, in words.
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
