package cli

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestQuery(t *testing.T) {
	page := map[string]any{
		"items": []map[string]any{
			{"id": "t1", "userId": userID, "title": "Write the report", "status": "open",
				"updatedAt": "2026-01-02T03:04:05Z"},
			{"id": "t2", "userId": userID, "title": "Line\nbreak", "status": "done",
				"updatedAt": "2026-01-02T03:04:06Z"},
		},
		"nextCursor": "cur-2", "limitApplied": 2, "limitCapped": true,
	}
	s := startAdmin(t, testToken, map[string]http.HandlerFunc{
		"GET /api/admin/federation/peers/{peer}/query/tasks": fixed(200, page),
		"GET /api/admin/federation/peers/{peer}/query/credentials": fixed(403,
			apiError("resource_not_in_scope", "resource not in the grant's scope")),
		"GET /api/admin/federation/peers/{peer}/query/notes": fixed(502,
			apiError("peer_unreachable", "the remote gateway could not be reached")),
	})

	r := run(t, nil, "", append(connect(s), "federation", "query", peerID, "tasks",
		"--limit", "10", "--cursor", "cur-1", "--since", "2026-01-01T01:00:00+01:00")...).mustSucceed(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := []string{"ID USER STATUS TITLE UPDATED",
		"t1 " + userID + " open Write the report 2026-01-02T03:04:05Z",
		"t2 " + userID + " done Line break 2026-01-02T03:04:06Z",
		"next cursor: cur-2", "limit applied 2 (capped)"}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", r.stdout)
	}
	for i := range want {
		if got := strings.Join(strings.Fields(lines[i]), " "); got != want[i] {
			t.Errorf("line %d: %q, want %q", i, got, want[i])
		}
	}
	q, _ := url.ParseQuery(s.requests()[0].Query)
	if q.Get("limit") != "10" || q.Get("cursor") != "cur-1" ||
		q.Get("since") != "2026-01-01T00:00:00Z" {
		t.Errorf("query sent: %v", q)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"denied", []string{peerID, "credentials"},
			"denied: resource_not_in_scope: resource not in the grant's scope"},
		{"peer unreachable", []string{peerID, "notes"},
			"peer_unreachable: the remote gateway could not be reached"},
		{"unknown resource", []string{peerID, "secrets"},
			`unknown resource "secrets": want tasks, notes, teams, users or credentials`},
		{"peer not an id", []string{"Gateway B", "tasks"}, "invalid_peer: peer: not a valid id"},
		{"bad since", []string{peerID, "tasks", "--since", "yesterday"},
			"--since: want an RFC 3339 time such as 2026-01-02T15:04:05Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(connect(s), append([]string{"federation", "query"}, tt.args...)...)
			if line := run(t, nil, "", args...).mustFail(t); line != tt.want {
				t.Fatalf("error %q, want %q", line, tt.want)
			}
		})
	}
}
