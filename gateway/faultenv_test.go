package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/pki"
)

// faultNode is a gateway under a fault test, with clients for both of its
// APIs.
type faultNode struct {
	*node
	root  *x509.Certificate
	plain *http.Client
	tls   *http.Client
}

// newFaultNode wraps a started gateway.
func newFaultNode(t *testing.T, n *node) *faultNode {
	t.Helper()
	root := fetchCA(t, n)
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: pki.NewPool(root)}}
	t.Cleanup(tr.CloseIdleConnections)
	return &faultNode{node: n, root: root, plain: plainClient(t),
		tls: &http.Client{Timeout: httpTimeout, Transport: tr}}
}

// faultCall is one request of a fault test. send may run on any
// goroutine.
type faultCall struct {
	name   string
	client *http.Client
	method string
	url    string
	auth   string
	body   any
}

// adminCall is a request to the admin API with the admin token.
func (f *faultNode) adminCall(name, method, path string, body any) faultCall {
	return faultCall{name: name, client: f.plain, method: method,
		url: f.info.AdminURL + path, auth: "Bearer " + f.info.AdminToken, body: body}
}

// redeemCall is an enrollment request for token with csrPEM.
func (f *faultNode) redeemCall(name, token, csrPEM string) faultCall {
	return faultCall{name: name, client: f.tls, method: http.MethodPost,
		url:  f.publicBase() + "/api/federation/enrollment/" + token,
		body: map[string]string{"csrPem": csrPEM}}
}

// readCall is a federated read of resource with the client certificate
// cert.
func (f *faultNode) readCall(t *testing.T, name string, cert *tls.Certificate,
	resource string) faultCall {
	t.Helper()
	return faultCall{name: name, client: httpsClient(t, f.root, cert), method: http.MethodGet,
		url: f.publicBase() + "/api/federation/v1/" + resource}
}

// send makes the request and reads the whole answer.
func (c faultCall) send() (rawAnswer, error) {
	var body io.Reader
	if c.body != nil {
		data, err := json.Marshal(c.body)
		if err != nil {
			return rawAnswer{}, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(c.method, c.url, body)
	if err != nil {
		return rawAnswer{}, err
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return rawAnswer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return rawAnswer{}, err
	}
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// mustSend sends c and fails the test unless it answers want; it decodes
// the answer into out when out is not nil.
func mustSend(t *testing.T, c faultCall, want int, out any) rawAnswer {
	t.Helper()
	a, err := c.send()
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if a.status != want {
		t.Fatalf("%s: %d %s, want %d", c.name, a.status, a.body, want)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			t.Fatalf("%s: decode %s: %v", c.name, a.body, err)
		}
	}
	return a
}

// sendAll sends every call at once and returns the answers in order.
func sendAll(t *testing.T, calls []faultCall) []rawAnswer {
	t.Helper()
	answers := make([]rawAnswer, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() { answers[i], errs[i] = c.send() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", calls[i].name, err)
		}
	}
	return answers
}

// assertUnavailable checks that an answer is a 503 with a Retry-After of
// a positive number of seconds and one of the error codes.
func assertUnavailable(t *testing.T, name string, a rawAnswer, codes ...string) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("%s: %d %s, want 503 %v", name, a.status, a.body, codes)
		return
	}
	if secs, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || secs <= 0 {
		t.Errorf("%s: 503 with Retry-After %q, want a positive number of seconds",
			name, a.header.Get("Retry-After"))
	}
	if code := errorCode(a.body); !containsString(codes, code) {
		t.Errorf("%s: 503 code %q, want one of %v: %s", name, code, codes, a.body)
	}
}

// assertFaultLogged checks that the logs hold a line naming the failed
// dependency by code, and no internal error.
func assertFaultLogged(t *testing.T, logs, code string) {
	t.Helper()
	found := false
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `msg="dependency failed"`) &&
			strings.Contains(line, "code="+code) {
			found = true
			break
		}
	}
	if !found {
		t.Errorf("no log line says the dependency failed with code %s:\n%s", code, logs)
	}
	if strings.Contains(logs, `msg="internal error"`) {
		t.Errorf("the gateway logged an internal error:\n%s", logs)
	}
}

// holdSQLiteWriteLock takes the write lock of a gateway's SQLite database
// from a connection of its own, as another process writing to the file
// would, and holds it until the returned function is called (or the test
// ends).
func holdSQLiteWriteLock(t *testing.T, dataDir string) (release func()) {
	t.Helper()
	dsn := "file:" + filepath.Join(dataDir, "mosaic.db") +
		"?_txlock=immediate&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		db.Close()
		t.Fatalf("take the write lock: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if err := tx.Rollback(); err != nil {
				t.Errorf("release the write lock: %v", err)
			}
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// smallDisk mounts a tmpfs of size bytes on a new temporary directory and
// returns the directory; it is unmounted when the test ends, after what
// runs on it has stopped. Mounting needs root: where it is refused, the
// test fails when the environment says it runs in CI and is skipped
// elsewhere.
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	opts := fmt.Sprintf("size=%d,mode=0700", size)
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("cannot mount a small tmpfs to fill (needs root and mount(8)): "+
			"%v: %s", err, bytes.TrimSpace(out))
		if inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, bytes.TrimSpace(out))
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// inCI reports whether the CI variable is set to anything but a false
// value.
func inCI() bool {
	ci := os.Getenv("CI")
	if ci == "" {
		return false
	}
	set, err := strconv.ParseBool(ci)
	return err != nil || set
}

// fillDisk writes a file into dir until its file system has no space left
// and returns the file's path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{0xa5}, 64<<10)
	for {
		_, err := f.Write(buf)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Bavail != 0 {
		t.Fatalf("%s still has %d blocks free after filling", dir, st.Bavail)
	}
	return path
}

// waitFor polls cond every 50 ms until it holds, failing the test after
// 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
