package httpapi_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
)

// auditBound is how long a test waits for an audit event written in the
// background.
const auditBound = 30 * time.Second

func TestEnrollmentRateLimit(t *testing.T) {
	t.Parallel() // it waits for an audit window to close
	const burst = 3
	g := startGatewayWith(t, httpapi.WithEnrollmentLimit(httpapi.EnrollmentLimit{
		PerMinute: 1, Burst: burst, AuditWindow: 3 * time.Second,
	}))
	_, gr, cert := readSetup(t, g) // its enrollment is the first of the burst
	c := g.fedClient(t)
	_, csr := fedtest.NewCSR(t)
	unknown := "/api/federation/enrollment/" + strings.Repeat("A", mosaic.TokenLen-1) + "Q"
	body := map[string]string{"csrPem": csr}

	// The rest of the burst is served, and audited request by request.
	for range burst - 1 {
		g.fedDo(t, c, "POST", unknown, body).wantError(t, 404, "token_not_found")
	}
	lookups := len(g.Faults.TokenKeys())

	// Then every enrollment request is refused, whatever its method or form.
	var refused []string
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"POST", unknown, body},
		{"POST", unknown, "{not json"},
		{"GET", unknown, nil},
		{"POST", "/api/federation/enrollment/../enrollment/x", body},
		{"POST", "/api/federation/enrollment", body},
	} {
		a := g.fedDo(t, c, req.method, req.path, req.body)
		a.wantError(t, http.StatusTooManyRequests, "rate_limited")
		if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("%s %s: Retry-After %q, want 1 to 60 seconds", req.method, req.path,
				a.header.Get("Retry-After"))
		}
		refused = append(refused, a.header.Get("X-Request-Id"))
	}

	// The refusals looked nothing up and wrote no audit event each.
	if n := len(g.Faults.TokenKeys()); n != lookups {
		t.Errorf("refused requests looked up %d tokens", n-lookups)
	}
	for _, ev := range g.audit(t, "limit=1000") {
		if slices.Contains(refused[1:], ev.RequestID) {
			t.Errorf("refused request has its own audit event: %+v", ev)
		}
	}

	// Once the window closes, one event counts them all. (Should the
	// requests above have taken longer than a window, two events share
	// the count.)
	evs := waitRateLimited(t, g, len(refused))
	want := mosaic.AuditEvent{ID: evs[0].ID, Time: evs[0].Time, RequestID: refused[0],
		Verb: mosaic.VerbEnroll, Status: 429, Outcome: mosaic.OutcomeDenied,
		Reason: "rate_limited", Rows: evs[0].Rows, SourceAddr: "127.0.0.1"}
	if len(evs) > 2 || evs[0] != want {
		t.Errorf("rate-limit events = %+v, want one like %+v", evs, want)
	}

	// Reads and the CA are not limited.
	g.fedDo(t, g.fedClient(t, cert), "GET", "/api/federation/v1/tasks", nil).
		wantStatus(t, http.StatusOK)
	g.fedDo(t, c, "GET", "/api/federation/ca", nil).wantStatus(t, http.StatusOK)
	if evs := g.audit(t, "grant="+gr.ID+"&outcome=allowed"); len(evs) != 2 {
		t.Errorf("allowed events of the grant: %d, want the enrollment and the read", len(evs))
	}

	// Another address has its own budget.
	t.Run("another source", func(t *testing.T) {
		other := g.clientFrom(t, "127.0.0.2")
		g.fedDo(t, other, "POST", unknown, body).wantError(t, 404, "token_not_found")
	})
}

// waitRateLimited waits until the gateway's rate-limit audit events count
// refused requests, and returns them oldest first.
func waitRateLimited(t *testing.T, g *gateway, refused int) []mosaic.AuditEvent {
	t.Helper()
	deadline := time.Now().Add(auditBound)
	for {
		var found []mosaic.AuditEvent
		counted := 0
		for _, ev := range g.audit(t, "outcome=denied&limit=1000") {
			if ev.Reason == "rate_limited" {
				found = append([]mosaic.AuditEvent{ev}, found...)
				counted += ev.Rows
			}
		}
		switch {
		case counted == refused:
			return found
		case counted > refused:
			t.Fatalf("rate-limit events = %+v, counting %d refusals, want %d", found, counted,
				refused)
		case time.Now().After(deadline):
			t.Fatalf("rate-limit events count %d refusals after %s, want %d", counted,
				auditBound, refused)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clientFrom returns a federation API client whose connections come from
// the loopback address local; the test is skipped where that address
// cannot be used.
func (g *gateway) clientFrom(t *testing.T, local string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", g.fed.Listener.Addr().String())
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Skipf("cannot connect from %s: %v", local, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: g.roots, MinVersion: tls.VersionTLS12},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
