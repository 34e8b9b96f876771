package gateway_test

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// rotationOnPostgres is a stopped gateway whose values live in a
// PostgreSQL database, with a fixture of n credentials.
func rotationOnPostgres(t *testing.T, n int) (string, *sql.DB, *rotationFixture, int) {
	t.Helper()
	dbURL := storetest.PostgresURL(t)
	a := startProc(t, t.TempDir(), dbURL, secretEnv(rotateOne, ""))
	f := newRotationFixture(t, a, n)
	a.mustStop(t)
	raw, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return dbURL, raw, f, len(readSealed(t, raw))
}

// TestRotateSecretResumePostgres kills a rotation of a PostgreSQL database
// with SIGKILL half way: every value still opens under one of the two
// secrets, none is lost, and a second run finishes the rotation.
func TestRotateSecretResumePostgres(t *testing.T) {
	t.Parallel()
	dbURL, raw, f, total := rotationOnPostgres(t, 40)
	env := secretEnv(rotateTwo, rotateOne)
	rotation := command(t, env, "gateway", "rotate-secret", "--db", dbURL, "--data-dir",
		t.TempDir(), "--batch", "2", "--batch-delay", "100ms")
	killMidway(t, rotation, func() bool {
		return byVersion(t, readSealed(t, raw))["credentials/2"] >= 4
	})

	values := readSealed(t, raw)
	counts := byVersion(t, values)
	if len(values) != total || counts["credentials/1"] == 0 {
		t.Fatalf("after the kill: %d values (want %d), %v by version", len(values), total,
			counts)
	}
	wantOpen(t, values, sealerOf(t, rotateOne, rotateTwo), f.creds)
	mustRotate(t, env, "--db", dbURL, "--data-dir", t.TempDir())
	wantAllUnder(t, readSealed(t, raw), 2, sealerOf(t, rotateTwo, rotateTwo), f.creds)
}

// TestRotateSecretTwiceAtOncePostgres runs two rotations of one PostgreSQL
// database at the same time, as two operators on two hosts might: both
// finish without error and every value ends under the new version, once.
func TestRotateSecretTwiceAtOncePostgres(t *testing.T) {
	t.Parallel()
	dbURL, raw, f, total := rotationOnPostgres(t, 30)
	env := secretEnv(rotateTwo, rotateOne)
	var wg sync.WaitGroup
	reports := make([]rotateReport, 2)
	errs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := command(t, env, "gateway", "rotate-secret", "--json", "--db", dbURL,
				"--data-dir", t.TempDir(), "--batch", "3", "--batch-delay", "20ms")
			var out, errOut strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil {
				errs[i] = err.Error() + ": " + errOut.String()
				return
			}
			if err := json.Unmarshal([]byte(out.String()), &reports[i]); err != nil {
				errs[i] = err.Error()
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Fatalf("rotation %d: %s", i, e)
		}
	}
	t.Logf("re-sealed %d and %d of %d", reports[0].Resealed, reports[1].Resealed, total)
	if got := reports[0].Resealed + reports[1].Resealed; got != total {
		t.Errorf("the two runs re-sealed %d values between them, want each of the %d once",
			got, total)
	}
	values := readSealed(t, raw)
	if len(values) != total {
		t.Fatalf("%d sealed values after two rotations, want %d", len(values), total)
	}
	wantAllUnder(t, values, 2, sealerOf(t, rotateTwo, rotateTwo), f.creds)
}

// TestRotateSecretRefusedWhileAnotherRuns holds the rotation lock of a
// data directory, as a rotation under way does: another rotation of it
// fails at once with one line and changes nothing.
func TestRotateSecretRefusedWhileAnotherRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startProc(t, dir, "", secretEnv(rotateOne, ""))
	a.mustStop(t)
	db := openDB(t, dir)
	before := dumpDB(t, db)

	lock, err := os.OpenFile(filepath.Join(dir, "rotate.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	rep, errOut, code := runRotate(t, secretEnv(rotateTwo, rotateOne), "--data-dir", dir)
	if code == 0 || rep.Tables != nil || !strings.Contains(errOut, "another rotate-secret") ||
		strings.Count(errOut, "\n") != 1 {
		t.Fatalf("rotation beside another: exit %d, %q", code, errOut)
	}
	if changed := changedTables(before, dumpDB(t, db)); len(changed) > 0 {
		t.Fatalf("the refused rotation changed %v", changed)
	}
}
