package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// verifyAudit times `mosaic federation audit verify --json` against a
// node's gateway, run after run, and records what each run reported. A
// chain that does not verify fails the step, once recorded.
func (s *Suite) verifyAudit(ctx context.Context, n *node, name string) error {
	v := AuditVerify{Name: name}
	defer func() { s.report.AuditVerify = append(s.report.AuditVerify, v) }()
	for run := range s.plan.Runs {
		start := time.Now()
		rep, err := s.auditVerify(ctx, n.gw)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		secs := time.Since(start).Seconds()
		v.Rows, v.Seconds = append(v.Rows, rep.Rows), append(v.Seconds, secs)
		v.Intact = append(v.Intact, rep.Intact)
		s.printf("audit verify %s run %d/%d: %d rows in %.2fs, intact %v", name, run+1,
			s.plan.Runs, rep.Rows, secs, rep.Intact)
		if b := rep.Break; !rep.Intact && b != nil {
			return fmt.Errorf("bench: audit chain of %s broken at row %d (%s): %s", name, b.ID,
				b.Problem, b.Detail)
		}
	}
	return nil
}

// auditVerify runs the CLI's verification against g and decodes its
// report. The CLI exits non-zero when the chain is broken, after printing
// the report: that is a report, not an error.
func (s *Suite) auditVerify(ctx context.Context, g *Gateway) (*auditchain.Report, error) {
	cmd := exec.CommandContext(ctx, s.tools.Mosaic, "federation", "audit", "verify", "--json")
	// The admin connection goes through the environment, as the token
	// must not appear in the process list.
	cmd.Env = append(os.Environ(), g.cliEnv()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep auditchain.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("bench: audit verify: %v: %s", runErr,
			strings.TrimSpace(stderr.String()))
	}
	if runErr != nil && rep.Intact {
		return nil, fmt.Errorf("bench: audit verify: %w: %s", runErr,
			strings.TrimSpace(stderr.String()))
	}
	return &rep, nil
}
