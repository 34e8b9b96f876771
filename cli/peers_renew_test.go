package cli

import (
	"net/http"
	"strings"
	"testing"
)

func TestPeerListRenewalColumn(t *testing.T) {
	peers := map[string]any{"items": []map[string]any{
		{"id": "01900000-0000-7000-8000-000000000001", "role": "outbound", "displayName": "B",
			"state": "active", "renewal": "ok"},
		{"id": "01900000-0000-7000-8000-000000000002", "role": "outbound", "displayName": "C",
			"state": "active", "renewal": "failing", "renewFailures": 3,
			"renewLastError": "peer_unreachable: the remote gateway\ncould not be reached"},
		{"id": "01900000-0000-7000-8000-000000000003", "role": "outbound", "displayName": "D",
			"state": "active", "renewal": "expired"},
		{"id": "01900000-0000-7000-8000-000000000004", "role": "inbound", "displayName": "E",
			"state": "active"},
	}}
	s := startAdmin(t, testToken, map[string]http.HandlerFunc{
		"GET /api/admin/federation/peers": fixed(200, peers),
	})
	out := run(t, nil, "", append(connect(s), "federation", "peer", "list")...).
		mustSucceed(t).stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "RENEWAL") {
		t.Fatalf("table:\n%s", out)
	}
	for i, want := range []string{" ok",
		" failing ×3: peer_unreachable: the remote gateway could not be reached", " expired", " -"} {
		if !strings.HasSuffix(lines[i+1], want) {
			t.Errorf("row %d = %q, want it to end in %q", i+1, lines[i+1], want)
		}
	}
	js := run(t, nil, "", append(connect(s), "federation", "peer", "list", "--json")...).
		mustSucceed(t).stdout
	if !strings.Contains(js, `"renewFailures": 3`) || !strings.Contains(js, `"renewal": "failing"`) {
		t.Errorf("--json lacks the renewal fields:\n%s", js)
	}
}

func TestPeerRenew(t *testing.T) {
	id := "01900000-0000-7000-8000-000000000001"
	s := startAdmin(t, testToken, map[string]http.HandlerFunc{
		"POST /api/admin/federation/peers/" + id + "/renew": fixed(200, map[string]any{
			"id": id, "role": "outbound", "displayName": "B", "state": "active",
			"certSerial": "0abc", "certNotAfter": "2031-01-02T03:04:05Z",
			"renewNextAt": "2031-01-01T19:04:05Z", "renewal": "ok",
		}),
		"POST /api/admin/federation/peers/{id}/renew": fixed(502, apiError("renewal_refused",
			"the remote gateway refused the renewal (grant_not_active): grant is revoked")),
	})
	out := run(t, nil, "", append(connect(s), "federation", "peer", "renew", id)...).
		mustSucceed(t).stdout
	want := "peer " + id + " (B) renewed: certificate 0abc valid until 2031-01-02T03:04:05Z; " +
		"next renewal at 2031-01-01T19:04:05Z\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	reqs := s.requests()
	if last := reqs[len(reqs)-1]; last.Method != "POST" || last.Body != "" {
		t.Errorf("request %+v, want a POST without a body", last)
	}

	msg := run(t, nil, "", append(connect(s), "federation", "peer", "renew",
		"01900000-0000-7000-8000-000000000009")...).mustFail(t)
	if !strings.Contains(msg, "grant_not_active") {
		t.Errorf("error line %q does not say why", msg)
	}
	msg = run(t, nil, "", append(connect(s), "federation", "peer", "renew", "../x")...).mustFail(t)
	if n := len(s.requests()); n != len(reqs)+1 {
		t.Errorf("a bad peer id was sent (%d requests): %s", n, msg)
	}
}
