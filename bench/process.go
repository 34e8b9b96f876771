package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bounds of the waits on a process.
const (
	readyTimeout = 2 * time.Minute
	stopTimeout  = 20 * time.Second
	pollEvery    = 5 * time.Millisecond
)

// GatewayOptions say how to run one `mosaic gateway serve` process.
type GatewayOptions struct {
	// Bin is the mosaic binary.
	Bin string
	// DataDir is the gateway's data directory; it is created if missing.
	DataDir string
	// DatabaseURL selects PostgreSQL; empty means SQLite in DataDir.
	DatabaseURL string
	// CA is "embedded" (when empty) or "step".
	CA string
	// Env is added to the process's environment (such as STEP_CA_*).
	Env []string
	// LogFile receives the gateway's standard error; empty means
	// DataDir/../<base of DataDir>.log.
	LogFile string
}

// Gateway is a running `mosaic gateway serve` process, listening on
// loopback ports chosen when it was first started and kept across
// restarts.
type Gateway struct {
	opts       GatewayOptions
	adminAddr  string
	fedAddr    string
	adminToken string
	cmd        *exec.Cmd
	log        *os.File
	done       chan error
	// StartedIn is how long the last start took, from exec to the first
	// 200 of /readyz.
	StartedIn time.Duration
}

// StartGateway starts a gateway on free loopback ports with a fresh admin
// token and waits until it is ready. The enrollment rate limit is off, as
// for a gateway behind a proxy that limits on its own.
func StartGateway(ctx context.Context, opts GatewayOptions) (*Gateway, error) {
	if opts.CA == "" {
		opts.CA = "embedded"
	}
	if opts.LogFile == "" {
		opts.LogFile = strings.TrimSuffix(opts.DataDir, "/") + ".log"
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	g := &Gateway{opts: opts, adminToken: token}
	if g.adminAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if g.fedAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if err := g.Start(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// Start execs the gateway and waits for /readyz, recording StartedIn.
func (g *Gateway) Start(ctx context.Context) error {
	if g.cmd != nil {
		return errors.New("bench: gateway already running")
	}
	log, err := os.OpenFile(g.opts.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("bench: gateway log: %w", err)
	}
	args := []string{"gateway", "serve", "--data-dir", g.opts.DataDir,
		"--admin-addr", g.adminAddr, "--federation-addr", g.fedAddr, "--ca", g.opts.CA}
	if g.opts.DatabaseURL != "" {
		args = append(args, "--db", g.opts.DatabaseURL)
	}
	cmd := exec.Command(g.opts.Bin, args...)
	cmd.Env = append(os.Environ(), "MOSAIC_ADMIN_TOKEN="+g.adminToken,
		"MOSAIC_ENROLL_RATE_LIMIT=off")
	cmd.Env = append(cmd.Env, g.opts.Env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childAttr()

	start := time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("bench: start gateway: %w", err)
	}
	g.cmd, g.log, g.done = cmd, log, make(chan error, 1)
	go func() { g.done <- cmd.Wait() }()
	if err := g.waitReady(ctx); err != nil {
		_ = g.Stop()
		return fmt.Errorf("bench: gateway %s: %w (log: %s)", g.opts.DataDir, err, g.opts.LogFile)
	}
	g.StartedIn = time.Since(start)
	return nil
}

// waitReady polls /readyz until it answers 200, the process exits or the
// wait times out.
func (g *Gateway) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	url := g.AdminURL() + "/readyz"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-g.done:
			g.done <- err
			return fmt.Errorf("exited before ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s", readyTimeout)
		case <-time.After(pollEvery):
		}
	}
}

// Stop ends the gateway gracefully (SIGTERM), killing it if it does not
// stop within a bound.
func (g *Gateway) Stop() error {
	if g.cmd == nil {
		return nil
	}
	defer func() {
		g.log.Close()
		g.cmd = nil
	}()
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
		return nil
	case <-time.After(stopTimeout):
		_ = g.cmd.Process.Kill()
		<-g.done
		return fmt.Errorf("bench: gateway %s did not stop within %s", g.opts.DataDir, stopTimeout)
	}
}

// AdminURL is the admin API's base URL.
func (g *Gateway) AdminURL() string { return "http://" + g.adminAddr }

// FederationURL is the federation API's base URL.
func (g *Gateway) FederationURL() string { return "https://" + g.fedAddr }

// cliEnv is the environment that points the mosaic CLI at the gateway's
// admin API.
func (g *Gateway) cliEnv() []string {
	return []string{"MOSAIC_ADMIN_URL=" + g.AdminURL(), "MOSAIC_ADMIN_TOKEN=" + g.adminToken}
}

// Admin returns a client of the gateway's admin API.
func (g *Gateway) Admin() *Admin { return NewAdmin(g.AdminURL(), g.adminToken) }

// PID is the running process's id, or 0.
func (g *Gateway) PID() int {
	if g.cmd == nil {
		return 0
	}
	return g.cmd.Process.Pid
}

// PeakRSS returns the running gateway's peak resident set size (VmHWM).
func (g *Gateway) PeakRSS() (int64, error) {
	if g.cmd == nil {
		return 0, errors.New("bench: gateway not running")
	}
	return PeakRSS(g.cmd.Process.Pid)
}

// PeakRSS reads VmHWM, the peak resident set size in bytes, of process pid
// from /proc/<pid>/status.
func PeakRSS(pid int) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("bench: peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return parseKB(v)
		}
	}
	return 0, fmt.Errorf("bench: no VmHWM for process %d", pid)
}

// parseKB parses a /proc size such as "  123456 kB" into bytes.
func parseKB(v string) (int64, error) {
	f := strings.Fields(v)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("bench: size %q: want <n> kB", strings.TrimSpace(v))
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bench: size %q: %w", strings.TrimSpace(v), err)
	}
	return n << 10, nil
}

// childAttr makes a child process receive SIGTERM if the benchmark dies
// first, so that no gateway, nginx or step-ca outlives a crashed run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// randomToken returns 256 random bits as base64url text.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
