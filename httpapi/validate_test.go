package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

func TestTextValidation(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	user := func(name string) map[string]any {
		return map[string]any{"name": name, "email": mosaic.NewID()[:8] + "@example.com"}
	}
	note := func(title, body string) map[string]any {
		return map[string]any{"userId": ada.ID, "title": title, "body": body}
	}
	keypair := func(edit func(map[string]any)) map[string]any {
		kp := map[string]any{"commonName": "gateway-a", "displayName": "Gateway B",
			"endpointUrl": "https://b.example:8443", "caPin": g.CA.Pin()}
		edit(kp)
		return kp
	}
	tests := []struct {
		name         string
		method, path string
		body         map[string]any
		code         string
	}{
		{"right-to-left override", "POST", "/api/admin/users", user("Ada\u202egnp.exe"),
			"invalid_name"},
		{"left-to-right embedding", "POST", "/api/admin/users", user("\u202aAda"), "invalid_name"},
		{"bidi isolate", "POST", "/api/admin/users", user("Ada\u2067x\u2069"), "invalid_name"},
		{"zero-width space", "POST", "/api/admin/users", user("A\u200bda"), "invalid_name"},
		{"zero-width joiner", "POST", "/api/admin/users", user("A\u200dda"), "invalid_name"},
		{"right-to-left mark", "POST", "/api/admin/users", user("Ada\u200f"), "invalid_name"},
		{"byte order mark", "POST", "/api/admin/users", user("\ufeffAda"), "invalid_name"},
		{"C1 control", "POST", "/api/admin/users", user("Ada\u0085"), "invalid_name"},
		{"team name", "POST", "/api/admin/teams", map[string]any{"name": "Core\u2066"},
			"invalid_name"},
		{"task title", "POST", "/api/admin/tasks",
			map[string]any{"userId": ada.ID, "title": "pay\u202e"}, "invalid_title"},
		{"note title", "POST", "/api/admin/notes", note("n\u200b", "b"), "invalid_title"},
		{"note body with NUL", "POST", "/api/admin/notes", note("n", "a\x00b"), "invalid_body"},
		{"note body with escape", "POST", "/api/admin/notes", note("n", "a\x1b[2Jb"),
			"invalid_body"},
		{"note body with DEL", "POST", "/api/admin/notes", note("n", "a\x7fb"), "invalid_body"},
		{"note body with C1 control", "POST", "/api/admin/notes", note("n", "a\u009bb"),
			"invalid_body"},
		{"credential name", "POST", "/api/admin/credentials", map[string]any{"userId": ada.ID,
			"name": "mail\u202e", "kind": "password", "secret": "x"}, "invalid_name"},
		{"peer name of a grant", "POST", "/api/admin/federation/grants", map[string]any{
			"userId": ada.ID, "peerName": "Gateway\u200b A", "scope": tasksScope},
			"invalid_peerName"},
		{"revoke reason", "PATCH", "/api/admin/federation/grants/" + gr.ID + "/revoke",
			map[string]any{"reason": "done\u2066"}, "invalid_reason"},
		{"peer display name", "POST", "/api/admin/federation/peers/keypair",
			keypair(func(kp map[string]any) { kp["displayName"] = "B\u202e" }),
			"invalid_displayName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g.adminDo(t, tc.method, tc.path, tc.body).wantError(t, 400, tc.code)
		})
	}

	// Tabs and line breaks are text in a note body.
	g.adminDo(t, "POST", "/api/admin/notes", note("n", "line 1\r\nline 2\n\tindented")).
		wantStatus(t, http.StatusCreated)
	// The grant was not revoked by the refused request.
	got := g.adminDo(t, "GET", "/api/admin/federation/grants/"+gr.ID, nil)
	if !strings.Contains(string(got.body), `"status":"pending"`) {
		t.Errorf("grant = %s", got.body)
	}
}

func TestEndpointPort(t *testing.T) {
	g := startGateway(t)
	for _, tc := range []struct {
		url    string
		status int
	}{
		{"https://b.example:0", 400},
		{"https://b.example:65536", 400},
		{"https://b.example:99999", 400},
		{"https://b.example:https", 400},
		{"https://b.example:-1", 400},
		{"https://[::1]:70000", 400},
		{"https://b.example:65535", 201},
		{"https://[::1]:8443", 201},
	} {
		t.Run(tc.url, func(t *testing.T) {
			a := g.adminDo(t, "POST", "/api/admin/federation/peers/keypair", map[string]any{
				"commonName": "gateway-a", "displayName": "Gateway B", "endpointUrl": tc.url,
				"caPin": g.CA.Pin()})
			if tc.status == 400 {
				a.wantError(t, 400, "invalid_endpointUrl")
				return
			}
			a.wantStatus(t, tc.status)
		})
	}
}

func TestEmails(t *testing.T) {
	g := startGateway(t)
	create := func(email string) *answer {
		return g.adminDo(t, "POST", "/api/admin/users", map[string]any{"name": "U", "email": email})
	}

	// Stored in lower case, and compared so.
	a := create("Ada.Lovelace@Example.COM")
	a.wantStatus(t, http.StatusCreated)
	var u mosaic.User
	a.decode(t, &u)
	if u.Email != "ada.lovelace@example.com" {
		t.Errorf("email stored as %q", u.Email)
	}
	for _, dup := range []string{"ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM",
		"ada.lovelace@Example.com"} {
		create(dup).wantError(t, 409, "email_taken")
	}

	// The part before @ is at most 64 bytes.
	create(strings.Repeat("a", 64)+"@example.com").wantStatus(t, http.StatusCreated)
	create(strings.Repeat("b", 65)+"@example.com").wantError(t, 400, "invalid_email")
	create("eve@"+strings.Repeat("d", 252)+".com").wantError(t, 400, "invalid_email")
	create("eve\u202e@example.com").wantError(t, 400, "invalid_email")
}
