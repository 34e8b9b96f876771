package cli

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func TestGrantCreateExpiresIn(t *testing.T) {
	scopeFile := writeFile(t, "scope.json", `{"resources":["tasks"],"max_rows_per_query":2}`)
	base := []string{"--user", userID, "--peer", peerID, "--scope", scopeFile}
	tests := []struct {
		name      string
		args      []string
		want      time.Duration // from the time of the request
		wantError string
	}{
		{name: "hours", args: []string{"--expires-in", "72h"}, want: 72 * time.Hour},
		{name: "minutes", args: []string{"--expires-in", "90m"}, want: 90 * time.Minute},
		{name: "days", args: []string{"--expires-in", "30d"}, want: 30 * 24 * time.Hour},
		{name: "with expires-at",
			args:      []string{"--expires-in", "1h", "--expires-at", "2030-01-01T00:00:00Z"},
			wantError: "--expires-in and --expires-at: give one, not both"},
		{name: "zero", args: []string{"--expires-in", "0s"}, wantError: "--expires-in: want"},
		{name: "negative", args: []string{"--expires-in", "-2h"}, wantError: "--expires-in: want"},
		{name: "zero days", args: []string{"--expires-in", "0d"}, wantError: "--expires-in: want"},
		{name: "fractional days", args: []string{"--expires-in", "1.5d"},
			wantError: "--expires-in: want"},
		{name: "huge days", args: []string{"--expires-in", "99999999d"},
			wantError: "--expires-in: want"},
		{name: "words", args: []string{"--expires-in", "soon"}, wantError: "--expires-in: want"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startAdmin(t, testToken, map[string]http.HandlerFunc{
				"POST /api/admin/federation/grants": fixed(201, grantAnswer),
			})
			args := append(connect(s), "federation", "grant", "create")
			args = append(append(args, base...), tt.args...)
			before := time.Now()
			r := run(t, nil, "", args...)
			after := time.Now()
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
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			var body struct {
				ExpiresAt *time.Time `json:"expiresAt"`
			}
			if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil ||
				body.ExpiresAt == nil {
				t.Fatalf("body %s has no expiresAt (%v)", reqs[0].Body, err)
			}
			lo, hi := before.Add(tt.want).Truncate(time.Second), after.Add(tt.want)
			if body.ExpiresAt.Before(lo) || body.ExpiresAt.After(hi) {
				t.Fatalf("expiresAt %v, want between %v and %v", body.ExpiresAt, lo, hi)
			}
		})
	}
}

func TestGrantListTimeLeft(t *testing.T) {
	grant := func(id, status string, expiresAt any) map[string]any {
		g := map[string]any{}
		for k, v := range grantAnswer {
			g[k] = v
		}
		g["id"], g["status"] = id, status
		if expiresAt != nil {
			g["expiresAt"] = expiresAt
		}
		return g
	}
	later := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339Nano)
	s := startAdmin(t, testToken, map[string]http.HandlerFunc{
		"GET /api/admin/federation/grants": fixed(200, map[string]any{"items": []any{
			grant("g-never", "active", nil),
			grant("g-later", "pending", later),
			grant("g-gone", "expired", "2026-01-01T00:00:00Z"),
		}}),
	})
	r := run(t, nil, "", append(connect(s), "federation", "grant", "list")...).mustSucceed(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "TIME LEFT") {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	want := map[string]*regexp.Regexp{
		"g-never": regexp.MustCompile(` -$`),
		"g-later": regexp.MustCompile(` 2d23h$`),
		"g-gone":  regexp.MustCompile(` expired$`),
	}
	for _, line := range lines[1:] {
		id := strings.Fields(line)[0]
		if re := want[id]; re == nil || !re.MatchString(strings.TrimSpace(line)) {
			t.Errorf("row %q does not end as %v", line, re)
		}
	}
}

func TestGrantShowTimeLeft(t *testing.T) {
	tests := []struct {
		name      string
		status    string
		expiresAt any
		want      string
	}{
		{"thirty days", "active", time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339Nano),
			"29d23h"},
		{"no expiry", "active", nil, "-"},
		{"expired", "expired", "2026-01-01T00:00:00Z", "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := map[string]any{}
			for k, v := range grantAnswer {
				g[k] = v
			}
			g["status"] = tt.status
			if tt.expiresAt != nil {
				g["expiresAt"] = tt.expiresAt
			}
			s := startAdmin(t, testToken, map[string]http.HandlerFunc{
				"GET /api/admin/federation/grants/{id}": fixed(200, g),
				"GET /api/admin/federation/grants":      fixed(200, map[string]any{"items": []any{g}}),
			})
			show := run(t, nil, "", append(connect(s), "federation", "grant", "show",
				grantID)...).mustSucceed(t)
			re := regexp.MustCompile(`(?m)^time left: +(\S+)$`)
			m := re.FindStringSubmatch(show.stdout)
			if m == nil || m[1] != tt.want {
				t.Fatalf("show has no time left %q:\n%s", tt.want, show.stdout)
			}

			// The list says the same.
			list := run(t, nil, "", append(connect(s), "federation", "grant", "list")...).
				mustSucceed(t)
			lines := strings.Split(strings.TrimSpace(list.stdout), "\n")
			if len(lines) != 2 || !strings.HasSuffix(strings.TrimSpace(lines[1]), " "+m[1]) {
				t.Errorf("list does not end its row with %q:\n%s", m[1], list.stdout)
			}
		})
	}
}

func TestTimeLeft(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name string
		g    mosaic.Grant
		want string
	}{
		{"no expiry", mosaic.Grant{Status: mosaic.GrantActive}, "-"},
		{"days", mosaic.Grant{Status: mosaic.GrantActive, ExpiresAt: at(72*time.Hour - time.Second)},
			"2d23h"},
		{"thirty days", mosaic.Grant{Status: mosaic.GrantActive,
			ExpiresAt: at(30*24*time.Hour - time.Second)}, "29d23h"},
		{"one day", mosaic.Grant{Status: mosaic.GrantActive, ExpiresAt: at(24*time.Hour + time.Hour)},
			"1d01h"},
		{"under a day", mosaic.Grant{Status: mosaic.GrantActive,
			ExpiresAt: at(24*time.Hour - time.Second)}, "23h59m"},
		{"minutes", mosaic.Grant{Status: mosaic.GrantPending, ExpiresAt: at(5 * time.Minute)},
			"0h05m"},
		{"seconds", mosaic.Grant{Status: mosaic.GrantPending, ExpiresAt: at(30 * time.Second)},
			"<1m"},
		{"past, not yet swept", mosaic.Grant{Status: mosaic.GrantActive, ExpiresAt: at(0)},
			"expired"},
		{"marked expired", mosaic.Grant{Status: mosaic.GrantExpired, ExpiresAt: at(-time.Hour)},
			"expired"},
		{"revoked", mosaic.Grant{Status: mosaic.GrantRevoked, ExpiresAt: at(time.Hour)}, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := timeLeft(&tt.g, now); got != tt.want {
				t.Fatalf("timeLeft = %q, want %q", got, tt.want)
			}
		})
	}
}
