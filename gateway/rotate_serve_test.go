package gateway_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver the tests read PostgreSQL with

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// TestRotateSecretResume kills a rotation with SIGKILL half way: every
// value still opens under the old or the new secret, none is lost, and a
// second run finishes the rotation. The gateway then runs on the new
// secret alone.
func TestRotateSecretResume(t *testing.T) {
	t.Parallel()
	dirA := t.TempDir()
	a := startProc(t, dirA, "", secretEnv(rotateOne, ""))
	f := newRotationFixture(t, a, 40)
	a.mustStop(t)
	db := openDB(t, dirA)
	total := len(readSealed(t, db))

	// Small, slow batches, so that the kill lands in the middle.
	env := secretEnv(rotateTwo, rotateOne)
	rotation := command(t, env, "gateway", "rotate-secret", "--data-dir", dirA,
		"--batch", "2", "--batch-delay", "100ms")
	killMidway(t, rotation, func() bool {
		counts := byVersion(t, readSealed(t, db))
		return counts["credentials/2"] >= 4
	})

	counts := byVersion(t, readSealed(t, db))
	if counts["credentials/1"] == 0 || counts["credentials/2"] == 0 {
		t.Fatalf("after the kill: %v by version, want credentials under both", counts)
	}
	values := readSealed(t, db)
	if len(values) != total {
		t.Fatalf("after the kill: %d sealed values, want %d", len(values), total)
	}
	wantOpen(t, values, sealerOf(t, rotateOne, rotateTwo), f.creds)

	left := 0
	for key, n := range counts {
		if strings.HasSuffix(key, "/1") {
			left += n
		}
	}
	rep := mustRotate(t, env, "--data-dir", dirA)
	if rep.Resealed != left || rep.AlreadyCurrent != total-left {
		t.Errorf("resumed rotation report %+v, want %d re-sealed and %d already current",
			rep.RotateReport, left, total-left)
	}
	wantAllUnder(t, readSealed(t, db), 2, sealerOf(t, rotateTwo, rotateTwo), f.creds)

	a = startProc(t, dirA, "", secretEnv(rotateTwo, ""))
	readAliceTasks(t, &node{info: a.info}, f.peerID, f.alice)
	a.mustStop(t)
}

// doctorCheck returns the named check, or a zero Check.
func doctorCheck(checks mosaic.Checks, name string) mosaic.Check {
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	return mosaic.Check{}
}

// killMidway starts cmd, waits until midway reports true while it runs,
// and kills it with SIGKILL. It fails the test if cmd ends on its own
// first.
func killMidway(t *testing.T, cmd *exec.Cmd, midway func() bool) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(startTimeout)
	for !midway() {
		select {
		case err := <-exited:
			t.Fatalf("the rotation ended before it could be killed (%v): %s", err, out.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("the rotation made no progress in %s: %s", startTimeout, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the rotation was not killed: %v: %s", err, out.String())
	}
}

// TestRotateSecretWhileServing rotates the secret of a serving gateway
// while it keeps reading from its peer with its sealed key and storing new
// credentials: every request succeeds, and every value ends under the new
// version, those written during the rotation included. On SQLite the
// secret lives in the data directory and --generate replaces it; the
// running gateway picks it up without a restart. On PostgreSQL the secrets
// come from the environment, and the gateway is restarted with both
// before the rotation, as the README's procedure for replicas says.
func TestRotateSecretWhileServing(t *testing.T) {
	t.Parallel()
	t.Run("sqlite, --generate", func(t *testing.T) {
		t.Parallel()
		dirA := t.TempDir()
		a := startProc(t, dirA, "", nil)
		f := newRotationFixture(t, a, 10)
		old, err := os.ReadFile(filepath.Join(dirA, seal.SecretFileName))
		if err != nil {
			t.Fatal(err)
		}

		rotateUnderLoad(t, a, f, nil, "--data-dir", dirA, "--generate")
		if !strings.Contains(a.logs.String(), `msg="sealing secrets reloaded"`) {
			t.Error("the serving gateway did not log that it reloaded its secrets")
		}
		fresh, err := os.ReadFile(filepath.Join(dirA, seal.SecretFileName))
		if err != nil {
			t.Fatal(err)
		}
		values := readSealed(t, openDB(t, dirA))
		wantAllUnder(t, values, 2, sealerOf(t, strings.TrimSpace(string(old)),
			strings.TrimSpace(string(fresh))), f.creds)

		// Doctor, run right after the rotation, counts afresh: every value
		// is under the new version, and both of its checks say the
		// previous secret can go.
		cfg := gateway.Config{DataDir: dirA, Env: func(string) string { return "" }}
		checks := gateway.Doctor(context.Background(), cfg)
		sealing := doctorCheck(checks, "sealing")
		want := fmt.Sprintf("all %d sealed values are under key version 2; the previous "+
			"secret is no longer needed", len(values))
		if sealing.Status != mosaic.CheckWarn || !strings.HasPrefix(sealing.Reason, want) {
			t.Errorf("doctor sealing check right after the rotation %+v, want %q", sealing, want)
		}
		previous := doctorCheck(checks, "previous_secret")
		if previous.Status != mosaic.CheckOK || !strings.HasSuffix(previous.Reason, "remove it now") {
			t.Errorf("doctor previous_secret check %+v, want ok and removable now", previous)
		}

		// Without the previous secret, a restart serves on the new one and
		// doctor is content.
		a.mustStop(t)
		if err := os.Remove(filepath.Join(dirA, seal.PreviousSecretFileName)); err != nil {
			t.Fatal(err)
		}
		a = startProc(t, dirA, "", nil)
		if err := f.tryQuery(a.info); err != nil {
			t.Error(err)
		}
		checks = gateway.Doctor(context.Background(), cfg)
		if c := doctorCheck(checks, "sealing"); c.Status != mosaic.CheckOK ||
			doctorCheck(checks, "previous_secret").Name != "" {
			t.Errorf("doctor after the rotation: %+v, want sealing ok and no previous secret",
				checks)
		}
	})
	t.Run("postgres, two replicas, secrets in the environment", func(t *testing.T) {
		t.Parallel()
		testReplicasRotation(t)
	})
}

// testReplicasRotation follows the README's procedure for replicas on one
// PostgreSQL database under load: a rolling restart gives each replica the
// new secret and the old one as the previous, one at a time, while the
// other serves; then rotate-secret runs while both serve.
func testReplicasRotation(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	token := gateway.EnvAdminToken
	before := secretEnv(rotateOne, "")
	during := secretEnv(rotateTwo, rotateOne)
	for _, env := range []map[string]string{before, during} {
		env[token] = "rotation-admin-token-" + strings.Repeat("r", 24)
	}
	dirs := [2]string{t.TempDir(), t.TempDir()}
	var r [2]*proc
	for i := range r {
		r[i] = startProc(t, dirs[i], dbURL, before)
	}
	f := newRotationFixture(t, r[0], 10)

	l := startLoad(f, r[0].info, r[1].info)
	for i := range r {
		l.aim(r[1-i].info)
		r[i].mustStop(t)
		r[i] = startProc(t, dirs[i], dbURL, during)
		l.aim(r[0].info, r[1].info)
		l.waitBusy(t)
	}
	rep := l.during(t, func() rotateReport {
		return mustRotate(t, during, "--db", dbURL, "--data-dir", t.TempDir(),
			"--batch", "2", "--batch-delay", "50ms")
	})
	l.finish(t)
	if rep.CurrentVersion != 2 || rep.Resealed == 0 {
		t.Errorf("rotation report %+v", rep.RotateReport)
	}

	raw, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	wantAllUnder(t, readSealed(t, raw), 2, sealerOf(t, rotateOne, rotateTwo), f.creds)
}

// rotateUnderLoad runs rotate-secret with env and args while a serves
// load (see startLoad): every request must succeed, and the gateway must
// have been busy during the rotation.
func rotateUnderLoad(t *testing.T, a *proc, f *rotationFixture, env map[string]string,
	args ...string) {
	t.Helper()
	l := startLoad(f, a.info)
	// The walk outpaces the writer (two values each 50 ms against one each
	// 100 ms), so that it reaches the end of the growing table.
	rep := l.during(t, func() rotateReport {
		return mustRotate(t, env, append(args, "--batch", "2", "--batch-delay", "50ms")...)
	})
	l.finish(t)
	if rep.CurrentVersion != 2 || rep.Resealed == 0 {
		t.Errorf("rotation report %+v", rep.RotateReport)
	}
}
