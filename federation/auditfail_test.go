package federation_test

import (
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
)

// errAuditDown is the fault the audit writes fail with.
var errAuditDown = mosaic.Errorf(mosaic.KindUnavailable, "database_unavailable", "injected")

// auditFailures counts the "audit write failed" lines logged so far.
func auditFailures(g *fedtest.Gateway) int {
	return strings.Count(g.Logs.String(), "audit write failed")
}

func TestReadFederatedAuditFailure(t *testing.T) {
	e := newReadEnv(t)
	chain := e.enrolled.Chain(t)
	tests := []struct {
		name     string
		resource string
		status   int
		code     string
	}{
		// An allowed read whose audit write fails sends no data.
		{"allowed read", "tasks", 503, "audit_unavailable"},
		// A refusal stands, audited or not.
		{"denied read", "credentials", 403, "resource_not_in_scope"},
		{"unknown resource", "nothing", 404, "unknown_resource"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := auditFailures(e.g)
			e.g.Faults.FailAudit(errAuditDown)
			page, err := e.read(chain, tc.resource, "", "", "")
			e.g.Faults.FailAudit(nil)
			wantCode(t, err, tc.status, tc.code)
			if page != nil {
				t.Errorf("read answered %d items without its audit event", len(page.Items))
			}
			if auditFailures(e.g) != before+1 {
				t.Errorf("audit failures logged: %d, want %d", auditFailures(e.g), before+1)
			}
		})
	}

	// Once the audit log works again, so does the read, and it is audited.
	page, err := e.read(chain, "tasks", "", "", "")
	if err != nil || len(page.Items) == 0 {
		t.Fatalf("read after the fault: %v", err)
	}
	if ev := lastEvent(t, e.g); ev.Outcome != mosaic.OutcomeAllowed || ev.Rows != len(page.Items) {
		t.Errorf("last event = %+v, want the allowed read", ev)
	}
}

func TestRedeemRetryAuditFailure(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	_, token := pendingToken(t, g)
	_, csr := fedtest.NewCSR(t)
	if _, err := redeem(g, token, csr); err != nil {
		t.Fatal(err)
	}

	// The certificate is not sent again without a trace.
	g.Faults.FailAudit(errAuditDown)
	out, err := redeem(g, token, csr)
	g.Faults.FailAudit(nil)
	wantCode(t, err, 503, "audit_unavailable")
	if out != nil {
		t.Error("the retry answered a certificate without its audit event")
	}
	if _, err := redeem(g, token, csr); err != nil {
		t.Errorf("retry after the fault: %v", err)
	}
}

func TestRedeemDeniedAuditFailure(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	_, token := pendingToken(t, g)
	g.Faults.FailAudit(errAuditDown)
	_, err := redeem(g, token, "not a CSR")
	g.Faults.FailAudit(nil)
	wantCode(t, err, 400, "invalid_csr")
	if auditFailures(g) != 1 {
		t.Errorf("audit failures logged: %d, want 1", auditFailures(g))
	}
}
