package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/remote"
)

// Tools are the programs and the server a run uses.
type Tools struct {
	// Mosaic, Loadgen, StepCA and Nginx are binaries; StepInit is
	// deploy/step-ca/init.sh.
	Mosaic   string
	Loadgen  string
	StepCA   string
	StepInit string
	Nginx    string
	// PostgresURL is a server where throwaway databases may be made.
	PostgresURL string
	// Baseline, when not empty, is a mosaic binary built from an earlier
	// commit, measured beside Mosaic ("before" and "after"); BaselineRef
	// names that commit for the report.
	Baseline    string
	BaselineRef string
}

// Suite runs the benchmarks of one Plan and fills a Report.
type Suite struct {
	plan   Plan
	tools  Tools
	dir    string
	out    io.Writer
	report *Report

	pg    *Postgres
	step  *StepCA
	nginx *Nginx
	nodes map[string]*node
	all   []*Gateway
}

// node is one gateway with the peer enrolled to read from it.
type node struct {
	name    string
	dataDir string
	dbURL   string
	gw      *Gateway
	reader  *Reader
}

// Run measures everything the plan says, working in dir (which it fills
// with data directories, logs and configuration), printing its progress
// to out. It stops every process it started before it returns; the
// report holds what was measured even when an error cut the run short.
func Run(ctx context.Context, plan Plan, tools Tools, dir string, out io.Writer) (*Report, error) {
	if err := plan.Check(); err != nil {
		return nil, err
	}
	s := &Suite{
		plan: plan, tools: tools, dir: dir, out: out, nodes: map[string]*node{},
		report: &Report{Started: time.Now(), Plan: plan, Runs: plan.Runs,
			Machine: DescribeMachine()},
	}
	defer s.close()
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"set-up", s.setup},
		{"federated reads", s.reads},
		{"enrollment", s.enroll},
		{"growth", s.growth},
	}
	for _, st := range steps {
		if !plan.runs(st.name) {
			continue
		}
		s.printf("== %s", st.name)
		if err := st.run(ctx); err != nil {
			return s.report, fmt.Errorf("%s: %w", st.name, err)
		}
	}
	s.report.Elapsed = time.Since(s.report.Started)
	return s.report, nil
}

// printf prints one line of progress, and samples the load average for
// the report.
func (s *Suite) printf(format string, args ...any) {
	load := ""
	if v, ok := LoadAverage(); ok {
		s.report.Load = append(s.report.Load, v)
		load = fmt.Sprintf("load %4.1f  ", v)
	}
	fmt.Fprintf(s.out, "%s  %s%s\n", time.Now().Format("15:04:05"), load,
		fmt.Sprintf(format, args...))
}

// setup starts PostgreSQL databases, step-ca, the three gateways of the
// read and enrollment runs with a reader each (and the two "before"
// gateways of the baseline binary, when there is one), and nginx.
func (s *Suite) setup(ctx context.Context) error {
	var err error
	if s.pg, err = OpenPostgres(ctx, s.tools.PostgresURL); err != nil {
		return err
	}
	s.report.Versions = s.versions(ctx)
	s.step, err = StartStepCA(ctx, s.tools.StepCA, s.tools.StepInit, filepath.Join(s.dir, "step-ca"))
	if err != nil {
		return err
	}
	s.printf("step-ca ready")

	specs := []nodeSpec{
		{name: "sqlite", ca: "embedded"},
		{name: "postgres", ca: "embedded", postgres: true},
		{name: "step", ca: "step", env: s.step.Env},
	}
	if s.tools.Baseline != "" {
		s.report.Before = &BeforeAfter{Ref: s.tools.BaselineRef}
		for _, store := range beforeStores {
			specs = append(specs, nodeSpec{name: beforeName(store), ca: "embedded",
				postgres: store == "postgres", bin: s.tools.Baseline})
		}
	}
	for _, spec := range specs {
		n, err := s.startNode(ctx, spec)
		if err != nil {
			return err
		}
		s.nodes[spec.name] = n
		s.printf("gateway %s ready (%s), reader enrolled", spec.name, n.gw.FederationURL())
	}
	return s.startNginx(ctx)
}

// nodeSpec says how to start one gateway: its name (which names its data
// directory and database), its CA, whether it keeps its data in
// PostgreSQL, what its environment adds, and its binary (empty for
// Tools.Mosaic).
type nodeSpec struct {
	name, ca string
	postgres bool
	env      []string
	bin      string
}

// startNode starts a gateway and enrolls a reader of PageRows tasks.
func (s *Suite) startNode(ctx context.Context, spec nodeSpec) (*node, error) {
	name := spec.name
	n := &node{name: name, dataDir: filepath.Join(s.dir, name)}
	if spec.postgres {
		var err error
		if n.dbURL, err = s.pg.CreateDatabase(ctx, strings.ReplaceAll(name, "-", "_")); err != nil {
			return nil, err
		}
	}
	bin := spec.bin
	if bin == "" {
		bin = s.tools.Mosaic
	}
	gw, err := StartGateway(ctx, GatewayOptions{
		Bin: bin, DataDir: n.dataDir, DatabaseURL: n.dbURL, CA: spec.ca, Env: spec.env,
	})
	if err != nil {
		return nil, err
	}
	n.gw = gw
	s.all = append(s.all, gw)
	peerDir := n.dataDir + "-peer"
	if err := os.MkdirAll(peerDir, 0o700); err != nil {
		return nil, err
	}
	n.reader, err = SetupReader(ctx, gw.Admin(), gw.FederationURL(), peerDir, PageRows)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", name, err)
	}
	return n, nil
}

// startNginx serves the SQLite gateway's page as a static file, verifying
// client certificates against the same CA as the gateway.
func (s *Suite) startNginx(ctx context.Context) error {
	r := s.nodes["sqlite"].reader
	body, err := r.Fetch(ctx)
	if err != nil {
		return err
	}
	if err := checkPage(body); err != nil {
		return err
	}
	chain, _, err := remote.FetchPinnedCA(ctx, s.nodes["sqlite"].gw.FederationURL(), r.CAPin, nil)
	if err != nil {
		return err
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(r.URL, s.nodes["sqlite"].gw.FederationURL()), "?")
	s.nginx, err = StartNginx(ctx, NginxOptions{
		Bin: s.tools.Nginx, Dir: filepath.Join(s.dir, "nginx"), Body: body, Path: path,
		ClientCAPEM: pki.EncodeCerts(chain...), Workers: s.plan.NginxWorkers,
	})
	if err != nil {
		return err
	}
	s.printf("nginx ready (%s), serving the same %d bytes", s.nginx.URL, len(body))
	return nil
}

// checkPage makes sure a page holds PageRows items.
func checkPage(body []byte) error {
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("bench: page: %w", err)
	}
	if len(page.Items) != PageRows {
		return fmt.Errorf("bench: page holds %d items, want %d", len(page.Items), PageRows)
	}
	return nil
}

// loadgen runs the load generator with args (and stdin) and decodes its
// result.
func (s *Suite) loadgen(ctx context.Context, stdin io.Reader, args ...string) (*Result, error) {
	cmd := exec.CommandContext(ctx, s.tools.Loadgen, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: loadgen: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var r Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("bench: loadgen answer: %w", err)
	}
	return &r, nil
}

// readTarget is a URL to read and the files that authenticate both ends.
type readTarget struct {
	name               string
	url, ca, cert, key string
}

// target returns a reader's read target.
func (r *Reader) target(name string) readTarget {
	return readTarget{name: name, url: r.URL, ca: r.CAFile, cert: r.CertFile, key: r.KeyFile}
}

// readLoad runs one closed-loop read load against t.
func (s *Suite) readLoad(ctx context.Context, t readTarget, clients int,
	d, warmup time.Duration) (Result, error) {
	return s.readLoadAt(ctx, t, clients, d, warmup, 0)
}

// readLoadAt runs one read load against t, open loop at rate requests per
// second when rate is above zero.
func (s *Suite) readLoadAt(ctx context.Context, t readTarget, clients int,
	d, warmup time.Duration, rate float64) (Result, error) {
	args := []string{"-mode", "read", "-url", t.url, "-ca", t.ca,
		"-cert", t.cert, "-key", t.key, "-c", strconv.Itoa(clients),
		"-d", d.String(), "-warmup", warmup.String()}
	loop := "clients"
	if rate > 0 {
		args = append(args, "-rate", strconv.FormatFloat(rate, 'f', 1, 64))
		loop = fmt.Sprintf("connections at %.0f/s", rate)
	}
	r, err := s.loadgen(ctx, nil, args...)
	if err != nil {
		return Result{}, fmt.Errorf("%s at %d %s: %w", t.name, clients, loop, err)
	}
	return *r, nil
}

// versions names the versions of what the run measures.
func (s *Suite) versions(ctx context.Context) []Version {
	first := func(name string, args ...string) string {
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			return "unknown"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	return []Version{
		{"Go", s.report.Machine.GoVersion},
		{"PostgreSQL", s.pg.Version(ctx)},
		{"nginx", strings.TrimPrefix(first(s.tools.Nginx, "-v"), "nginx version: ")},
		{"step-ca", first(s.tools.StepCA, "version")},
	}
}

// close stops every process the suite started and drops its databases.
func (s *Suite) close() {
	if s.nginx != nil {
		s.nginx.Stop()
	}
	for _, g := range s.all {
		if err := g.Stop(); err != nil {
			s.printf("%v", err)
		}
	}
	if s.step != nil {
		s.step.Stop()
	}
	if s.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.pg.Close(ctx); err != nil {
			s.printf("%v", err)
		}
	}
}
