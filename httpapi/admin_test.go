package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/httpapi"
)

func TestAdminAuth(t *testing.T) {
	g := startGateway(t)
	tests := []struct {
		name   string
		path   string
		header string
		status int
	}{
		{"health needs no token", "/healthz", "", 200},
		{"readiness needs no token", "/readyz", "", 200},
		{"no token", "/api/admin/users", "", 401},
		{"wrong token", "/api/admin/users", "Bearer nope", 401},
		{"token hash instead of token", "/api/admin/users", "Bearer " + hashHex(adminToken), 401},
		{"basic scheme", "/api/admin/users", "Basic " + adminToken, 401},
		{"empty bearer", "/api/admin/users", "Bearer ", 401},
		{"unknown path without token", "/api/admin/nothing", "", 401},
		{"right token", "/api/admin/users", "Bearer " + adminToken, 200},
		{"scheme in lower case", "/api/admin/users", "bearer " + adminToken, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", g.admin.URL+tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			a := send(t, g.admin.Client(), req)
			if tc.status == 401 {
				a.wantError(t, 401, "unauthorized")
				if a.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			a.wantStatus(t, tc.status)
		})
	}
}

func TestRoutesAnswerJSON(t *testing.T) {
	g := startGateway(t)
	tests := []struct {
		name   string
		do     func() *answer
		status int
		code   string
	}{
		{"admin unknown path", func() *answer { return g.adminDo(t, "GET", "/api/admin/nothing", nil) },
			404, "not_found"},
		{"admin wrong method", func() *answer { return g.adminDo(t, "DELETE", "/api/admin/users", nil) },
			405, "method_not_allowed"},
		{"federation unknown path", func() *answer {
			return g.fedDo(t, g.fedClient(t), "GET", "/api/federation/nothing/here", nil)
		}, 404, "not_found"},
		{"federation wrong method", func() *answer {
			return g.fedDo(t, g.fedClient(t), "GET", "/api/federation/enrollment/abc", nil)
		}, 405, "method_not_allowed"},
		{"unknown grant", func() *answer {
			return g.adminDo(t, "GET", "/api/admin/federation/grants/"+mosaic.NewID(), nil)
		}, 404, "grant_not_found"},
		{"malformed grant id", func() *answer {
			return g.adminDo(t, "GET", "/api/admin/federation/grants/1%20OR%201", nil)
		}, 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.do()
			a.wantError(t, tc.status, tc.code)
			if tc.status == 405 && a.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestAdminData(t *testing.T) {
	g := startGateway(t)
	ada, bob := g.createUser(t, "Ada"), g.createUser(t, "Bob")

	// Teams: created with a member, another added.
	a := g.adminDo(t, "POST", "/api/admin/teams", map[string]any{
		"name": "Core", "memberIds": []string{ada.ID, ada.ID}})
	a.wantStatus(t, http.StatusCreated)
	var team mosaic.Team
	a.decode(t, &team)
	g.adminDo(t, "POST", "/api/admin/teams/"+team.ID+"/members",
		map[string]string{"userId": bob.ID}).wantStatus(t, http.StatusNoContent)
	g.adminDo(t, "POST", "/api/admin/teams/"+team.ID+"/members",
		map[string]string{"userId": mosaic.NewID()}).wantError(t, 404, "user_not_found")
	var teams struct{ Items []mosaic.Team }
	g.adminDo(t, "GET", "/api/admin/teams", nil).decode(t, &teams)
	if len(teams.Items) != 1 || len(teams.Items[0].MemberIDs) != 2 {
		t.Errorf("teams = %+v, want one with two members", teams.Items)
	}

	// Tasks of two users, listed per user in pages.
	for range 3 {
		g.adminDo(t, "POST", "/api/admin/tasks", map[string]any{"userId": ada.ID, "title": "t"}).
			wantStatus(t, http.StatusCreated)
	}
	g.adminDo(t, "POST", "/api/admin/tasks", map[string]any{"userId": bob.ID, "title": "t",
		"status": "done"}).wantStatus(t, http.StatusCreated)
	g.adminDo(t, "POST", "/api/admin/tasks", map[string]any{"userId": bob.ID, "title": "t",
		"status": "later"}).wantError(t, 400, "invalid_status")
	var page struct {
		Items      []mosaic.Task
		NextCursor string
	}
	g.adminDo(t, "GET", "/api/admin/tasks?user="+ada.ID+"&limit=2", nil).decode(t, &page)
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page = %+v", page)
	}
	g.adminDo(t, "GET", "/api/admin/tasks?user="+ada.ID+"&limit=2&cursor="+page.NextCursor, nil).
		decode(t, &page)
	if len(page.Items) != 1 || page.NextCursor != "" || page.Items[0].UserID != ada.ID {
		t.Errorf("second page = %+v", page)
	}
	g.adminDo(t, "GET", "/api/admin/tasks?cursor=zz", nil).wantError(t, 400, "invalid_cursor")

	// Notes and credentials; a credential's secret never comes back.
	g.adminDo(t, "POST", "/api/admin/notes", map[string]any{"userId": ada.ID, "title": "n",
		"body": "text"}).wantStatus(t, http.StatusCreated)
	a = g.adminDo(t, "POST", "/api/admin/credentials", map[string]any{"userId": ada.ID,
		"name": "mail", "kind": "password", "secret": "s3cr3t-value-xyz"})
	a.wantStatus(t, http.StatusCreated)
	b := g.adminDo(t, "GET", "/api/admin/credentials", nil)
	b.wantStatus(t, http.StatusOK)
	for _, body := range []string{string(a.body), string(b.body)} {
		if strings.Contains(body, "s3cr3t") || !strings.Contains(body, "mail") {
			t.Errorf("credential answer = %s", body)
		}
	}
	if g.FilesContain(t, "s3cr3t-value-xyz") {
		t.Error("the database files hold the credential secret in the clear")
	}
	g.adminDo(t, "POST", "/api/admin/credentials", map[string]any{"userId": ada.ID,
		"name": "mail", "kind": "password"}).wantError(t, 400, "invalid_secret")
	g.adminDo(t, "POST", "/api/admin/users", map[string]any{"name": "X", "email": "not-an-email"}).
		wantError(t, 400, "invalid_email")

	var users struct{ Items []mosaic.User }
	g.adminDo(t, "GET", "/api/admin/users", nil).decode(t, &users)
	if len(users.Items) != 2 {
		t.Errorf("users = %d, want 2", len(users.Items))
	}
}

func TestInternalErrorsHideDetail(t *testing.T) {
	g := startGateway(t)
	if err := g.Store.Close(); err != nil {
		t.Fatal(err)
	}
	a := g.adminDo(t, "GET", "/api/admin/users", nil)
	a.wantError(t, 500, "internal")
	if strings.Contains(string(a.body), "closed") || !strings.Contains(string(a.body), "internal error") {
		t.Errorf("answer = %s", a.body)
	}
	if !strings.Contains(g.Logs.String(), "database is closed") {
		t.Error("the log lacks the internal error's detail")
	}
	// Alive, but not ready.
	if a := g.adminDo(t, "GET", "/healthz", nil); a.status != 200 {
		t.Errorf("healthz with the database closed = %d, want 200", a.status)
	}
	r := g.adminDo(t, "GET", "/readyz", nil)
	if r.status != 503 || !strings.Contains(string(r.body), `"status":"fail"`) {
		t.Errorf("readyz with the database closed = %d %s", r.status, r.body)
	}
}

func TestGrantExpiry(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	body := map[string]any{"userId": ada.ID, "peerName": "A", "scope": tasksScope,
		"expiresAt": time.Now().Add(-time.Minute).Format(time.RFC3339)}
	g.adminDo(t, "POST", "/api/admin/federation/grants", body).
		wantError(t, 400, "invalid_expiresAt")
	for _, bad := range []any{"tomorrow", "2030-01-02", 1893456000, true, map[string]any{}} {
		body["expiresAt"] = bad
		g.adminDo(t, "POST", "/api/admin/federation/grants", body).
			wantError(t, 400, "invalid_expiresAt")
	}
	body["expiresAt"] = nil
	g.adminDo(t, "POST", "/api/admin/federation/grants", body).wantStatus(t, http.StatusCreated)

	exp := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	body["expiresAt"] = exp.Format(time.RFC3339)
	a := g.adminDo(t, "POST", "/api/admin/federation/grants", body)
	a.wantStatus(t, http.StatusCreated)
	var gr mosaic.Grant
	a.decode(t, &gr)
	if gr.ExpiresAt == nil || !gr.ExpiresAt.Equal(exp) {
		t.Errorf("expiresAt = %v, want %v", gr.ExpiresAt, exp)
	}
}

// TestGrantCreateAnswersStoredTimes creates a grant whose expiry has
// nanoseconds: the answer to the create carries the times as stored, to
// the millisecond, the same as show and list.
func TestGrantCreateAnswersStoredTimes(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	exp := time.Now().Add(time.Hour).Truncate(time.Second).Add(996494528 * time.Nanosecond).UTC()
	a := g.adminDo(t, "POST", "/api/admin/federation/grants", map[string]any{
		"userId": ada.ID, "peerName": "A", "scope": tasksScope,
		"expiresAt": exp.Format(time.RFC3339Nano)})
	a.wantStatus(t, http.StatusCreated)
	var created map[string]any
	a.decode(t, &created)
	want := exp.Truncate(time.Millisecond).Format(time.RFC3339Nano)
	if created["expiresAt"] != want {
		t.Errorf("created expiresAt = %v, want %s", created["expiresAt"], want)
	}

	var shown map[string]any
	g.adminDo(t, "GET", "/api/admin/federation/grants/"+created["id"].(string), nil).
		decode(t, &shown)
	var list struct{ Items []map[string]any }
	g.adminDo(t, "GET", "/api/admin/federation/grants", nil).decode(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d grants listed, want 1", len(list.Items))
	}
	for _, field := range []string{"expiresAt", "createdAt", "updatedAt"} {
		if created[field] != shown[field] || created[field] != list.Items[0][field] {
			t.Errorf("%s: created %v, shown %v, listed %v", field, created[field], shown[field],
				list.Items[0][field])
		}
	}
}

func TestAdminTokenLookedUpPerRequest(t *testing.T) {
	g := startGateway(t)
	current := hashHex("first-admin-token-0123456789abcdef")
	lookupErr := error(nil)
	h := httpapi.NewAdminHandler(g.Svc, "unused", g.Logger,
		httpapi.WithAdminTokenLookup(func(context.Context) (string, error) {
			return current, lookupErr
		}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/admin/users", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if got := get("first-admin-token-0123456789abcdef"); got != 200 {
		t.Fatalf("first token = %d, want 200", got)
	}
	// Another replica replaced the token: the next request sees it.
	current = hashHex("second-admin-token-0123456789abcdef")
	if got := get("first-admin-token-0123456789abcdef"); got != 401 {
		t.Errorf("replaced token = %d, want 401", got)
	}
	if got := get("second-admin-token-0123456789abcdef"); got != 200 {
		t.Errorf("new token = %d, want 200", got)
	}
	lookupErr = errors.New("database gone")
	if got := get("second-admin-token-0123456789abcdef"); got != 503 {
		t.Errorf("lookup failing = %d, want 503", got)
	}
}
