package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Result is what one load run measured. RPS counts successful requests
// (status 200) only; Errors counts the others, failed connections
// included, and FirstError describes the first of them.
type Result struct {
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	Bytes      int64   `json:"bytes"`
	FirstError string  `json:"firstError,omitempty"`
	// CPUSeconds is the processor time (user and system) the load
	// generator itself spent during the measured phase of a read load.
	CPUSeconds float64 `json:"cpuSeconds,omitempty"`
	// TargetRPS is the rate an open-loop load asked for, zero for a
	// closed-loop one. Late counts its measured requests sent more than
	// LateAfter behind their schedule (their latency counts from the
	// schedule all the same).
	TargetRPS float64 `json:"targetRps,omitempty"`
	Late      int     `json:"late,omitempty"`
}

// ReadConfig is a read load: Clients keep-alive HTTP/1.1 clients, each on
// its own connection, GET URL for Warmup (not counted) and then for
// Duration.
type ReadConfig struct {
	URL      string
	TLS      *tls.Config
	Clients  int
	Duration time.Duration
	Warmup   time.Duration
	// Rate, when above zero, makes the load open loop: Rate requests per
	// second in all, each client sending on a fixed schedule (see
	// newSchedules) whether or not the answers keep up. Zero is closed
	// loop: each client sends its next request as soon as it has the
	// answer to the last.
	Rate float64
	// Timeout bounds each request; zero means 10 seconds.
	Timeout time.Duration
}

// EnrollJob is one enrollment to send: the enrollment URL (its fragment
// is ignored) and the CSR.
type EnrollJob struct {
	URL    string `json:"url"`
	CSRPEM string `json:"csrPem"`
}

// EnrollConfig is an enrollment load: Clients keep-alive clients share the
// jobs, each job sent once. MaxDuration bounds the whole run; jobs not sent
// by then are left out.
type EnrollConfig struct {
	Jobs        []EnrollJob
	TLS         *tls.Config
	Clients     int
	MaxDuration time.Duration
	// Timeout bounds each request; zero means 30 seconds.
	Timeout time.Duration
}

// outcome is one request as a worker saw it.
type outcome struct {
	ok      bool
	latency time.Duration
	bytes   int64
	err     string
}

// tally collects the outcomes of one worker.
type tally struct {
	lat   []time.Duration
	bytes int64
	errs  int
	first string
	// late counts open-loop requests sent behind schedule; last is when
	// the last open-loop answer came.
	late int
	last time.Time
}

// add records one outcome.
func (t *tally) add(o outcome) {
	t.bytes += o.bytes
	if !o.ok {
		t.errs++
		if t.first == "" {
			t.first = o.err
		}
		return
	}
	t.lat = append(t.lat, o.latency)
}

// summarize merges the tallies of a run that took elapsed.
func summarize(tallies []*tally, elapsed time.Duration) *Result {
	var all []time.Duration
	r := &Result{Seconds: elapsed.Seconds()}
	for _, t := range tallies {
		all = append(all, t.lat...)
		r.Bytes += t.bytes
		r.Errors += t.errs
		r.Late += t.late
		if r.FirstError == "" {
			r.FirstError = t.first
		}
	}
	slices.Sort(all)
	r.Requests = len(all) + r.Errors
	if elapsed > 0 {
		r.RPS = float64(len(all)) / elapsed.Seconds()
	}
	r.P50Ms = ms(Percentile(all, 50))
	r.P99Ms = ms(Percentile(all, 99))
	return r
}

// newHTTPClient returns a client with one keep-alive HTTP/1.1 connection.
func newHTTPClient(cfg *tls.Config, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:     cfg.Clone(),
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			DisableCompression:  true,
			// A non-nil empty map keeps the client on HTTP/1.1.
			TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
		},
	}
}

// RunReads runs a read load and reports the measured phase.
func RunReads(ctx context.Context, cfg ReadConfig) (*Result, error) {
	if cfg.Clients < 1 || cfg.Duration <= 0 || cfg.Rate < 0 || cfg.Rate > maxRate {
		return nil, fmt.Errorf("bench: read load needs at least one client, a duration "+
			"and a rate from 0 to %.0f per second", maxRate)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	clients := make([]*http.Client, cfg.Clients)
	for i := range clients {
		clients[i] = newHTTPClient(cfg.TLS, cfg.Timeout)
		defer clients[i].CloseIdleConnections()
	}
	get := func(ctx context.Context, c *http.Client) outcome {
		return send(ctx, c, http.MethodGet, cfg.URL, nil)
	}
	if cfg.Rate > 0 {
		return openPhase(ctx, clients, cfg, get), ctx.Err()
	}

	if cfg.Warmup > 0 {
		readPhase(ctx, clients, cfg.Warmup, get)
	}
	cpu := processCPU()
	tallies, elapsed := readPhase(ctx, clients, cfg.Duration, get)
	r := summarize(tallies, elapsed)
	r.CPUSeconds = processCPU() - cpu
	return r, ctx.Err()
}

// maxRate bounds the rate of an open-loop load, far above what one
// machine serves.
const maxRate = 1e6

// readGrace is how long a read phase waits for the answers still due when
// its time is up; requests unanswered by then are cancelled and counted as
// failed, so that a phase never lasts much longer than asked.
const readGrace = 2 * time.Second

// readPhase has every client send requests until d has passed, and returns
// their tallies and how long the phase took until the last answer.
func readPhase(ctx context.Context, clients []*http.Client, d time.Duration,
	do func(context.Context, *http.Client) outcome) ([]*tally, time.Duration) {
	tallies := make([]*tally, len(clients))
	start := time.Now()
	end := start.Add(d)
	ctx, cancel := context.WithDeadline(ctx, end.Add(readGrace))
	defer cancel()
	var wg sync.WaitGroup
	for i, c := range clients {
		t := &tally{lat: make([]time.Duration, 0, 4096)}
		tallies[i] = t
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				t.add(do(ctx, c))
			}
		})
	}
	wg.Wait()
	return tallies, time.Since(start)
}

// RunEnrollments sends every job once and reports the run.
func RunEnrollments(ctx context.Context, cfg EnrollConfig) (*Result, error) {
	if cfg.Clients < 1 || len(cfg.Jobs) == 0 || cfg.MaxDuration <= 0 {
		return nil, errors.New("bench: enrollment load needs clients, jobs and a duration")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxDuration)
	defer cancel()

	jobs := make(chan EnrollJob, len(cfg.Jobs))
	for _, j := range cfg.Jobs {
		jobs <- j
	}
	close(jobs)

	tallies := make([]*tally, cfg.Clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range tallies {
		t := &tally{}
		tallies[i] = t
		c := newHTTPClient(cfg.TLS, cfg.Timeout)
		defer c.CloseIdleConnections()
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil {
					return
				}
				t.add(enrollOnce(ctx, c, j))
			}
		})
	}
	wg.Wait()
	return summarize(tallies, time.Since(start)), nil
}

// enrollOnce posts one job's CSR to its enrollment URL.
func enrollOnce(ctx context.Context, c *http.Client, j EnrollJob) outcome {
	body, err := json.Marshal(map[string]string{"csrPem": j.CSRPEM})
	if err != nil {
		return outcome{err: err.Error()}
	}
	return send(ctx, c, http.MethodPost, stripFragment(j.URL), body)
}

// send makes one request, reads the whole answer and times it. Only a 200
// counts as a success; the error of another status names it and the
// answer's error code, never the URL (an enrollment URL holds a token).
func send(ctx context.Context, c *http.Client, method, url string, body []byte) outcome {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return outcome{err: "bad request"}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return outcome{err: fmt.Sprintf("%s failed: %v", method, redactURLError(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	o := outcome{latency: time.Since(start), bytes: int64(len(data))}
	switch {
	case err != nil:
		o.err = "reading the answer: " + err.Error()
	case resp.StatusCode != http.StatusOK:
		o.err = fmt.Sprintf("status %d %s", resp.StatusCode, errorCode(data))
	default:
		o.ok = true
	}
	return o
}

// errorCode returns the code of a JSON error answer, or "".
func errorCode(data []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// redactURLError drops the URL from a client error, since enrollment URLs
// carry tokens.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// stripFragment returns u without its #fragment.
func stripFragment(u string) string {
	before, _, _ := strings.Cut(u, "#")
	return before
}

// ClientTLS builds the TLS configuration of a load generator: the server
// is verified against the roots in caFile; certFile (leaf first, then any
// intermediates) and keyFile, when given, are the client certificate.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("bench: server CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("bench: server CA %s holds no certificate", caFile)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("bench: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// processCPU returns the processor time this process has used, user and
// system, in seconds; 0 where the system does not say.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
