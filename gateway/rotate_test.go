package gateway_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
)

// Secrets of the rotation tests.
const (
	rotateOne   = strongSecret + "-rotation-one"
	rotateTwo   = strongSecret + "-rotation-two"
	rotateWrong = strongSecret + "-rotation-wrong"
)

// TestRotateSecret rotates a stopped gateway's secret: refused secrets
// change nothing; the rotation re-seals every value under the new version
// and a second run finds nothing to do; the gateway then runs on the new
// secret alone (its CA signs, its outbound peer key opens) and refuses the
// old one.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	dirA := t.TempDir()
	a := startProc(t, dirA, "", secretEnv(rotateOne, ""))
	f := newRotationFixture(t, a, 5)
	a.mustStop(t)
	db := openDB(t, dirA)
	total := len(readSealed(t, db))

	assertRotationRefused(t, dirA)

	args := []string{"--data-dir", dirA, "--batch", "2"}
	rep := mustRotate(t, secretEnv(rotateTwo, rotateOne), args...)
	if rep.CurrentVersion != 2 || rep.Resealed != total || rep.AlreadyCurrent != 0 {
		t.Errorf("rotation report %+v, want all %d values re-sealed under version 2",
			rep.RotateReport, total)
	}
	wantAllUnder(t, readSealed(t, db), 2, sealerOf(t, rotateOne, rotateTwo), f.creds)
	again := mustRotate(t, secretEnv(rotateTwo, rotateOne), args...)
	if again.Resealed != 0 || again.AlreadyCurrent != total {
		t.Errorf("second rotation report %+v, want all %d values already current",
			again.RotateReport, total)
	}

	// The new secret alone serves: the outbound peer key opens, the CA
	// signs an enrollment, and every value opens with it alone.
	a = startProc(t, dirA, "", secretEnv(rotateTwo, ""))
	readAliceTasks(t, &node{info: a.info}, f.peerID, f.alice)
	enrollWith(t, a, f.b)
	a.mustStop(t)
	wantOpen(t, readSealed(t, db), sealerOf(t, rotateTwo, rotateTwo), f.creds)

	// The old secret alone no longer starts it.
	p := launch(t, dirA, "", secretEnv(rotateOne, ""))
	<-p.exited
	p.stopOnce.Do(func() {}) // it exited as it should: the cleanup has nothing to stop
	if p.waitErr == nil || !strings.Contains(p.logs.String(), "ca-intermediate") {
		t.Errorf("a start with the old secret: %v\n%s", p.waitErr, p.logs)
	}
}

// enrollWith has gateway b enroll with a under a new grant of a, which
// a's CA signs.
func enrollWith(t *testing.T, a *proc, b *node) {
	t.Helper()
	var user mosaic.User
	a.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Bea", "email": mosaic.NewID() + "@a.example.test"}, &user)
	var grant mosaic.Grant
	a.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/grants",
		map[string]any{"userId": user.ID, "peerName": "Gateway B", "scope": map[string]any{
			"resources": []string{"tasks"}, "max_rows_per_query": 10}}, &grant)
	var tok tokenAnswer
	a.mustAdmin(t, http.StatusCreated, http.MethodPost,
		"/api/admin/federation/grants/"+grant.ID+"/tokens", map[string]any{"ttlSeconds": 600},
		&tok)
	enroll(t, b, tok.EnrollmentURL)
	var active mosaic.Grant
	a.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/federation/grants/"+grant.ID,
		nil, &active)
	if active.Status != mosaic.GrantActive {
		t.Fatalf("grant on A is %s after enrollment, want active", active.Status)
	}
}

// assertRotationRefused runs rotations whose secrets are refused: each
// exits non-zero with one line naming the problem and no secret, and the
// database and data directory are left as they were.
func assertRotationRefused(t *testing.T, dirA string) {
	t.Helper()
	db := openDB(t, dirA)
	before := dumpDB(t, db)
	files := dirFiles(t, dirA)
	short := strings.Repeat("s", seal.MinSecretLen-1)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"new secret without the previous", secretEnv(rotateTwo, ""), nil,
			"wrong MOSAIC_SECRET"},
		{"wrong previous secret", secretEnv(rotateTwo, rotateWrong), nil,
			"MOSAIC_SECRET_PREVIOUS"},
		{"short secret", secretEnv(short, ""), nil, "shorter than 32 bytes"},
		{"short previous secret", secretEnv(rotateTwo, short), nil, "shorter than 32 bytes"},
		{"no secret", nil, nil, "no sealing secret"},
		{"generate with the secret in the environment", secretEnv(rotateOne, ""),
			[]string{"--generate"}, "--generate replaces"},
		{"batch of 0", secretEnv(rotateOne, ""), []string{"--batch", "0"}, "--batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data-dir", dirA}, tt.args...)
			rep, errOut, code := runRotate(t, tt.env, args...)
			line := strings.TrimSuffix(errOut, "\n")
			if code == 0 || rep.Tables != nil || strings.Contains(line, "\n") ||
				!strings.HasPrefix(line, "mosaic: ") || !strings.Contains(line, tt.want) {
				t.Errorf("exit %d, report %+v, stderr %q: want one line naming %q", code,
					rep.RotateReport, errOut, tt.want)
			}
			for _, secret := range []string{rotateOne, rotateTwo, rotateWrong, short} {
				if strings.Contains(errOut, secret) {
					t.Errorf("stderr %q holds a secret", errOut)
				}
			}
		})
	}
	if changed := changedTables(before, dumpDB(t, db)); len(changed) > 0 {
		t.Errorf("refused rotations changed %v", changed)
	}
	if after := dirFiles(t, dirA); after != files {
		t.Errorf("refused rotations changed the data directory from %s to %s", files, after)
	}
}

// dirFiles lists the names of a directory, but the rotation lock, which a
// rotation may leave behind.
func dirFiles(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "rotate.lock" {
			names = append(names, e.Name())
		}
	}
	return strings.Join(names, " ")
}

// TestRotateSecretGenerateRefusedMidRotation checks that --generate
// refuses to start another rotation while values remain under an older
// version, and changes neither the database nor the secret files.
func TestRotateSecretGenerateRefusedMidRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startProc(t, dir, "", nil)
	a.mustStop(t)
	// A half-done rotation: the new secret is in place, no value re-sealed.
	if _, err := seal.RotateSecretFile(dir); err != nil {
		t.Fatal(err)
	}
	secretBefore, _ := os.ReadFile(filepath.Join(dir, seal.SecretFileName))
	db := openDB(t, dir)
	before := dumpDB(t, db, "settings") // the new secret is registered meanwhile
	_, errOut, code := runRotate(t, nil, "--data-dir", dir, "--generate")
	if code == 0 || !strings.Contains(errOut, "without --generate") {
		t.Fatalf("--generate mid-rotation: exit %d: %s", code, errOut)
	}
	secretAfter, _ := os.ReadFile(filepath.Join(dir, seal.SecretFileName))
	if string(secretAfter) != string(secretBefore) {
		t.Error("the refused --generate replaced the secret file")
	}
	if changed := changedTables(before, dumpDB(t, db, "settings")); len(changed) > 0 {
		t.Errorf("the refused --generate changed %v", changed)
	}

	// Finishing the rotation, then --generate, works.
	mustRotate(t, nil, "--data-dir", dir)
	rep := mustRotate(t, nil, "--data-dir", dir, "--generate")
	if rep.CurrentVersion != 3 || rep.Resealed != 3 || rep.SecretFile == "" {
		t.Errorf("--generate after the rotation: %+v", rep)
	}
}
