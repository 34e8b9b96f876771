package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// noRedirects makes c answer a redirect instead of following it.
func noRedirects(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

func TestAdminPathTricks(t *testing.T) {
	g := startGateway(t)
	c := noRedirects(g.admin.Client())
	for _, path := range []string{
		"/api/admin/users/../users",
		"/api/admin/./users",
		"/api/admin//users",
		"//api/admin/users",
		"//",
		"/api/admin/%2e%2e/admin/users",
		"/api/admin/federation/grants/x/..",
	} {
		t.Run(path, func(t *testing.T) {
			req, err := http.NewRequest("GET", g.admin.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			send(t, c, req).wantError(t, 400, "invalid_path")
		})
	}
}

func TestFederationRefusalsAreAudited(t *testing.T) {
	g := startGateway(t)
	c := noRedirects(g.fedClient(t))
	tokenHash := mosaic.HashPrefix(mosaic.TokenSecret("abc").Hash())
	tests := []struct {
		name, method, path string
		status             int
		code               string
		verb               string
		tokenHash          string
	}{
		{"dot segments out of enrollment", "POST", "/api/federation/enrollment/../../x",
			400, "invalid_path", mosaic.VerbEnroll, mosaic.HashPrefix(mosaic.TokenSecret("..").Hash())},
		{"dot segments in a read", "GET", "/api/federation/v1/../v1/tasks", 400, "invalid_path",
			mosaic.VerbRead, ""},
		{"encoded dot segments", "GET", "/api/federation/v1/%2E%2E/v1/tasks", 400, "invalid_path",
			mosaic.VerbRead, ""},
		{"double slash", "GET", "//", 400, "invalid_path", mosaic.VerbRead, ""},
		{"empty segment", "GET", "/api/federation//v1/tasks", 400, "invalid_path",
			mosaic.VerbRead, ""},
		{"unknown path", "GET", "/api/federation/nothing/here", 404, "not_found",
			mosaic.VerbRead, ""},
		{"trailing slash", "GET", "/api/federation/v1/tasks/", 404, "not_found",
			mosaic.VerbRead, ""},
		{"enrollment by GET", "GET", "/api/federation/enrollment/abc", 405, "method_not_allowed",
			mosaic.VerbEnroll, tokenHash},
		{"read by POST", "POST", "/api/federation/v1/tasks", 405, "method_not_allowed",
			mosaic.VerbRead, ""},
		{"CA by DELETE", "DELETE", "/api/federation/ca", 405, "method_not_allowed",
			mosaic.VerbRead, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, g.fed.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			a := send(t, c, req)
			a.wantError(t, tc.status, tc.code)
			if tc.status == 405 && a.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			evs := g.audit(t, "limit=1")
			if len(evs) != 1 {
				t.Fatal("no audit event")
			}
			ev := evs[0]
			if ev.RequestID != a.header.Get("X-Request-Id") || ev.Verb != tc.verb ||
				ev.Outcome != mosaic.OutcomeDenied || ev.Reason != tc.code ||
				ev.Status != tc.status || ev.SourceAddr == "" || ev.TokenHashPrefix != tc.tokenHash {
				t.Errorf("audit event = %+v", ev)
			}
		})
	}
}
