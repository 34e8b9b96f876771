package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/stepca"
	"github.com/mosaicgw/mosaic/pki"
)

// StepCA is a running step-ca configured by deploy/step-ca/init.sh.
type StepCA struct {
	// Env is the gateway's STEP_CA_* environment, NAME=value lines as
	// init.sh printed them.
	Env  []string
	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

// StartStepCA initialises a step-ca in dir with initScript (init.sh) on a
// free loopback port, runs bin on it and waits until it is healthy and
// accepts tokens.
func StartStepCA(ctx context.Context, bin, initScript, dir string) (*StepCA, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, initScript, dir, "-address", addr)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: %s: %w: %s", initScript, err, errOut.String())
	}
	s := &StepCA{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "STEP_CA_") {
			s.Env = append(s.Env, line)
		}
	}
	if s.log, err = os.Create(dir + ".log"); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, filepath.Join(dir, "config", "ca.json"))
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = childAttr()
	if err := s.cmd.Start(); err != nil {
		s.log.Close()
		return nil, fmt.Errorf("bench: start step-ca: %w", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	if err := s.waitHealthy(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// lookup returns the value of one of the STEP_CA_* variables.
func (s *StepCA) lookup(name string) string {
	for _, kv := range s.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// waitHealthy polls /health over TLS verified against step-ca's root, then
// lets a second pass: step-ca refuses tokens dated before its start, to
// the second.
func (s *StepCA) waitHealthy(ctx context.Context) error {
	rootPEM, err := os.ReadFile(s.lookup(stepca.EnvRootCertPath))
	if err != nil {
		return fmt.Errorf("bench: step-ca root: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
			s.lookup(stepca.EnvURL)+"/health", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				time.Sleep(1100 * time.Millisecond)
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("bench: step-ca exited: %v", err)
		case <-ctx.Done():
			return errors.New("bench: step-ca not healthy in time")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop ends step-ca.
func (s *StepCA) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
	s.cmd = nil
}

// SignLoad has step-ca sign every CSR once through package stepca's Sign
// (a JWK one-time token per certificate, POST /1.0/sign), from clients
// goroutines, and reports the run. The CSRs are parsed before the clock
// starts.
func (s *StepCA) SignLoad(ctx context.Context, csrs []string, clients int) (*Result, error) {
	cfg, err := stepca.ConfigFromEnv(s.lookup)
	if err != nil {
		return nil, err
	}
	ca, err := stepca.New(cfg)
	if err != nil {
		return nil, err
	}
	defer ca.Close()
	reqs := make(chan mosaic.SignRequest, len(csrs))
	for _, text := range csrs {
		csr, err := pki.ParseCSR(text)
		if err != nil {
			return nil, err
		}
		id := mosaic.Identity{GrantID: uuid.NewString(), SubjectUserID: uuid.NewString()}
		reqs <- mosaic.SignRequest{CSR: csr, CommonName: "peer-" + id.GrantID, Identity: id}
	}
	close(reqs)

	tallies := make([]*tally, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range tallies {
		t := &tally{}
		tallies[i] = t
		wg.Go(func() {
			for req := range reqs {
				t.add(signOnce(ctx, ca, req))
			}
		})
	}
	wg.Wait()
	return summarize(tallies, time.Since(start)), nil
}

// signOnce has step-ca sign one request and times it.
func signOnce(ctx context.Context, ca *stepca.CA, req mosaic.SignRequest) outcome {
	start := time.Now()
	if _, err := ca.Sign(ctx, req); err != nil {
		return outcome{err: mosaic.ErrorCode(err) + ": " + mosaic.ErrorMessage(err)}
	}
	return outcome{ok: true, latency: time.Since(start)}
}
