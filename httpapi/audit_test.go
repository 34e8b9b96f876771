package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// verifyAnswer asks the admin API to verify the audit chain.
func (g *gateway) verifyAnswer(t *testing.T) *auditchain.Report {
	t.Helper()
	a := g.adminDo(t, "GET", "/api/admin/federation/audit/verify", nil)
	a.wantStatus(t, http.StatusOK)
	var r auditchain.Report
	a.decode(t, &r)
	return &r
}

// exportLines exports the audit log through the admin API with query q
// and parses every line, checking that each holds the chain fields.
func (g *gateway) exportLines(t *testing.T, q string) []*auditchain.Record {
	t.Helper()
	a := g.adminDo(t, "GET", "/api/admin/federation/audit/export?"+q, nil)
	a.wantStatus(t, http.StatusOK)
	if ct := a.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("export Content-Type %q, want application/x-ndjson", ct)
	}
	var recs []*auditchain.Record
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var fields map[string]json.RawMessage
		var rec auditchain.Record
		if err := json.Unmarshal(sc.Bytes(), &fields); err != nil {
			t.Fatalf("line %d %q: %v", len(recs)+1, sc.Text(), err)
		}
		for _, k := range []string{"id", "time", "verb", "outcome", "prevHash", "hash"} {
			if _, ok := fields[k]; !ok {
				t.Fatalf("line %q has no %s", sc.Text(), k)
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// rawSQLite opens the gateway's database file without the store.
func (g *gateway) rawSQLite(t *testing.T) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+g.DBPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return raw
}

// auditTrail gives the gateway audit events of every kind: an allowed
// enrollment and read, a denied read, a denied enrollment and a revocation.
func auditTrail(t *testing.T, g *gateway) {
	t.Helper()
	_, gr, cert := readSetup(t, g)
	c := g.fedClient(t, cert)
	g.fedDo(t, c, "GET", "/api/federation/v1/tasks", nil).wantStatus(t, http.StatusOK)
	g.fedDo(t, c, "GET", "/api/federation/v1/notes", nil).
		wantError(t, http.StatusForbidden, "resource_not_in_scope")
	_, csr := fedtest.NewCSR(t)
	unknown := strings.Repeat("A", mosaic.TokenLen-1) + "Q"
	g.fedDo(t, g.fedClient(t), "POST", "/api/federation/enrollment/"+unknown,
		map[string]string{"csrPem": csr}).wantError(t, http.StatusNotFound, "token_not_found")
	g.adminDo(t, "PATCH", "/api/admin/federation/grants/"+gr.ID+"/revoke",
		map[string]any{"reason": "done"}).wantStatus(t, http.StatusOK)
}

func TestAuditVerifyAndExport(t *testing.T) {
	g := startGateway(t)
	auditTrail(t, g)
	listed := g.audit(t, "limit=1000")

	r := g.verifyAnswer(t)
	if !r.Intact || r.Break != nil || r.Rows != int64(len(listed)) || len(listed) < 5 ||
		r.HeadID != listed[0].ID {
		t.Fatalf("verify = %+v over %d events, want intact", r, len(listed))
	}

	// Every event, oldest first, each line enough to check its link.
	recs := g.exportLines(t, "format=jsonl")
	if len(recs) != len(listed) {
		t.Fatalf("exported %d lines, listed %d events", len(recs), len(listed))
	}
	prev := ""
	for i, rec := range recs {
		if rec.AuditEvent != listed[len(listed)-1-i] || rec.PrevHash != prev ||
			rec.Hash != auditchain.Hash(prev, &rec.AuditEvent) {
			t.Fatalf("line %d = %+v, want event %+v linked to %q", i+1, rec,
				listed[len(listed)-1-i], prev)
		}
		prev = rec.Hash
	}
	if prev != r.HeadHash {
		t.Fatalf("last exported hash %s, verified head %s", prev, r.HeadHash)
	}

	// since keeps the events at or after it, still oldest first.
	since := recs[2].Time
	var want []int64
	for _, rec := range recs {
		if !rec.Time.Before(since) {
			want = append(want, rec.ID)
		}
	}
	var got []int64
	q := url.Values{"since": {since.Format(time.RFC3339Nano)}}
	for _, rec := range g.exportLines(t, q.Encode()) {
		got = append(got, rec.ID)
	}
	if len(got) == 0 || !slices.Equal(got, want) {
		t.Fatalf("since %s exported ids %v, want %v", since, got, want)
	}
}

func TestAuditVerifyBroken(t *testing.T) {
	g := startGateway(t)
	auditTrail(t, g)
	recs := g.exportLines(t, "")
	raw := g.rawSQLite(t)
	if _, err := raw.Exec(`DELETE FROM audit_events WHERE id = ?`, recs[2].ID); err != nil {
		t.Fatal(err)
	}

	r := g.verifyAnswer(t)
	want := auditchain.Break{ID: recs[3].ID, Problem: auditchain.ProblemPrevMismatch,
		PrevID: recs[1].ID}
	if r.Intact || r.Break == nil || r.Break.ID != want.ID || r.Break.Problem != want.Problem ||
		r.Break.PrevID != want.PrevID || r.Rows != 3 {
		t.Fatalf("verify = %+v (break %+v), want %+v after 3 rows", r, r.Break, want)
	}
}

func TestAuditExportRefusals(t *testing.T) {
	g := startGateway(t)
	tests := []struct {
		name   string
		query  string
		status int
		code   string
	}{
		{"unknown format", "format=csv", http.StatusBadRequest, "invalid_format"},
		{"since not RFC 3339", "format=jsonl&since=yesterday", http.StatusBadRequest,
			"invalid_since"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g.adminDo(t, "GET", "/api/admin/federation/audit/export?"+tc.query, nil).
				wantError(t, tc.status, tc.code)
		})
	}
	for _, path := range []string{"/api/admin/federation/audit/export",
		"/api/admin/federation/audit/verify"} {
		t.Run("no token "+path, func(t *testing.T) {
			resp, err := g.admin.Client().Get(g.admin.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
		})
	}
	t.Run("nothing to export", func(t *testing.T) {
		if recs := g.exportLines(t, "since=2100-01-01T00:00:00Z"); len(recs) != 0 {
			t.Fatalf("exported %d records, want none", len(recs))
		}
	})
}

// TestAuditExportStreams exports more than one batch: the answer is
// streamed, and a failure after the first batch cuts the connection
// rather than ending the answer as if it were whole.
func TestAuditExportStreams(t *testing.T) {
	g := startGateway(t)
	for range federation.AuditBatch + 1 {
		err := g.Store.AppendAudit(context.Background(), &mosaic.AuditEvent{
			Verb: mosaic.VerbRead, Status: 403, Outcome: mosaic.OutcomeDenied})
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(t *testing.T) (*http.Response, []byte, error) {
		t.Helper()
		req, err := http.NewRequest("GET", g.admin.URL+"/api/admin/federation/audit/export", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := g.admin.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	resp, body, err := get(t)
	if err != nil || resp.ContentLength != -1 ||
		bytes.Count(body, []byte("\n")) != federation.AuditBatch+1 {
		t.Fatalf("export: %v, length %d, %d lines", err, resp.ContentLength,
			bytes.Count(body, []byte("\n")))
	}

	g.Faults.FailAuditScans(1, unavailable("database_unavailable"))
	defer g.Faults.FailAuditScans(0, nil)
	resp, body, err = get(t)
	if resp.StatusCode != http.StatusOK || err == nil {
		t.Fatalf("export failing after one batch: status %d, %d bytes, read error %v; "+
			"want a cut answer", resp.StatusCode, len(body), err)
	}

	g.Faults.FailAuditScans(0, unavailable("database_unavailable"))
	g.adminDo(t, "GET", "/api/admin/federation/audit/export", nil).
		wantError(t, http.StatusServiceUnavailable, "database_unavailable")
}
