package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/gateway"
)

// The profiling benchmarks run a gateway in this process and drive it with
// the load generator in its own process, so that the CPU profile holds the
// gateway's work alone. They are run by scripts/bench.sh when
// BENCH_PROFILE=1:
//
//	BENCH_LOADGEN=bin/loadgen BENCH_PROFILE_DIR=out BENCH_PROFILE_SECONDS=10 \
//	  go test -run '^$' -bench '^BenchmarkProfile' -benchtime 1x ./bench/
//
// Each writes <BENCH_PROFILE_DIR>/<workload>.prof, covering the load only
// (not the set-up through the admin API); go tool pprof reads it. The
// gateway keeps its data in SQLite, or in the PostgreSQL database at
// BENCH_PROFILE_POSTGRES_URL when that is set: an empty database of its
// own, since the benchmark enrolls its peers into it.

// profileEnv is what the profiling benchmarks need from the environment.
type profileEnv struct {
	loadgen string
	dir     string
	secs    int
}

// needProfileEnv reads the environment, skipping the benchmark when it is
// not set.
func needProfileEnv(b *testing.B) profileEnv {
	b.Helper()
	env := profileEnv{loadgen: os.Getenv("BENCH_LOADGEN"), dir: os.Getenv("BENCH_PROFILE_DIR")}
	if env.loadgen == "" || env.dir == "" {
		b.Skip("set BENCH_LOADGEN and BENCH_PROFILE_DIR (scripts/bench.sh does with BENCH_PROFILE=1)")
	}
	env.secs = 10
	if v, err := strconv.Atoi(os.Getenv("BENCH_PROFILE_SECONDS")); err == nil && v > 0 {
		env.secs = v
	}
	return env
}

// inProcess is a gateway running in this process.
type inProcess struct {
	admin  *Admin
	fedURL string
}

// startInProcess runs a gateway (SQLite, embedded CA, logging at info to a
// file as `mosaic gateway serve` logs to stderr) until the benchmark ends.
func startInProcess(b *testing.B) *inProcess {
	b.Helper()
	dir := b.TempDir()
	token, err := randomToken()
	if err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logFile.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	cfg := gateway.Config{
		DataDir:             filepath.Join(dir, "data"),
		DatabaseURL:         os.Getenv("BENCH_PROFILE_POSTGRES_URL"),
		AdminAddr:           "127.0.0.1:0",
		FederationAddr:      "127.0.0.1:0",
		Logger:              slog.New(slog.NewTextHandler(logFile, nil)),
		EnrollRatePerMinute: -1,
		Env: func(k string) string {
			if k == gateway.EnvAdminToken {
				return token
			}
			return os.Getenv(k)
		},
		Ready: func(a, f net.Addr) { ready <- [2]net.Addr{a, f} },
	}
	go func() { done <- gateway.Run(ctx, cfg) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case addrs := <-ready:
		return &inProcess{
			admin:  NewAdmin("http://"+addrs[0].String(), token),
			fedURL: "https://" + addrs[1].String(),
		}
	case err := <-done:
		b.Fatalf("gateway: %v", err)
	case <-time.After(time.Minute):
		b.Fatal("gateway not ready in a minute")
	}
	return nil
}

// profiled runs the load generator with args (and stdin) under a CPU
// profile written to <dir>/<name>.prof, and reports its rate.
func profiled(b *testing.B, env profileEnv, name string, stdin []byte, args ...string) {
	b.Helper()
	f, err := os.Create(filepath.Join(env.dir, name+".prof"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(env.loadgen, args...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errOut

	b.ResetTimer()
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	err = cmd.Run()
	pprof.StopCPUProfile()
	b.StopTimer()
	if err != nil {
		b.Fatalf("loadgen: %v: %s", err, errOut.String())
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		b.Fatal(err)
	}
	if r.Errors > 0 {
		b.Logf("%d requests failed: %s", r.Errors, r.FirstError)
	}
	b.ReportMetric(r.RPS, "req/s")
	b.ReportMetric(r.P99Ms, "p99-ms")
}

// BenchmarkProfileReads profiles federated reads of PageRows rows from 32
// keep-alive clients.
func BenchmarkProfileReads(b *testing.B) {
	env := needProfileEnv(b)
	g := startInProcess(b)
	r, err := SetupReader(context.Background(), g.admin, g.fedURL, b.TempDir(), PageRows)
	if err != nil {
		b.Fatal(err)
	}
	profiled(b, env, "reads", nil, "-mode", "read", "-url", r.URL, "-ca", r.CAFile,
		"-cert", r.CertFile, "-key", r.KeyFile, "-c", "32",
		"-d", strconv.Itoa(env.secs)+"s", "-warmup", "1s")
}

// BenchmarkProfileEnroll profiles enrollments from 8 keep-alive clients
// for at most the profile's duration.
func BenchmarkProfileEnroll(b *testing.B) {
	env := needProfileEnv(b)
	g := startInProcess(b)
	ctx := context.Background()
	r, err := SetupReader(ctx, g.admin, g.fedURL, b.TempDir(), 1)
	if err != nil {
		b.Fatal(err)
	}
	n := 150 * env.secs
	csrs, err := NewCSRs(n)
	if err != nil {
		b.Fatal(err)
	}
	jobs, err := PrepareEnrollments(ctx, g.admin, r.UserID, csrs, n)
	if err != nil {
		b.Fatal(err)
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, j := range jobs {
		if err := enc.Encode(j); err != nil {
			b.Fatal(err)
		}
	}
	profiled(b, env, "enroll", in.Bytes(), "-mode", "enroll", "-ca", r.CAFile, "-c", "8",
		"-max", strconv.Itoa(env.secs)+"s")
}
