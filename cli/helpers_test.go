package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// result is what one run of the mosaic command produced.
type result struct {
	code   int
	stdout string
	stderr string
}

// run runs the mosaic command with args, the given environment and
// standard input.
func run(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := New(&stdout, &stderr, func(k string) string { return env[k] })
	root.SetIn(strings.NewReader(stdin))
	code := execute(root, args, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustSucceed fails the test unless r is a success.
func (r result) mustSucceed(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	return r
}

// mustFail fails the test unless r failed with exactly one error line on
// stderr, and returns that line without the "mosaic: " prefix.
func (r result) mustFail(t *testing.T) string {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("succeeded, stdout %q", r.stdout)
	}
	line, ok := strings.CutPrefix(r.stderr, "mosaic: ")
	if !ok || !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("stderr %q: want one line starting with \"mosaic: \"", r.stderr)
	}
	return strings.TrimSuffix(line, "\n")
}

// request is one request an adminServer received.
type request struct {
	Method string
	Path   string
	Query  string
	Auth   string
	Body   string
}

// adminServer is a loopback HTTP server answering the admin routes a test
// needs and recording every request.
type adminServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []request
}

// startAdmin starts an admin server with routes ("METHOD /path" patterns);
// a request without the bearer token gets 401.
func startAdmin(t *testing.T, token string, routes map[string]http.HandlerFunc) *adminServer {
	t.Helper()
	s := &adminServer{}
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.calls = append(s.calls, request{r.Method, r.URL.Path, r.URL.RawQuery,
			r.Header.Get("Authorization"), string(body)})
		s.mu.Unlock()
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			answer(w, http.StatusUnauthorized, apiError("unauthorized", "missing or wrong admin token"))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// requests returns the requests received so far.
func (s *adminServer) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.calls...)
}

// answer writes status and body: a string as is, anything else as JSON.
func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if s, ok := body.(string); ok {
		_, _ = io.WriteString(w, s)
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// fixed returns a handler that always answers status and body.
func fixed(status int, body any) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { answer(w, status, body) }
}

// apiError returns a Mosaic error body.
func apiError(code, message string) map[string]any {
	return map[string]any{"error": map[string]any{
		"code": code, "message": message, "requestId": "req-1",
	}}
}

// writeAdminJSON writes <dir>/admin.json as a gateway does.
func writeAdminJSON(t *testing.T, dir, adminURL, token string) {
	t.Helper()
	data, err := json.Marshal(map[string]string{"adminUrl": adminURL, "adminToken": token})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "admin.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes a file in a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Fixed ids for tests.
const (
	userID  = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	grantID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
	peerID  = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d"
)
