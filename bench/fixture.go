package bench

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/remote"
)

// PageRows is the page size of the read benchmarks.
const PageRows = 100

// adminWorkers is how many admin calls run at once while setting up.
const adminWorkers = 8

// Reader is a peer enrolled with a gateway, as files the load generator
// reads: its client certificate chain and key, and the gateway's CA root
// that verifies the server.
type Reader struct {
	// URL reads one page of PageRows tasks.
	URL      string
	CertFile string
	KeyFile  string
	CAFile   string
	// UserID is the grant's subject user; GrantID the enrolled grant.
	UserID  string
	GrantID string
	// CAPin is the gateway's CA pin.
	CAPin string
}

// SetupReader gives a gateway (its admin API a, its federation API at
// fedURL) a user with rows tasks and a grant of them (rows a page) to a new
// peer, enrolls that peer through the real enrollment endpoint with a fresh
// P-256 key, and writes the peer's credentials into dir.
func SetupReader(ctx context.Context, a *Admin, fedURL, dir string, rows int) (*Reader, error) {
	user, err := a.CreateUser(ctx, "Reader", "reader@bench.example")
	if err != nil {
		return nil, err
	}
	err = parallel(ctx, rows, adminWorkers, func(ctx context.Context, i int) error {
		return a.CreateTask(ctx, user, fmt.Sprintf("Task number %d of the benchmark", i))
	})
	if err != nil {
		return nil, err
	}
	grant, err := a.CreateGrant(ctx, user, "Bench reader", rows)
	if err != nil {
		return nil, err
	}
	rawURL, err := a.CreateToken(ctx, grant)
	if err != nil {
		return nil, err
	}
	u, err := remote.ParseEnrollmentURL(rawURL)
	if err != nil {
		return nil, err
	}

	key, err := pki.GenerateKey()
	if err != nil {
		return nil, err
	}
	csr, err := pki.NewCSR(key, "bench-reader")
	if err != nil {
		return nil, err
	}
	res, err := remote.Enroll(ctx, u, csr)
	if err != nil {
		return nil, fmt.Errorf("bench: enroll the reader: %w", err)
	}
	r := &Reader{
		URL:      fmt.Sprintf("%s/api/federation/v1/tasks?limit=%d", fedURL, rows),
		CertFile: filepath.Join(dir, "client.pem"),
		KeyFile:  filepath.Join(dir, "client.key"),
		CAFile:   filepath.Join(dir, "ca.pem"),
		UserID:   user,
		GrantID:  grant,
		CAPin:    u.Pin,
	}
	return r, r.write(res, key)
}

// write stores the reader's files: the leaf and its intermediates (the
// chain the client sends), the key, and the CA root.
func (r *Reader) write(res *remote.EnrollResult, key any) error {
	chain, err := pki.ParseCerts(res.CertChainPEM)
	if err != nil {
		return fmt.Errorf("bench: enrolled chain: %w", err)
	}
	certPEM := res.CertPEM
	for _, c := range chain {
		if !bytes.Equal(c.RawIssuer, c.RawSubject) {
			certPEM += pki.EncodeCerts(c)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	files := []struct {
		path string
		data []byte
	}{
		{r.CertFile, []byte(certPEM)},
		{r.KeyFile, keyPEM},
		{r.CAFile, []byte(res.CAPEM)},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return fmt.Errorf("bench: write %s: %w", f.path, err)
		}
	}
	return nil
}

// Fetch reads the reader's page once and returns its body.
func (r *Reader) Fetch(ctx context.Context) ([]byte, error) {
	cfg, err := ClientTLS(r.CAFile, r.CertFile, r.KeyFile)
	if err != nil {
		return nil, err
	}
	c := newHTTPClient(cfg, 0)
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: read a page: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: read a page: status %d %s", resp.StatusCode,
			errorCode(body))
	}
	return body, nil
}

// PrepareEnrollments creates n pending grants, each to its own new peer,
// and a token for each, and pairs every enrollment URL with a fresh CSR
// from csrs. The jobs hold tokens: keep them out of files and logs.
func PrepareEnrollments(ctx context.Context, a *Admin, userID string, csrs []string,
	n int) ([]EnrollJob, error) {
	if len(csrs) < n {
		return nil, fmt.Errorf("bench: %d CSRs for %d enrollments", len(csrs), n)
	}
	jobs := make([]EnrollJob, n)
	var seq atomic.Int64
	err := parallel(ctx, n, adminWorkers, func(ctx context.Context, i int) error {
		grant, err := a.CreateGrant(ctx, userID, fmt.Sprintf("Bench peer %d", seq.Add(1)), 10)
		if err != nil {
			return err
		}
		url, err := a.CreateToken(ctx, grant)
		if err != nil {
			return err
		}
		jobs[i] = EnrollJob{URL: url, CSRPEM: csrs[i]}
		return nil
	})
	return jobs, err
}

// NewCSRs returns n PEM CSRs, each for a new P-256 key.
func NewCSRs(n int) ([]string, error) {
	csrs := make([]string, n)
	for i := range csrs {
		key, err := pki.GenerateKey()
		if err != nil {
			return nil, err
		}
		if csrs[i], err = pki.NewCSR(key, fmt.Sprintf("bench-peer-%d", i)); err != nil {
			return nil, err
		}
	}
	return csrs, nil
}

// parallel runs fn for 0..n-1 on workers goroutines and returns the first
// error; after an error no new call starts.
func parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
