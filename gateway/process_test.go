package gateway_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/gateway"
)

// The mosaic binary, built once for the whole test binary by mosaicBinary
// and removed by TestMain.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// TestMain runs the tests, then removes the mosaic binary if one was built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// mosaicBinary builds ./cmd/mosaic into a temporary directory, once, and
// returns its path.
func mosaicBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "mosaic-gateway-test-")
		if binary.err != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		path := filepath.Join(binary.dir, "mosaic")
		cmd := exec.Command(goTool, "build", "-o", path, "./cmd/mosaic")
		cmd.Dir = ".." // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build ./cmd/mosaic: %v\n%s", err, out)
			return
		}
		binary.path = path
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// command returns the mosaic binary run with args and only the given
// environment (plus PATH), so that nothing of the test's own environment
// reaches it.
func command(t *testing.T, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(mosaicBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// proc is a "mosaic gateway serve" process.
type proc struct {
	dataDir string
	cmd     *exec.Cmd
	logs    *syncBuffer
	exited  chan struct{}
	waitErr error // set before exited is closed
	info    *gateway.AdminInfo

	stopOnce sync.Once
	stopErr  error
}

// launch starts "mosaic gateway serve" on dataDir with loopback ports
// picked by the system, the database at dbURL (none: SQLite), env as its
// whole environment and extra flags after those (a later flag wins). It
// does not wait for readiness: see waitReady. The process is stopped when
// the test ends, and a stop that is not clean fails the test.
func launch(t *testing.T, dataDir, dbURL string, env map[string]string, extra ...string) *proc {
	t.Helper()
	args := []string{"gateway", "serve", "--data-dir", dataDir,
		"--admin-addr", "127.0.0.1:0", "--federation-addr", "127.0.0.1:0"}
	if dbURL != "" {
		args = append(args, "--db", dbURL)
	}
	args = append(args, extra...)
	p := &proc{dataDir: dataDir, logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = command(t, env, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start mosaic gateway serve: %v", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("gateway in %s: %v", filepath.Base(dataDir), err)
		}
		if t.Failed() {
			t.Logf("logs of the gateway in %s:\n%s", filepath.Base(dataDir), p.logs)
		}
	})
	return p
}

// waitReady waits until the process logs that it serves, then reads its
// admin.json.
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for !strings.Contains(p.logs.String(), `msg="gateway started"`) {
		select {
		case <-p.exited:
			t.Fatalf("gateway exited before it was ready (%v):\n%s", p.waitErr, p.logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready after %s:\n%s", startTimeout, p.logs)
		}
	}
	info, err := gateway.ReadAdminFile(filepath.Join(p.dataDir, gateway.AdminFile))
	if err != nil {
		t.Fatalf("admin file: %v", err)
	}
	p.info = info
}

// startProc launches a gateway process and waits until it is ready.
func startProc(t *testing.T, dataDir, dbURL string, env map[string]string,
	extra ...string) *proc {
	t.Helper()
	p := launch(t, dataDir, dbURL, env, extra...)
	p.waitReady(t)
	return p
}

// stop sends SIGTERM and waits for the process to end. It returns an error
// unless the process exited with status 0 after logging that it stopped.
// Later calls return the same.
func (p *proc) stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
			p.stopErr = fmt.Errorf("exited before it was stopped: %v", p.waitErr)
			return
		default:
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			p.stopErr = fmt.Errorf("SIGTERM: %w", err)
			return
		}
		select {
		case <-p.exited:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.exited
			p.stopErr = fmt.Errorf("still running %s after SIGTERM; killed", stopTimeout)
			return
		}
		switch {
		case p.waitErr != nil:
			p.stopErr = fmt.Errorf("unclean exit after SIGTERM: %w", p.waitErr)
		case !strings.Contains(p.logs.String(), `msg="gateway stopped"`):
			p.stopErr = errors.New("exited without logging that it stopped")
		}
	})
	return p.stopErr
}

// mustStop stops the process and fails the test unless it exits cleanly.
func (p *proc) mustStop(t *testing.T) {
	t.Helper()
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
}

// fedBase returns the base URL of the process's federation API.
func (p *proc) fedBase() string { return p.info.PublicURL }

// mustAdmin calls the process's admin API with its admin token, fails the
// test unless the status is want, and decodes the answer into out when out
// is not nil.
func (p *proc) mustAdmin(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	(&node{info: p.info}).mustAdmin(t, want, method, path, body, out)
}

// runCLI runs the mosaic binary with args and env, and returns its output
// and exit code.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string,
	code int) {
	t.Helper()
	cmd := command(t, env, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run mosaic %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}
