// Command loadgen is the load generator of the benchmarks. It runs as its
// own process, apart from the server it measures, and prints one JSON
// bench.Result on standard output.
//
// Reads: Clients keep-alive HTTP/1.1 clients over mutual TLS, each on its
// own connection, GET one URL for a warm-up and then a fixed duration:
//
//	loadgen -mode read -url https://127.0.0.1:8443/api/federation/v1/tasks?limit=100 \
//	  -ca ca.pem -cert client-chain.pem -key client.key -c 32 -d 5s
//
// With -rate R the read load is open loop: R requests per second in all,
// spread evenly over the clients, each sending on a fixed schedule
// staggered from the others whether or not its last answer has come.
// Latencies then count from when each request was due, not from when it
// was sent, and the result says how many were sent late:
//
//	loadgen -mode read -url … -ca ca.pem -cert … -key … -c 32 -d 5s -rate 2000
//
// Enrollments: JSON lines {"url": enrollment URL, "csrPem": CSR} on
// standard input (so that no token appears in the process list), each
// posted once by Clients keep-alive clients:
//
//	loadgen -mode enroll -ca ca.pem -c 8 -max 2m < jobs.jsonl
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/mosaicgw/mosaic/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// run parses the flags, runs the load and prints its result.
func run() error {
	mode := flag.String("mode", "read", "read or enroll")
	url := flag.String("url", "", "URL to read (mode read)")
	caFile := flag.String("ca", "", "PEM roots that verify the server")
	certFile := flag.String("cert", "", "client certificate chain, PEM (mode read)")
	keyFile := flag.String("key", "", "client private key, PEM (mode read)")
	clients := flag.Int("c", 1, "concurrent keep-alive clients")
	dur := flag.Duration("d", 5*time.Second, "measured duration (mode read)")
	warmup := flag.Duration("warmup", time.Second, "warm-up before measuring (mode read)")
	rate := flag.Float64("rate", 0,
		"requests per second in all, open loop; 0 is closed loop (mode read)")
	maxDur := flag.Duration("max", 2*time.Minute, "bound of the whole run (mode enroll)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tlsCfg, err := bench.ClientTLS(*caFile, *certFile, *keyFile)
	if err != nil {
		return err
	}

	var res *bench.Result
	switch *mode {
	case "read":
		res, err = bench.RunReads(ctx, bench.ReadConfig{
			URL: *url, TLS: tlsCfg, Clients: *clients, Duration: *dur, Warmup: *warmup,
			Rate: *rate,
		})
	case "enroll":
		var jobs []bench.EnrollJob
		if jobs, err = readJobs(os.Stdin); err != nil {
			return err
		}
		res, err = bench.RunEnrollments(ctx, bench.EnrollConfig{
			Jobs: jobs, TLS: tlsCfg, Clients: *clients, MaxDuration: *maxDur,
		})
	default:
		return fmt.Errorf("-mode %q: want read or enroll", *mode)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// readJobs reads JSON lines of enrollment jobs.
func readJobs(r io.Reader) ([]bench.EnrollJob, error) {
	var jobs []bench.EnrollJob
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var j bench.EnrollJob
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			return nil, fmt.Errorf("job %d: %w", len(jobs)+1, err)
		}
		jobs = append(jobs, j)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, errors.New("no jobs on standard input")
	}
	return jobs, nil
}
