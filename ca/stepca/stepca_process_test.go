package stepca_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/ca/stepca"
)

// Environment of the integration tests.
const (
	// envStepCABin names the step-ca binary (scripts/build-step-ca.sh
	// prints its path).
	envStepCABin = "MOSAIC_STEP_CA_BIN"
	// envRequire makes a missing binary a failure rather than a skip; CI
	// (any CI value but "false" or "0") does the same.
	envRequire = "MOSAIC_REQUIRE_STEPCA"
)

// initScript is deploy/step-ca/init.sh, relative to this package.
const initScript = "../../deploy/step-ca/init.sh"

// stepCABinary returns the step-ca binary the tests run. Without one the
// test is skipped, or fails where step-ca is required.
func stepCABinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(envStepCABin)
	if bin == "" {
		msg := envStepCABin + " is not set: run scripts/build-step-ca.sh and set " +
			envStepCABin + " to the path it prints to test against a real step-ca"
		ci := os.Getenv("CI")
		if os.Getenv(envRequire) == "1" || (ci != "" && ci != "false" && ci != "0") {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if info, err := os.Stat(bin); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s is not an executable file (%v)", envStepCABin, bin, err)
	}
	return bin
}

// stepCA is a real step-ca server on loopback, configured by init.sh in a
// temporary directory.
type stepCA struct {
	bin      string
	dir      string
	caJSON   string
	template string
	env      map[string]string
	log      *syncBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startStepCA initialises a step-ca with init.sh (extra arguments are
// passed on) and starts it. It is stopped when the test ends.
func startStepCA(t *testing.T, args ...string) *stepCA {
	t.Helper()
	s := initStepCA(t, args...)
	s.start(t)
	return s
}

// initStepCA writes the configuration of a step-ca with init.sh, extra
// arguments passed on, without starting it.
func initStepCA(t *testing.T, args ...string) *stepCA {
	t.Helper()
	bin := stepCABinary(t)
	port := freePort(t)
	dir := filepath.Join(t.TempDir(), "step-ca")
	args = append([]string{initScript, dir, "-address", "127.0.0.1:" + port,
		"-dns", "127.0.0.1,localhost"}, args...)
	cmd := exec.Command("bash", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("init.sh: %v\n%s", err, stderr.String())
	}
	s := &stepCA{
		bin:      bin,
		dir:      dir,
		caJSON:   filepath.Join(dir, "config", "ca.json"),
		template: filepath.Join(dir, "templates", "federation.tpl"),
		env:      parseEnv(t, out),
		log:      &syncBuffer{},
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// parseEnv reads the NAME=value lines init.sh prints.
func parseEnv(t *testing.T, out []byte) map[string]string {
	t.Helper()
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("init.sh printed %q, not NAME=value", sc.Text())
		}
		env[name] = value
	}
	return env
}

// config returns the gateway's configuration from init.sh's environment.
func (s *stepCA) config(t *testing.T) stepca.Config {
	t.Helper()
	cfg, err := stepca.ConfigFromEnv(func(k string) string { return s.env[k] })
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	return cfg
}

// client returns a CA for this step-ca.
func (s *stepCA) client(t *testing.T) *stepca.CA {
	t.Helper()
	ca, err := stepca.New(s.config(t))
	if err != nil {
		t.Fatalf("stepca.New: %v", err)
	}
	t.Cleanup(ca.Close)
	return ca
}

// start runs step-ca and waits until it answers /health. step-ca refuses
// tokens issued before it started; token times are whole seconds, so it
// also waits for the second after that.
func (s *stepCA) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(s.bin, s.caJSON)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start step-ca: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	ca := s.client(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ca.Health(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-done:
			t.Fatalf("step-ca exited at start:\n%s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("step-ca not healthy after 20s: %v\n%s", err, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
}

// stop ends step-ca, if it runs, and waits for it.
func (s *stepCA) stop(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// setTemplate replaces the provisioner's template; step-ca reads it at
// every signature.
func (s *stepCA) setTemplate(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(s.template, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a TCP port on loopback that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// silentListener is the internal tests' listener that accepts TCP
// connections and never answers.
var silentListener = stepca.SilentListener

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
