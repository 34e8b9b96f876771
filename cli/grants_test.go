package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// grantAnswer is a grant as the admin API returns it.
var grantAnswer = map[string]any{
	"id": grantID, "userId": userID, "peerId": peerID, "status": "pending",
	"scope": map[string]any{"resources": []string{"tasks", "notes"},
		"excluded_resources": []string{"credentials"}, "max_rows_per_query": 2},
	"createdAt": "2026-01-02T03:04:05Z", "updatedAt": "2026-01-02T03:04:05Z",
}

func TestGrantCreate(t *testing.T) {
	const scope = `{"resources":["tasks","notes"],"excluded_resources":["credentials"],` +
		`"max_rows_per_query":2}`
	scopeFile := writeFile(t, "scope.json", scope)
	tests := []struct {
		name      string
		args      []string
		stdin     string
		wantBody  string // empty means no request may be sent
		wantError string
	}{
		{name: "scope file and peer name",
			args: []string{"--user", userID, "--peer-name", "Gateway A", "--scope", scopeFile},
			wantBody: `{"userId":"` + userID + `","peerName":"Gateway A","scope":` +
				`{"resources":["tasks","notes"],"excluded_resources":["credentials"],` +
				`"max_rows_per_query":2}}`},
		{name: "scope on stdin, peer and expiry",
			args: []string{"--user", userID, "--peer", peerID, "--scope", "-",
				"--expires-at", "2030-06-01T12:00:00+02:00"},
			stdin: `{"resources":["tasks"],"max_rows_per_query":5}`,
			wantBody: `{"userId":"` + userID + `","peerId":"` + peerID + `","scope":` +
				`{"resources":["tasks"],"excluded_resources":[],"max_rows_per_query":5},` +
				`"expiresAt":"2030-06-01T10:00:00Z"}`},
		{name: "invalid scope is refused locally",
			args:      []string{"--user", userID, "--peer", peerID, "--scope", "-"},
			stdin:     `{"resources":["tasks"],"excluded_resources":["tasks"],"max_rows_per_query":5}`,
			wantError: "invalid_scope: scope.excluded_resources:"},
		{name: "unknown scope field",
			args:      []string{"--user", userID, "--peer", peerID, "--scope", "-"},
			stdin:     `{"resources":["tasks"],"max_rows_per_query":5,"all":true}`,
			wantError: "invalid_scope"},
		{name: "peer and peer name",
			args: []string{"--user", userID, "--peer", peerID, "--peer-name", "x",
				"--scope", scopeFile},
			wantError: "peer"},
		{name: "no peer", args: []string{"--user", userID, "--scope", scopeFile},
			wantError: "peer-name"},
		{name: "bad expiry",
			args: []string{"--user", userID, "--peer", peerID, "--scope", scopeFile,
				"--expires-at", "tomorrow"},
			wantError: "--expires-at: want an RFC 3339 time"},
		{name: "past expiry is refused locally",
			args: []string{"--user", userID, "--peer", peerID, "--scope", scopeFile,
				"--expires-at", "2020-01-01T00:00:00Z"},
			wantError: "--expires-at: must be in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startAdmin(t, testToken, map[string]http.HandlerFunc{
				"POST /api/admin/federation/grants": fixed(201, grantAnswer),
			})
			args := append(connect(s), append([]string{"federation", "grant", "create"}, tt.args...)...)
			r := run(t, nil, tt.stdin, args...)
			reqs := s.requests()
			if tt.wantError != "" {
				if line := r.mustFail(t); !strings.Contains(line, tt.wantError) {
					t.Fatalf("error %q, want %q", line, tt.wantError)
				}
				if len(reqs) != 0 {
					t.Fatalf("a request was sent: %+v", reqs)
				}
				return
			}
			r.mustSucceed(t)
			if len(reqs) != 1 || strings.TrimSpace(reqs[0].Body) != tt.wantBody {
				t.Fatalf("sent %+v\nwant body %s", reqs, tt.wantBody)
			}
			if !strings.Contains(r.stdout, "max rows per query:  2") ||
				!strings.Contains(r.stdout, "excluded resources:  credentials") {
				t.Errorf("stdout:\n%s", r.stdout)
			}
		})
	}
}

func TestGrantToken(t *testing.T) {
	const tok = "Zq9x-abcdefghijklmnopqrstuvwxyz0123456789AB"
	url := "https://b.example:8443/api/federation/enrollment/" + tok + "#ca=sha256:" +
		strings.Repeat("ab", 32)
	tokenAnswer := map[string]any{"token": tok, "grantId": grantID, "peerId": peerID,
		"expiresAt": "2026-01-02T03:19:05Z", "ttlSeconds": 900,
		"caPin": "sha256:" + strings.Repeat("ab", 32), "enrollmentUrl": url}
	s := startAdmin(t, testToken, map[string]http.HandlerFunc{
		"POST /api/admin/federation/grants/{id}/tokens": fixed(201, tokenAnswer),
	})

	r := run(t, nil, "", append(connect(s), "federation", "grant", "token", grantID,
		"--ttl", "3600", "--peer", peerID)...).mustSucceed(t)
	for _, want := range []string{tok, url, "ttl 900s, 3600s requested and clamped"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	reqs := s.requests()
	if len(reqs) != 1 || reqs[0].Path != "/api/admin/federation/grants/"+grantID+"/tokens" ||
		strings.TrimSpace(reqs[0].Body) != `{"ttlSeconds":3600,"peerId":"`+peerID+`"}` {
		t.Fatalf("sent %+v", reqs)
	}

	r = run(t, nil, "", append(connect(s), "federation", "grant", "token", grantID, "--json")...)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.mustSucceed(t).stdout), &got); err != nil ||
		got["enrollmentUrl"] != url {
		t.Fatalf("--json printed %q (%v)", r.stdout, err)
	}
	if body := s.requests()[1].Body; strings.TrimSpace(body) != `{}` {
		t.Errorf("without flags the body is %s, want {}", body)
	}
}

func TestGrantRevokeAndShow(t *testing.T) {
	revoked := map[string]any{}
	for k, v := range grantAnswer {
		revoked[k] = v
	}
	revoked["status"], revoked["revokedAt"], revoked["revokedReason"] =
		"revoked", "2026-01-03T00:00:00Z", "demo finished"
	s := startAdmin(t, testToken, map[string]http.HandlerFunc{
		"PATCH /api/admin/federation/grants/{id}/revoke": fixed(200, revoked),
	})
	r := run(t, nil, "", append(connect(s), "federation", "grant", "revoke", grantID,
		"--reason", "demo finished")...).mustSucceed(t)
	for _, want := range []string{"status:              revoked", "revocation reason:   demo finished",
		"revoked:             2026-01-03T00:00:00Z"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}

	// An argument that is not an id never reaches the API.
	args := append(connect(s), "federation", "grant", "show", "../users")
	line := run(t, nil, "", args...).mustFail(t)
	if line != "invalid_grant: grant: not a valid id" {
		t.Errorf("error %q", line)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
