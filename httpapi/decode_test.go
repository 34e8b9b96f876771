package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
)

// rawRequest is one request with a hand-made body.
type rawRequest struct {
	contentType string
	body        io.Reader
	length      int64 // -1: unknown, sent chunked
}

func TestStrictBodies(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	valid := `{"userId":"` + ada.ID + `","peerName":"A","scope":` +
		`{"resources":["tasks"],"max_rows_per_query":5}}`
	big := `{"userId":"` + ada.ID + `","peerName":"` + strings.Repeat("a", 70<<10) + `"}`

	tests := []struct {
		name   string
		req    rawRequest
		status int
		code   string
	}{
		{"no content type", rawRequest{"", strings.NewReader(valid), 0}, 415, "unsupported_media_type"},
		{"text/plain", rawRequest{"text/plain", strings.NewReader(valid), 0}, 415,
			"unsupported_media_type"},
		{"other charset", rawRequest{"application/json; charset=latin1", strings.NewReader(valid), 0},
			415, "unsupported_media_type"},
		{"too large with length", rawRequest{"application/json", strings.NewReader(big), 0}, 413,
			"body_too_large"},
		{"too large chunked", rawRequest{"application/json", io.MultiReader(strings.NewReader(big)), -1},
			413, "body_too_large"},
		{"unknown field", body(`{"userId":"` + ada.ID + `","peerName":"A","admin":true,` +
			`"scope":{"resources":["tasks"],"max_rows_per_query":5}}`), 400, "unknown_field"},
		{"unknown nested field", body(strings.Replace(valid, `"max_rows`, `"rows":1,"max_rows`, 1)),
			400, "unknown_field"},
		{"duplicate key", body(`{"userId":"` + ada.ID + `","userId":"` + ada.ID +
			`","peerName":"A","scope":{"resources":["tasks"],"max_rows_per_query":5}}`),
			400, "duplicate_key"},
		{"duplicate nested key", body(strings.Replace(valid, `"resources":["tasks"]`,
			`"resources":["tasks"],"resources":["notes"]`, 1)), 400, "duplicate_key"},
		{"case-folded key", body(strings.Replace(valid, `"userId"`, `"UserId"`, 1)), 400,
			"unknown_field"},
		{"case-folded nested key", body(strings.Replace(valid, `"resources"`, `"Resources"`, 1)),
			400, "unknown_field"},
		{"trailing object", body(valid + ` {}`), 400, "trailing_data"},
		{"trailing garbage", body(valid + `x`), 400, "trailing_data"},
		{"not JSON", body(`{"userId":`), 400, "invalid_json"},
		{"empty body", body(``), 400, "invalid_json"},
		{"array", body(`[]`), 400, "invalid_json"},
		{"wrong type", body(`{"userId":5}`), 400, "invalid_json"},
		{"deep nesting", body(`{"scope":{"resources":` + strings.Repeat("[", 100) +
			strings.Repeat("]", 100) + `}}`), 400, "invalid_json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", g.admin.URL+"/api/admin/federation/grants", tc.req.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.req.length < 0 {
				req.ContentLength = -1
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			if tc.req.contentType != "" {
				req.Header.Set("Content-Type", tc.req.contentType)
			}
			send(t, g.admin.Client(), req).wantError(t, tc.status, tc.code)
		})
	}

	// None of them changed anything; the valid body works.
	var list struct{ Items []mosaic.Grant }
	g.adminDo(t, "GET", "/api/admin/federation/grants", nil).decode(t, &list)
	var peers struct{ Items []mosaic.Peer }
	g.adminDo(t, "GET", "/api/admin/federation/peers", nil).decode(t, &peers)
	if len(list.Items) != 0 || len(peers.Items) != 0 {
		t.Fatalf("refused requests left %d grants and %d peers", len(list.Items), len(peers.Items))
	}
	g.adminDo(t, "POST", "/api/admin/federation/grants", valid).wantStatus(t, http.StatusCreated)
}

func TestBodyMustBeObject(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	tok := g.issueToken(t, gr.ID)
	for _, text := range []string{`null`, `[]`, `[{"userId":"x"}]`, `"x"`, `5`, `true`,
		` null `} {
		t.Run(text, func(t *testing.T) {
			for _, target := range []struct{ url, auth string }{
				{g.admin.URL + "/api/admin/federation/grants", "Bearer " + adminToken},
				{g.admin.URL + "/api/admin/users", "Bearer " + adminToken},
				{g.admin.URL + "/api/admin/federation/grants/" + gr.ID + "/revoke", "Bearer " +
					adminToken},
				{g.fed.URL + "/api/federation/enrollment/" + tok.Token, ""},
			} {
				method := "POST"
				if strings.HasSuffix(target.url, "/revoke") {
					method = "PATCH"
				}
				req, _ := http.NewRequest(method, target.url, strings.NewReader(text))
				req.Header.Set("Content-Type", "application/json")
				if target.auth != "" {
					req.Header.Set("Authorization", target.auth)
				}
				c := g.admin.Client()
				if target.auth == "" {
					c = g.fedClient(t)
				}
				a := send(t, c, req)
				a.wantError(t, 400, "invalid_json")
				var e apiError
				a.decode(t, &e)
				if e.Error.Message != "body must be a JSON object" {
					t.Errorf("%s: message %q", target.url, e.Error.Message)
				}
			}
		})
	}

	// Nothing was created, revoked or redeemed.
	got := g.adminDo(t, "GET", "/api/admin/federation/grants/"+gr.ID, nil)
	if !strings.Contains(string(got.body), `"status":"pending"`) {
		t.Errorf("grant after refused bodies: %s", got.body)
	}
	var users struct{ Items []mosaic.User }
	g.adminDo(t, "GET", "/api/admin/users", nil).decode(t, &users)
	if len(users.Items) != 1 {
		t.Errorf("users = %d, want 1", len(users.Items))
	}
}

func TestWrongTypeNamesField(t *testing.T) {
	g := startGateway(t)
	tests := []struct {
		body, message string
	}{
		{`{"userId":5}`, "field userId: wrong type"},
		{`{"scope":{"resources":"tasks"}}`, "field scope.resources: wrong type"},
		{`{"scope":[]}`, "field scope: wrong type"},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			a := g.adminDo(t, "POST", "/api/admin/federation/grants", tc.body)
			a.wantError(t, 400, "invalid_json")
			var e apiError
			a.decode(t, &e)
			if e.Error.Message != tc.message {
				t.Errorf("message %q, want %q", e.Error.Message, tc.message)
			}
		})
	}
}

// body is a JSON request of the given text.
func body(s string) rawRequest {
	return rawRequest{"application/json", strings.NewReader(s), 0}
}

func TestEnrollmentBodyRefusalsAreAudited(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	tok := g.issueToken(t, gr.ID)
	_, csr := fedtest.NewCSR(t)
	c := g.fedClient(t)
	url := g.fed.URL + "/api/federation/enrollment/" + tok.Token

	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"not JSON", "text/plain", "x", 415, "unsupported_media_type"},
		{"case-folded key", "application/json", `{"CsrPem":"x"}`, 400, "unknown_field"},
		{"duplicate key", "application/json", `{"csrPem":"x","csrPem":"y"}`, 400, "duplicate_key"},
		{"too large", "application/json", `{"csrPem":"` + strings.Repeat("A", 65<<10) + `"}`, 413,
			"body_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", url, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			a := send(t, c, req)
			a.wantError(t, tc.status, tc.code)
			evs := g.audit(t, "")
			ev := evs[0]
			if ev.Verb != mosaic.VerbEnroll || ev.Outcome != mosaic.OutcomeDenied ||
				ev.Reason != tc.code || ev.RequestID != a.header.Get("X-Request-Id") ||
				ev.TokenHashPrefix != mosaic.HashPrefix(mosaic.TokenSecret(tok.Token).Hash()) {
				t.Errorf("audit event = %+v", ev)
			}
		})
	}
	g.fedDo(t, c, "POST", "/api/federation/enrollment/"+tok.Token, map[string]string{"csrPem": csr}).
		wantStatus(t, http.StatusOK)
}
