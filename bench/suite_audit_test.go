package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeMosaic writes a script that answers like `mosaic federation audit
// verify --json`: out on standard output, errText on standard error, and
// the exit status code. It checks that the admin connection came through
// the environment.
func fakeMosaic(t *testing.T, out, errText string, code int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mosaic")
	script := "#!/bin/sh\n" +
		`[ "$MOSAIC_ADMIN_TOKEN" = tok ] || { echo "no token" >&2; exit 9; }` + "\n" +
		"printf '%s' '" + out + "'\n" +
		"printf '%s' '" + errText + "' >&2\n" +
		"exit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyAudit(t *testing.T) {
	const broken = `{"intact":false,"rows":3,"headId":2,"headHash":"ab","break":` +
		`{"id":3,"problem":"missing_hash","detail":"the row has no hash","prevId":2}}`
	tests := []struct {
		name     string
		out, err string
		code     int
		wantErr  string
		wantRuns int
	}{
		{"intact", `{"intact":true,"rows":1000,"headId":1000,"headHash":"ab"}`, "", 0, "", 3},
		{"broken", broken, "mosaic: audit chain broken at row 3 (missing_hash)", 1,
			"broken at row 3 (missing_hash)", 1},
		{"no report", "", "mosaic: no admin connection", 1, "no admin connection", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Suite{tools: Tools{Mosaic: fakeMosaic(t, tt.out, tt.err, tt.code)},
				plan: Plan{Runs: 3}, report: &Report{}, out: io.Discard}
			n := &node{gw: &Gateway{adminAddr: "127.0.0.1:1", adminToken: "tok"}}
			err := s.verifyAudit(context.Background(), n, "SQLite, large")
			if (err == nil) != (tt.wantErr == "") ||
				(err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			if len(s.report.AuditVerify) != 1 || len(s.report.AuditVerify[0].Rows) != tt.wantRuns {
				t.Errorf("recorded %+v, want one gateway with %d runs", s.report.AuditVerify,
					tt.wantRuns)
			}
		})
	}
}
