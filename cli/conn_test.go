package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// usersAnswer is a user listing with one user.
var usersAnswer = map[string]any{"items": []map[string]any{{
	"id": userID, "name": "Alice Example", "email": "alice@b.example", "emailVerified": true,
	"createdAt": "2026-01-02T03:04:05Z", "updatedAt": "2026-01-02T03:04:05Z",
}}}

func TestConnectionPrecedence(t *testing.T) {
	routes := map[string]http.HandlerFunc{"GET /api/admin/users": fixed(200, usersAnswer)}
	fileSrv := startAdmin(t, "", routes)
	envSrv := startAdmin(t, "", routes)
	flagSrv := startAdmin(t, "", routes)
	servers := map[string]*adminServer{"file": fileSrv, "env": envSrv, "flag": flagSrv}

	dir := t.TempDir()
	writeAdminJSON(t, dir, fileSrv.srv.URL, "file-token")
	tokenFile := writeFile(t, "token", "  token-from-file\n")
	envBoth := map[string]string{
		"MOSAIC_ADMIN_URL": envSrv.srv.URL, "MOSAIC_ADMIN_TOKEN": "env-token",
	}

	tests := []struct {
		name       string
		env        map[string]string
		flags      []string
		wantServer string
		wantToken  string
	}{
		{"admin.json alone", nil, nil, "file", "file-token"},
		{"env over admin.json", envBoth, nil, "env", "env-token"},
		{"env URL, token from admin.json", map[string]string{"MOSAIC_ADMIN_URL": envSrv.srv.URL},
			nil, "env", "file-token"},
		{"env token, URL from admin.json", map[string]string{"MOSAIC_ADMIN_TOKEN": "env-token"},
			nil, "file", "env-token"},
		{"flags over env", envBoth,
			[]string{"--admin-url", flagSrv.srv.URL, "--admin-token", "flag-token"},
			"flag", "flag-token"},
		{"flag URL, env token", envBoth, []string{"--admin-url", flagSrv.srv.URL},
			"flag", "env-token"},
		{"token file over env", envBoth, []string{"--admin-token-file", tokenFile},
			"env", "token-from-file"},
		{"MOSAIC_DATA_DIR", map[string]string{"MOSAIC_DATA_DIR": dir}, nil, "file", "file-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]int{}
			for name, s := range servers {
				before[name] = len(s.requests())
			}
			args := []string{"user", "list"}
			if tt.env["MOSAIC_DATA_DIR"] == "" {
				args = append([]string{"--data-dir", dir}, args...)
			}
			r := run(t, tt.env, "", append(args, tt.flags...)...).mustSucceed(t)
			if !strings.Contains(r.stdout, "Alice Example") {
				t.Errorf("stdout %q", r.stdout)
			}
			for name, s := range servers {
				reqs := s.requests()[before[name]:]
				if name != tt.wantServer {
					if len(reqs) != 0 {
						t.Errorf("server %s was called", name)
					}
					continue
				}
				if len(reqs) != 1 || reqs[0].Auth != "Bearer "+tt.wantToken {
					t.Errorf("server %s got %+v, want one request with token %s",
						name, reqs, tt.wantToken)
				}
			}
		})
	}
}

func TestDataDirPrecedence(t *testing.T) {
	routes := map[string]http.HandlerFunc{"GET /api/admin/users": fixed(200, usersAnswer)}
	flagSrv, envSrv, defSrv := startAdmin(t, "", routes), startAdmin(t, "", routes),
		startAdmin(t, "", routes)
	flagDir, envDir, cwd := t.TempDir(), t.TempDir(), t.TempDir()
	writeAdminJSON(t, flagDir, flagSrv.srv.URL, "t1")
	writeAdminJSON(t, envDir, envSrv.srv.URL, "t2")
	if err := os.Mkdir(filepath.Join(cwd, "mosaic-data"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeAdminJSON(t, filepath.Join(cwd, "mosaic-data"), defSrv.srv.URL, "t3")
	t.Chdir(cwd)

	env := map[string]string{"MOSAIC_DATA_DIR": envDir}
	run(t, env, "", "--data-dir", flagDir, "user", "list").mustSucceed(t)
	run(t, env, "", "user", "list").mustSucceed(t)
	run(t, nil, "", "user", "list").mustSucceed(t)
	for name, s := range map[string]*adminServer{"flag": flagSrv, "env": envSrv, "default": defSrv} {
		if n := len(s.requests()); n != 1 {
			t.Errorf("data dir from %s: %d requests, want 1", name, n)
		}
	}
}

func TestMissingAdminJSON(t *testing.T) {
	dir := t.TempDir()
	r := run(t, nil, "", "--data-dir", dir, "user", "list")
	line := r.mustFail(t)
	for _, want := range []string{filepath.Join(dir, "admin.json"), "not found", "--admin-url"} {
		if !strings.Contains(line, want) {
			t.Errorf("error %q does not mention %q", line, want)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout %q", r.stdout)
	}
}

func TestBadAdminJSON(t *testing.T) {
	const secret = "s3cr3t-admin-token-value"
	tests := []struct {
		name    string
		content string
	}{
		{"not JSON", `{"adminUrl": "http://127.0.0.1:1", "adminToken": ` + secret + `}`},
		{"no URL", `{"adminToken": "` + secret + `"}`},
		{"bad URL", `{"adminUrl": "ftp://x", "adminToken": "` + secret + `"}`},
		{"token with spaces",
			`{"adminUrl": "http://127.0.0.1:1", "adminToken": "` + secret + ` x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "admin.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			line := run(t, nil, "", "--data-dir", dir, "user", "list").mustFail(t)
			if strings.Contains(line, secret) {
				t.Fatalf("error reveals the token: %q", line)
			}
		})
	}
}
