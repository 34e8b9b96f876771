package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
)

// Verification reports as the admin API answers them.
const (
	intactReport = `{"intact":true,"rows":6,"headId":6,"headHash":"ab12"}`
	brokenReport = `{"intact":false,"rows":42,"headId":41,"headHash":"cd34",` +
		`"break":{"id":42,"problem":"hash_mismatch",` +
		`"detail":"the row's contents do not match its hash: the row was altered","prevId":41}}`
)

func TestAuditVerify(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		status    int
		body      string
		wantOut   []string // lines stdout must hold
		wantJSON  bool     // stdout must be the answer as JSON
		wantError string   // empty: success
	}{
		{name: "intact", status: 200, body: intactReport,
			wantOut: []string{"chain intact, 6 rows", "head: row 6, hash ab12"}},
		{name: "intact, empty log", status: 200,
			body:    `{"intact":true,"rows":0,"headId":0,"headHash":""}`,
			wantOut: []string{"chain intact, 0 rows"}},
		{name: "intact as JSON", args: []string{"--json"}, status: 200, body: intactReport,
			wantJSON: true},
		{name: "broken", status: 200, body: brokenReport,
			wantOut: []string{"chain broken at row 42: hash_mismatch",
				"the row's contents do not match its hash: the row was altered",
				"last intact row: 41, hash cd34"},
			wantError: "audit chain broken at row 42 (hash_mismatch)"},
		{name: "broken as JSON", args: []string{"--json"}, status: 200, body: brokenReport,
			wantJSON: true, wantError: "audit chain broken at row 42 (hash_mismatch)"},
		{name: "not a report", status: 200, body: `{"items":[]}`,
			wantError: "not a verification report"},
		{name: "database down", status: 503,
			body: `{"error":{"code":"database_unavailable","message":"try again",` +
				`"requestId":"r"}}`,
			wantError: "database_unavailable: try again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startAdmin(t, testToken, map[string]http.HandlerFunc{
				"GET " + auditVerifyPath: fixed(tt.status, tt.body),
			})
			args := append(connect(s), append([]string{"federation", "audit", "verify"},
				tt.args...)...)
			r := run(t, nil, "", args...)
			if tt.wantError != "" {
				if line := r.mustFail(t); !strings.Contains(line, tt.wantError) {
					t.Fatalf("error %q, want %q", line, tt.wantError)
				}
			} else {
				r.mustSucceed(t)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(r.stdout, want+"\n") {
					t.Errorf("stdout %q lacks line %q", r.stdout, want)
				}
			}
			if tt.wantJSON {
				var got, want any
				if json.Unmarshal([]byte(r.stdout), &got) != nil ||
					json.Unmarshal([]byte(tt.body), &want) != nil || !jsonEqual(got, want) {
					t.Errorf("stdout %q, want the answer %s", r.stdout, tt.body)
				}
			}
		})
	}
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// exportLines is an export answer of three events.
const exportLines = `{"id":1,"time":"2026-01-02T03:04:05.006Z","verb":"read","status":403,` +
	`"outcome":"denied","rows":0,"prevHash":"","hash":"aa"}
{"id":2,"time":"2026-01-02T03:04:06Z","verb":"enroll","status":200,` +
	`"outcome":"allowed","rows":0,"prevHash":"aa","hash":"bb"}
{"id":3,"time":"2026-01-02T03:04:07Z","verb":"revoke","status":200,` +
	`"outcome":"allowed","rows":0,"prevHash":"bb","hash":"cc"}
`

// ndjson answers body as JSON lines, flushing after every line; cut
// aborts the connection after the first line instead of ending the answer.
func ndjson(body string, cut bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i, line := range strings.SplitAfter(body, "\n") {
			if cut && i == 1 {
				panic(http.ErrAbortHandler)
			}
			_, _ = io.WriteString(w, line)
			http.NewResponseController(w).Flush()
		}
	}
}

func TestAuditExport(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		handler   http.HandlerFunc
		wantQuery string // empty: no request may be sent
		wantOut   string
		wantError string
	}{
		{name: "everything", handler: ndjson(exportLines, false),
			wantQuery: "format=jsonl", wantOut: exportLines},
		{name: "since, in UTC",
			args:      []string{"--since", "2026-01-02T05:04:06+02:00"},
			handler:   ndjson(exportLines, false),
			wantQuery: "format=jsonl&since=2026-01-02T03%3A04%3A06Z", wantOut: exportLines},
		{name: "nothing to export", handler: ndjson("", false), wantQuery: "format=jsonl"},
		{name: "bad since", args: []string{"--since", "yesterday"},
			wantError: "--since: want an RFC 3339 time"},
		{name: "format refused by the gateway", args: []string{"--format", "csv"},
			handler:   fixed(400, apiError("invalid_format", "format: must be jsonl")),
			wantQuery: "format=csv", wantError: "invalid_format: format: must be jsonl"},
		{name: "cut off", handler: ndjson(exportLines, true), wantQuery: "format=jsonl",
			wantOut:   strings.SplitAfter(exportLines, "\n")[0],
			wantError: "the export was cut off (1 lines received)"},
		{name: "not JSON", handler: ndjson("{\"id\":1}\n\x1b[2Jnot json\n", false),
			wantQuery: "format=jsonl", wantOut: "{\"id\":1}\n",
			wantError: "line 2 of the export is not JSON"},
		{name: "not JSON lines", handler: fixed(200, `{"items":[]}`),
			wantQuery: "format=jsonl", wantError: `answered "application/json", not JSON lines`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := map[string]http.HandlerFunc{}
			if tt.handler != nil {
				routes["GET "+auditExportPath] = tt.handler
			}
			s := startAdmin(t, testToken, routes)
			args := append(connect(s), append([]string{"federation", "audit", "export"},
				tt.args...)...)
			r := run(t, nil, "", args...)
			if tt.wantError != "" {
				if line := r.mustFail(t); !strings.Contains(line, tt.wantError) {
					t.Fatalf("error %q, want %q", line, tt.wantError)
				}
			} else {
				r.mustSucceed(t)
			}
			if r.stdout != tt.wantOut {
				t.Errorf("stdout %q, want %q", r.stdout, tt.wantOut)
			}
			reqs := s.requests()
			if tt.wantQuery == "" {
				if len(reqs) != 0 {
					t.Fatalf("a request was sent: %+v", reqs)
				}
				return
			}
			if len(reqs) != 1 || reqs[0].Query != tt.wantQuery {
				t.Fatalf("sent %+v, want query %s", reqs, tt.wantQuery)
			}
		})
	}
}

// TestAuditCommandsAgainstGateway runs verify and export against a real
// admin API, then alters the database behind it.
func TestAuditCommandsAgainstGateway(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	admin := httptest.NewServer(httpapi.NewAdminHandler(g.Svc,
		mosaic.TokenSecret(testToken).Hash(), g.Logger))
	t.Cleanup(admin.Close)
	var ids []int64
	for _, reason := range []string{"not_found", "token_used", "token_expired"} {
		ev := &mosaic.AuditEvent{Verb: mosaic.VerbEnroll, Status: 404,
			Outcome: mosaic.OutcomeDenied, Reason: reason}
		if err := g.Store.AppendAudit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	conn := []string{"--admin-url", admin.URL, "--admin-token", testToken}
	audit := func(args ...string) result {
		return run(t, nil, "", append(conn, append([]string{"federation", "audit"}, args...)...)...)
	}

	if out := audit("verify").mustSucceed(t).stdout; !strings.HasPrefix(out,
		"chain intact, 3 rows\n") {
		t.Fatalf("verify printed %q", out)
	}
	out := audit("export").mustSucceed(t).stdout
	if n := strings.Count(out, "\n"); n != 3 || !strings.Contains(out, `"reason":"token_used"`) {
		t.Fatalf("export printed %d lines: %q", n, out)
	}

	raw, err := sql.Open("sqlite", "file:"+g.DBPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_events SET outcome = 'allowed' WHERE id = ?`,
		ids[1]); err != nil {
		t.Fatal(err)
	}
	r := audit("verify")
	want := fmt.Sprintf("chain broken at row %d: hash_mismatch\n", ids[1])
	if line := r.mustFail(t); !strings.Contains(line, "audit chain broken at row") ||
		!strings.HasPrefix(r.stdout, want) {
		t.Fatalf("verify after tampering: stderr %q, stdout %q", line, r.stdout)
	}
}
