package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// ceilingCSRs is how many CSRs the crypto ceiling cycles through.
const ceilingCSRs = 256

// enrollMax bounds one enrollment load.
const enrollMax = 5 * time.Minute

// enroll measures, run after run and back to back: the crypto ceiling
// (without and with the check of the issued certificate), enrollment on
// the SQLite and PostgreSQL gateways with the embedded CA (then on their
// "before" twins, when there are some), step-ca signing on its own, and
// enrollment on the gateway whose CA is step-ca.
func (s *Suite) enroll(ctx context.Context) error {
	csrs, err := NewCSRs(ceilingCSRs)
	if err != nil {
		return err
	}
	ceiling, err := NewCeiling(ctx, csrs)
	if err != nil {
		return err
	}
	rep := &s.report.Enroll
	for run := range s.plan.Runs {
		jobs, direct, err := s.prepareEnrollRun(ctx)
		if err != nil {
			return err
		}
		if err := s.enrollRun(ctx, ceiling, jobs, direct); err != nil {
			return err
		}
		last := len(rep.SQLite) - 1
		s.printf("enroll run %d/%d: ceiling %.0f/s (+verify %.0f/s) | sqlite %s | postgres %s",
			run+1, s.plan.Runs, rep.Ceiling[last], rep.CeilingVerify[last],
			brief(rep.SQLite[last]), brief(rep.Postgres[last]))
		if b := s.report.Before; b != nil {
			s.printf("enroll run %d/%d: %s", run+1, s.plan.Runs, beforeBrief(&b.Enroll))
		}
		s.printf("enroll run %d/%d: step-ca direct %s | gateway with step-ca %s",
			run+1, s.plan.Runs, brief(rep.StepDirect[last]), brief(rep.StepGateway[last]))
	}
	return nil
}

// prepareEnrollRun creates the grants and tokens of one run on each
// gateway, each job with a fresh CSR, and the CSRs step-ca signs directly.
func (s *Suite) prepareEnrollRun(ctx context.Context) (map[string][]EnrollJob, []string, error) {
	start := time.Now()
	n := s.plan.EnrollCount
	jobs := map[string][]EnrollJob{}
	for _, name := range append([]string{"sqlite", "postgres", "step"}, s.beforeNames()...) {
		csrs, err := NewCSRs(n)
		if err != nil {
			return nil, nil, err
		}
		nd := s.nodes[name]
		jobs[name], err = PrepareEnrollments(ctx, nd.gw.Admin(), nd.reader.UserID, csrs, n)
		if err != nil {
			return nil, nil, fmt.Errorf("gateway %s: %w", name, err)
		}
	}
	direct, err := NewCSRs(n)
	if err != nil {
		return nil, nil, err
	}
	s.printf("prepared %d grants and tokens on each gateway in %.1fs", n,
		time.Since(start).Seconds())
	return jobs, direct, nil
}

// enrollRun measures one run of every enrollment figure.
func (s *Suite) enrollRun(ctx context.Context, ceiling *Ceiling, jobs map[string][]EnrollJob,
	direct []string) error {
	rep := &s.report.Enroll
	c, err := ceiling.Run(ctx, s.plan.CeilingDuration, false)
	if err != nil {
		return fmt.Errorf("crypto ceiling: %w", err)
	}
	cv, err := ceiling.Run(ctx, s.plan.CeilingDuration, true)
	if err != nil {
		return fmt.Errorf("crypto ceiling: %w", err)
	}
	rep.Ceiling, rep.CeilingVerify = append(rep.Ceiling, c), append(rep.CeilingVerify, cv)

	for _, name := range []string{"sqlite", "postgres"} {
		r, err := s.enrollLoad(ctx, name, jobs[name])
		if err != nil {
			return err
		}
		if name == "sqlite" {
			rep.SQLite = append(rep.SQLite, *r)
		} else {
			rep.Postgres = append(rep.Postgres, *r)
		}
	}
	if err := s.enrollBefore(ctx, jobs); err != nil {
		return err
	}
	d, err := s.step.SignLoad(ctx, direct, s.plan.EnrollClients)
	if err != nil {
		return fmt.Errorf("step-ca direct: %w", err)
	}
	rep.StepDirect = append(rep.StepDirect, *d)
	r, err := s.enrollLoad(ctx, "step", jobs["step"])
	if err != nil {
		return err
	}
	rep.StepGateway = append(rep.StepGateway, *r)
	return nil
}

// enrollLoad sends the jobs to a gateway's enrollment endpoint through
// the load generator; the jobs (and their tokens) go through its standard
// input.
func (s *Suite) enrollLoad(ctx context.Context, name string, jobs []EnrollJob) (*Result, error) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, j := range jobs {
		if err := enc.Encode(j); err != nil {
			return nil, err
		}
	}
	r, err := s.loadgen(ctx, &in, "-mode", "enroll", "-ca", s.nodes[name].reader.CAFile,
		"-c", strconv.Itoa(s.plan.EnrollClients), "-max", enrollMax.String())
	if err != nil {
		return nil, fmt.Errorf("enroll on %s: %w", name, err)
	}
	return r, nil
}
