package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const testToken = "adm-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

// connect returns the global flags that point the CLI at s with the test
// token.
func connect(s *adminServer) []string {
	return []string{"--admin-url", s.srv.URL, "--admin-token", testToken}
}

func TestAPIErrorLine(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   any
		want   string
	}{
		{"not found", 404, apiError("not_found", "no such grant"), "not_found: no such grant"},
		{"conflict", 409, apiError("grant_not_revocable", "grant already revoked"),
			"grant_not_revocable: grant already revoked"},
		{"multi-line message", 400, apiError("invalid_scope", "scope:\n bad\tvalue"),
			"invalid_scope: scope: bad value"},
		{"control sequence", 400, apiError("x", "a\x1b[2Jb"), "x: a[2Jb"},
		{"not a Mosaic error", 502, "<html>bad gateway</html>",
			"unexpected_answer: the admin API at URL answered HTTP 502 without a valid error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startAdmin(t, testToken, map[string]http.HandlerFunc{
				"GET /api/admin/federation/grants/{id}": fixed(tt.status, tt.body),
			})
			args := append(connect(s), "federation", "grant", "show", grantID)
			line := run(t, nil, "", args...).mustFail(t)
			if want := strings.ReplaceAll(tt.want, "URL", s.srv.URL); line != want {
				t.Fatalf("error line %q, want %q", line, want)
			}
		})
	}
}

func TestJSONAndTable(t *testing.T) {
	s := startAdmin(t, testToken, map[string]http.HandlerFunc{
		"GET /api/admin/users": fixed(200, usersAnswer),
	})
	raw, _ := json.Marshal(usersAnswer)
	var want bytes.Buffer
	_ = json.Indent(&want, raw, "", "  ")
	want.WriteByte('\n')

	r := run(t, nil, "", append(connect(s), "user", "list", "--json")...).mustSucceed(t)
	if r.stdout != want.String() {
		t.Errorf("--json printed\n%s\nwant\n%s", r.stdout, want.String())
	}

	r = run(t, nil, "", append(connect(s), "user", "list")...).mustSucceed(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	header := strings.Join(strings.Fields(lines[0]), " ")
	if len(lines) != 2 || header != "ID NAME EMAIL VERIFIED CREATED" {
		t.Fatalf("table:\n%s", r.stdout)
	}
	if got := strings.Fields(lines[1]); len(got) != 6 || got[0] != userID || got[4] != "yes" {
		t.Errorf("row %q", lines[1])
	}
}

func TestAdminTokenNeverPrinted(t *testing.T) {
	s := startAdmin(t, testToken, map[string]http.HandlerFunc{
		"GET /api/admin/users":                 fixed(200, usersAnswer),
		"GET /api/admin/teams":                 fixed(500, "internal"),
		"GET /api/admin/federation/grants/{i}": fixed(404, apiError("not_found", "no such grant")),
	})
	closed := startAdmin(t, testToken, nil)
	closed.srv.Close()

	tests := []struct {
		name string
		args []string
	}{
		{"success", append(connect(s), "user", "list")},
		{"json", append(connect(s), "user", "list", "--json")},
		{"API error", append(connect(s), "federation", "grant", "show", grantID)},
		{"server fault", append(connect(s), "team", "list")},
		{"wrong token", []string{"--admin-url", s.srv.URL, "--admin-token", testToken + "x",
			"user", "list"}},
		{"unreachable", append(connect(closed), "user", "list")},
		{"bad URL", []string{"--admin-url", "ftp://" + testToken, "--admin-token", testToken,
			"user", "list"}},
		{"bad token", []string{"--admin-url", s.srv.URL, "--admin-token", testToken + "\n",
			"user", "list"}},
		{"usage error", append(connect(s), "user", "list", "extra")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, "", tt.args...)
			if strings.Contains(r.stdout+r.stderr, testToken) {
				t.Fatalf("the admin token was printed:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
	for _, req := range s.requests() {
		if strings.Contains(req.Path+req.Query, testToken) {
			t.Errorf("the token was sent in a URL: %+v", req)
		}
	}
}

func TestErrorLine(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "boom", "boom"},
		{"newlines", "a\nb\r\nc", "a b c"},
		{"tabs and runs", "a\t\t b", "a b"},
		{"escape", "a\x1b[31mb", "a [31mb"},
		{"bidi override", "a\u202eb", "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oneLine(tt.in); got != tt.want {
				t.Fatalf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
