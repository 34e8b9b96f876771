package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

func TestRedactPath(t *testing.T) {
	token := strings.Repeat("x", 43)
	tests := []struct {
		name, path, want string
	}{
		{"enrollment", "/api/federation/enrollment/" + token,
			"/api/federation/enrollment/[redacted]"},
		{"enrollment with more", "/api/federation/enrollment/" + token + "/x",
			"/api/federation/enrollment/[redacted]/[redacted]"},
		{"odd case", "/api/federation/Enrollment/abc", "/api/federation/Enrollment/[redacted]"},
		{"unclean path", "/api//federation/enrollment/abc", "/api//federation/enrollment/[redacted]"},
		{"token-like segment elsewhere", "/api/" + token, "/api/[redacted]"},
		{"ids stay", "/api/admin/federation/grants/0190a3c4-7d1e-7b6a-9c3e-2f1b4a5d6e7f",
			"/api/admin/federation/grants/0190a3c4-7d1e-7b6a-9c3e-2f1b4a5d6e7f"},
		{"plain", "/api/federation/v1/tasks", "/api/federation/v1/tasks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := redactPath(tc.path); got != tc.want {
				t.Errorf("redactPath(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestValidBearer(t *testing.T) {
	const token = "secret-admin-token"
	other := []byte(hashOf("another token"))
	real := []byte(hashOf(token))
	tests := []struct {
		name   string
		header string
		want   []byte
		ok     bool
	}{
		{"right", "Bearer " + token, real, true},
		{"lower-case scheme", "bearer " + token, real, true},
		{"wrong token", "Bearer other", real, false},
		{"no scheme", token, real, false},
		{"empty token", "Bearer ", real, false},
		{"other hash", "Bearer " + token, other, false},
		{"no configured hash", "Bearer " + token, nil, false},
		{"configured hash truncated", "Bearer " + token, real[:32], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := validBearer(tc.header, tc.want); got != tc.ok {
				t.Errorf("validBearer = %v, want %v", got, tc.ok)
			}
		})
	}
}

func TestPanicBecomesInternalError(t *testing.T) {
	var logs strings.Builder
	s := &server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	h := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom with detail")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))

	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	id := rec.Header().Get("X-Request-Id")
	if body.Error.Code != "internal" || body.Error.Message != "internal error" ||
		id == "" || body.Error.RequestID != id {
		t.Errorf("answer = %+v, request id %q", body, id)
	}
	if strings.Contains(rec.Body.String(), "boom") || !strings.Contains(logs.String(), "boom") {
		t.Error("panic detail must reach the log and only the log")
	}
}

// hashOf returns the hex SHA-256 of s.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestDecodeErrorWithoutField(t *testing.T) {
	err := decodeError(&json.UnmarshalTypeError{Value: "array", Field: ""})
	if msg := mosaic.ErrorMessage(err); msg != "request body: wrong type" {
		t.Errorf("message %q", msg)
	}
	err = decodeError(&json.UnmarshalTypeError{Value: "number", Field: "scope.max_rows_per_query"})
	if msg := mosaic.ErrorMessage(err); msg != "field scope.max_rows_per_query: wrong type" {
		t.Errorf("message %q", msg)
	}
}
