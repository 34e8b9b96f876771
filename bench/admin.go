package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Admin is a client of a gateway's admin API (docs/API.md), limited to
// what the benchmarks need to set a gateway up.
type Admin struct {
	base  string
	token string
	http  *http.Client
}

// NewAdmin returns a client of the admin API at base with a bearer token.
func NewAdmin(base, token string) *Admin {
	return &Admin{
		base:  base,
		token: token,
		http: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 16},
		},
	}
}

// call sends a JSON request and decodes a JSON answer into out (when not
// nil). A status other than want is an error naming the path and the
// answer's error code.
func (a *Admin) call(ctx context.Context, method, path string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("bench: admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("bench: admin %s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("bench: admin %s %s: status %d %s", method, path,
			resp.StatusCode, errorCode(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("bench: admin %s %s: answer: %w", method, path, err)
	}
	return nil
}

// CreateUser creates a user and returns its id.
func (a *Admin) CreateUser(ctx context.Context, name, email string) (string, error) {
	var u struct {
		ID string `json:"id"`
	}
	in := map[string]any{"name": name, "email": email}
	err := a.call(ctx, http.MethodPost, "/api/admin/users", in, &u, http.StatusCreated)
	return u.ID, err
}

// CreateTask creates a task owned by userID.
func (a *Admin) CreateTask(ctx context.Context, userID, title string) error {
	in := map[string]any{"userId": userID, "title": title}
	return a.call(ctx, http.MethodPost, "/api/admin/tasks", in, nil, http.StatusCreated)
}

// CreateGrant creates a grant of userID's tasks, maxRows rows a page, to
// a new pending inbound peer named peerName, and returns the grant's id.
func (a *Admin) CreateGrant(ctx context.Context, userID, peerName string,
	maxRows int) (string, error) {
	var g struct {
		ID string `json:"id"`
	}
	in := map[string]any{
		"userId":   userID,
		"peerName": peerName,
		"scope": map[string]any{
			"resources":          []string{"tasks"},
			"excluded_resources": []string{},
			"max_rows_per_query": maxRows,
		},
	}
	err := a.call(ctx, http.MethodPost, "/api/admin/federation/grants", in, &g, http.StatusCreated)
	return g.ID, err
}

// CreateToken creates an enrollment token of the longest lifetime for a
// grant and returns its enrollment URL (which carries the token: keep it
// out of logs).
func (a *Admin) CreateToken(ctx context.Context, grantID string) (string, error) {
	var t struct {
		EnrollmentURL string `json:"enrollmentUrl"`
	}
	in := map[string]any{"ttlSeconds": 900}
	err := a.call(ctx, http.MethodPost, "/api/admin/federation/grants/"+grantID+"/tokens",
		in, &t, http.StatusCreated)
	return t.EnrollmentURL, err
}
