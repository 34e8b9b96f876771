package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/httpapi"
)

// TestReadinessFreshChecksNeedTheAdminToken checks who gets fresh
// readiness checks: GET /readyz?fresh=1 with the admin token only. Every
// other request is answered as usual, never refused.
func TestReadinessFreshChecksNeedTheAdminToken(t *testing.T) {
	g := startGateway(t)
	var asked []bool
	h := httpapi.NewAdminHandler(g.Svc, hashHex(adminToken), g.Logger,
		httpapi.WithReadiness(func(ctx context.Context) mosaic.Checks {
			asked = append(asked, httpapi.WantsFreshChecks(ctx))
			return mosaic.Checks{{Name: "database", Status: mosaic.CheckOK}}
		}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	tests := []struct {
		name, path, auth string
		fresh            bool
	}{
		{"doctor's request", httpapi.FreshReadinessPath, "Bearer " + adminToken, true},
		{"no token", httpapi.FreshReadinessPath, "", false},
		{"wrong token", httpapi.FreshReadinessPath, "Bearer " + adminToken + "x", false},
		{"not a bearer", httpapi.FreshReadinessPath, "Basic " + adminToken, false},
		{"token without fresh", "/readyz", "Bearer " + adminToken, false},
		{"fresh=0", "/readyz?fresh=0", "Bearer " + adminToken, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			asked = nil
			req, err := http.NewRequest("GET", srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			send(t, srv.Client(), req).wantStatus(t, http.StatusOK)
			if len(asked) != 1 || asked[0] != tc.fresh {
				t.Fatalf("readiness asked for fresh checks %v, want [%v]", asked, tc.fresh)
			}
		})
	}
}
