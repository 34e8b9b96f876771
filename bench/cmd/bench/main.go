// Command bench runs the gateway's benchmarks and writes BENCHMARKS.md.
// `make bench` (scripts/bench.sh) builds the binaries it needs and runs it;
// see package bench for what is measured.
//
//	bench -mosaic bin/mosaic -loadgen bin/loadgen -step-ca STEP_CA \
//	  -step-init deploy/step-ca/init.sh -out BENCHMARKS.md [-quick]
//
// With -baseline, a mosaic binary built from an earlier commit runs beside
// the current one, and the report compares reads and enrollment before
// and after, measured in the same runs:
//
//	bench … -baseline /tmp/mosaic-before -baseline-ref "02e33b8 …"
//
// With BENCH_KEEP=1 the raw results stay in results.json of the working
// directory; -render rewrites the report from them without measuring:
//
//	bench -render /tmp/mosaic-bench-…/results.json -out BENCHMARKS.md
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mosaicgw/mosaic/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	tools    bench.Tools
	out      string
	dir      string
	keep     bool
	quick    bool
	runs     int
	profiles string
	render   string
	only     string
}

// parseFlags reads the flags, with defaults from BENCH_* variables.
func parseFlags() options {
	var o options
	flag.StringVar(&o.tools.Mosaic, "mosaic", "bin/mosaic", "mosaic binary")
	flag.StringVar(&o.tools.Loadgen, "loadgen", "bin/loadgen", "load generator binary")
	flag.StringVar(&o.tools.StepCA, "step-ca", "", "step-ca binary (scripts/build-step-ca.sh)")
	flag.StringVar(&o.tools.StepInit, "step-init", "deploy/step-ca/init.sh", "step-ca init script")
	flag.StringVar(&o.tools.Nginx, "nginx", "nginx", "nginx binary")
	flag.StringVar(&o.tools.PostgresURL, "postgres", envOr("BENCH_POSTGRES_URL",
		bench.DefaultPostgresURL), "PostgreSQL server for throwaway databases (BENCH_POSTGRES_URL)")
	flag.StringVar(&o.tools.Baseline, "baseline", "",
		"mosaic binary built from an earlier commit, measured beside -mosaic (before and after)")
	flag.StringVar(&o.tools.BaselineRef, "baseline-ref", "",
		"the commit -baseline was built from, as the report names it")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.StringVar(&o.dir, "dir", "", "working directory (default: a new temporary one)")
	flag.BoolVar(&o.keep, "keep", os.Getenv("BENCH_KEEP") == "1",
		"keep the working directory (BENCH_KEEP=1)")
	flag.BoolVar(&o.quick, "quick", os.Getenv("BENCH_QUICK") == "1", "quick mode (BENCH_QUICK=1)")
	flag.IntVar(&o.runs, "runs", 0, "runs of every measurement (default 3)")
	flag.StringVar(&o.profiles, "profiles", "",
		"directory holding reads.txt and enroll.txt, pprof summaries to include")
	flag.StringVar(&o.render, "render", "",
		"measure nothing: write the report from a results.json of an earlier run")
	flag.StringVar(&o.only, "only", "",
		"comma-separated steps to run (reads, enrollment, growth); the report is incomplete")
	flag.Parse()
	return o
}

// stepNames are the -only names of the suite's steps.
var stepNames = map[string]string{
	"reads": "federated reads", "enrollment": "enrollment", "growth": "growth",
}

// envOr returns the variable's value, or def when it is empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run measures and writes the report.
func run() error {
	o := parseFlags()
	if o.render != "" {
		return render(o)
	}
	if o.tools.StepCA == "" {
		return fmt.Errorf("-step-ca is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := workDir(o.dir)
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	plan := bench.NewPlan(o.quick)
	if o.runs != 0 {
		plan.Runs = o.runs
	}
	if o.only != "" {
		for _, step := range strings.Split(o.only, ",") {
			name, ok := stepNames[step]
			if !ok {
				return fmt.Errorf("-only: unknown step %q (reads, enrollment, growth)", step)
			}
			plan.Only = append(plan.Only, name)
		}
	}
	report, runErr := bench.Run(ctx, plan, o.tools, dir, os.Stdout)
	if report == nil {
		return runErr
	}
	report.Quick = o.quick
	if err := saveJSON(filepath.Join(dir, "results.json"), report); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if report.Profiles, err = readProfiles(o.profiles); err != nil {
		return err
	}
	if err := writeReport(o.out, report); err != nil {
		return err
	}
	fmt.Printf("wrote %s (run took %s)\n", o.out, report.Elapsed.Round(1e9))
	if o.keep {
		fmt.Printf("working directory kept: %s\n", dir)
	}
	return nil
}

// render writes the report of an earlier run from its raw results.
func render(o options) error {
	data, err := os.ReadFile(o.render)
	if err != nil {
		return err
	}
	var report bench.Report
	if err := json.Unmarshal(data, &report); err != nil {
		return fmt.Errorf("%s: %w", o.render, err)
	}
	if o.profiles != "" {
		if report.Profiles, err = readProfiles(o.profiles); err != nil {
			return err
		}
	}
	return writeReport(o.out, &report)
}

// workDir returns the working directory, made if need be. Other users may
// traverse it (nginx's workers read their files from a subdirectory) but
// not list it; the data directories inside are private.
func workDir(dir string) (string, error) {
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "mosaic-bench-")
	} else {
		err = os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return "", err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o711)
}

// saveJSON writes the raw results.
func saveJSON(path string, report *bench.Report) error {
	data, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// readProfiles reads the pprof summaries in dir, if any.
func readProfiles(dir string) ([]bench.Profile, error) {
	if dir == "" {
		return nil, nil
	}
	var out []bench.Profile
	for _, p := range []struct{ file, name string }{
		{"reads.txt", "Federated reads"}, {"enroll.txt", "Enrollment"},
	} {
		data, err := os.ReadFile(filepath.Join(dir, p.file))
		if err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
		out = append(out, bench.Profile{Name: p.name, Top: strings.TrimSpace(string(data))})
	}
	return out, nil
}

// writeReport writes the Markdown report through a temporary file.
func writeReport(path string, report *bench.Report) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := report.WriteMarkdown(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
