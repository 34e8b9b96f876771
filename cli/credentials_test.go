package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestCredentialCreate(t *testing.T) {
	const secret = "hunter2-not-federated"
	created := map[string]any{"id": "c1", "userId": userID, "name": "mail", "kind": "password",
		"createdAt": "2026-01-02T03:04:05Z", "updatedAt": "2026-01-02T03:04:05Z"}
	tests := []struct {
		name       string
		stdin      string
		file       string
		wantSecret string // empty means no request may be sent
	}{
		{name: "stdin without the line break", stdin: secret + "\n", wantSecret: secret},
		{name: "stdin with CRLF", stdin: secret + "\r\n", wantSecret: secret},
		{name: "stdin as is", stdin: " " + secret, wantSecret: " " + secret},
		{name: "secret file", file: secret + "\n", wantSecret: secret},
		{name: "empty stdin"},
		{name: "empty file", file: "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startAdmin(t, testToken, map[string]http.HandlerFunc{
				"POST /api/admin/credentials": fixed(201, created),
			})
			args := append(connect(s), "credential", "create", "--user", userID,
				"--name", "mail", "--kind", "password")
			if tt.file != "" {
				args = append(args, "--secret-file", writeFile(t, "secret", tt.file))
			}
			r := run(t, nil, tt.stdin, args...)
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Fatalf("the secret was printed:\n%s%s", r.stdout, r.stderr)
			}
			reqs := s.requests()
			if tt.wantSecret == "" {
				if line := r.mustFail(t); !strings.Contains(line, "no secret given") {
					t.Errorf("error %q", line)
				}
				if len(reqs) != 0 {
					t.Errorf("a request was sent")
				}
				return
			}
			r.mustSucceed(t)
			var body map[string]string
			if len(reqs) != 1 || json.Unmarshal([]byte(reqs[0].Body), &body) != nil ||
				body["secret"] != tt.wantSecret || body["userId"] != userID {
				t.Fatalf("sent %+v", reqs)
			}
		})
	}
}
