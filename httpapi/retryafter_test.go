package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
)

// unavailable is a passing failure of a dependency, code code.
func unavailable(code string) error {
	return mosaic.Errorf(mosaic.KindUnavailable, code, "injected")
}

func TestUnavailableAnswersCarryRetryAfter(t *testing.T) {
	g := startGateway(t)
	_, _, cert := readSetup(t, g)
	tests := []struct {
		name string
		code string // empty: not an error body
		do   func(t *testing.T) *answer
	}{
		{"admin token lookup fails", "database_unavailable", func(t *testing.T) *answer {
			h := httpapi.NewAdminHandler(g.Svc, hashHex(adminToken), g.Logger,
				httpapi.WithAdminTokenLookup(func(context.Context) (string, error) {
					return "", errors.New("connection refused")
				}))
			return serveOnce(t, h, "/api/admin/users")
		}},
		{"database busy", "database_busy", func(t *testing.T) *answer {
			g.Faults.FailReads(unavailable("database_busy"))
			defer g.Faults.FailReads(nil)
			return g.adminDo(t, "GET", "/api/admin/tasks", nil)
		}},
		{"CA unavailable", "ca_unavailable", func(t *testing.T) *answer {
			gr := g.createGrant(t, g.createUser(t, "Cy").ID, tasksScope)
			tok := g.issueToken(t, gr.ID)
			_, csr := fedtest.NewCSR(t)
			g.FaultCA.FailNext(unavailable("ca_down"))
			return send(t, g.fedClient(t), g.enrollRequest(t, tok.Token, csr))
		}},
		{"audit log unavailable", "audit_unavailable", func(t *testing.T) *answer {
			g.Faults.FailAudit(unavailable("database_unavailable"))
			defer g.Faults.FailAudit(nil)
			return g.fedDo(t, g.fedClient(t, cert), "GET", "/api/federation/v1/tasks", nil)
		}},
		{"not ready", "", func(t *testing.T) *answer {
			h := httpapi.NewAdminHandler(g.Svc, hashHex(adminToken), g.Logger,
				httpapi.WithReadiness(func(context.Context) mosaic.Checks {
					return mosaic.Checks{{Name: "database", Status: mosaic.CheckFail}}
				}))
			return serveOnce(t, h, "/readyz")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.do(t)
			if tc.code != "" {
				a.wantError(t, http.StatusServiceUnavailable, tc.code)
			} else {
				a.wantStatus(t, http.StatusServiceUnavailable)
			}
			if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("Retry-After %q, want a number of seconds", a.header.Get("Retry-After"))
			}
		})
	}
}

// serveOnce sends a GET for path with the admin token to h and reads the
// answer.
func serveOnce(t *testing.T, h http.Handler, path string) *answer {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return send(t, srv.Client(), req)
}

func TestReadNotSentUnaudited(t *testing.T) {
	g := startGateway(t)
	_, _, cert := readSetup(t, g)
	g.Faults.FailAudit(unavailable("database_unavailable"))
	defer g.Faults.FailAudit(nil)

	// The allowed read is withheld; the refused one keeps its answer.
	g.fedDo(t, g.fedClient(t, cert), "GET", "/api/federation/v1/tasks", nil).
		wantError(t, http.StatusServiceUnavailable, "audit_unavailable")
	g.fedDo(t, g.fedClient(t), "GET", "/api/federation/v1/tasks", nil).
		wantError(t, http.StatusUnauthorized, "client_certificate_required")
	g.fedDo(t, g.fedClient(t, cert), "GET", "/api/federation/v1/notes", nil).
		wantError(t, http.StatusForbidden, "resource_not_in_scope")
}
