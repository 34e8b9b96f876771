package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

func TestFirstStart(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	n := start(t, dataDir, options{})

	// The data directory and its files, with private modes.
	assertMode(t, dataDir, 0o700)
	assertMode(t, filepath.Join(dataDir, seal.SecretFileName), 0o600)
	assertMode(t, filepath.Join(dataDir, gateway.AdminFile), 0o600)
	if _, err := os.Stat(filepath.Join(dataDir, "mosaic.db")); err != nil {
		t.Errorf("database: %v", err)
	}

	// admin.json names the real listeners.
	if want := "http://" + n.adminAddr.String(); n.info.AdminURL != want {
		t.Errorf("adminUrl %q, want %q", n.info.AdminURL, want)
	}
	if want := "https://" + n.fedAddr.String(); n.info.PublicURL != want {
		t.Errorf("publicUrl %q, want %q", n.info.PublicURL, want)
	}
	if _, err := mosaic.ParseTokenSecret(n.info.AdminToken); err != nil {
		t.Errorf("admin token is not a well-formed token: %v", err)
	}

	status, body := call(t, http.MethodGet, n.info.AdminURL+"/healthz", "", nil)
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"ok"`)) {
		t.Errorf("GET /healthz: %d %s", status, body)
	}
	if logs := n.logs.String(); !strings.Contains(logs, "generated "+dataDir) {
		t.Errorf("logs do not say where the secret was generated:\n%s", logs)
	}

	n.mustStop(t)
	secret := readSecret(t, dataDir)
	assertNoSecrets(t, "gateway", n.logs.String(), map[string]string{
		"admin token": n.info.AdminToken, "secret": secret,
	})
}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), options{})
	token := n.info.AdminToken
	tests := []struct {
		name string
		auth string
		want int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer " + strings.Repeat("A", len(token)), http.StatusUnauthorized},
		{"token with another scheme", "Basic " + token, http.StatusUnauthorized},
		{"token with a suffix", "Bearer " + token + "x", http.StatusUnauthorized},
		{"right token", "Bearer " + token, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, http.MethodGet, n.info.AdminURL+"/api/admin/users",
				tt.auth, nil)
			if status != tt.want {
				t.Fatalf("status %d, want %d: %s", status, tt.want, body)
			}
			if tt.want == http.StatusUnauthorized && errorCode(body) != "unauthorized" {
				t.Errorf("body %s: want code unauthorized", body)
			}
		})
	}
}

func TestSecretFromEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		env    map[string]string
		source string
	}{
		{"MOSAIC_SECRET", map[string]string{seal.EnvSecret: strongSecret}, "env MOSAIC_SECRET"},
		{"BETTER_AUTH_SECRET alias",
			map[string]string{seal.EnvSecretAlias: strongSecret}, "env BETTER_AUTH_SECRET"},
		{"MOSAIC_SECRET before the alias", map[string]string{
			seal.EnvSecret: strongSecret, seal.EnvSecretAlias: strongSecret + "-other",
		}, "env MOSAIC_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dataDir := t.TempDir()
			n := start(t, dataDir, options{env: tt.env})
			n.mustStop(t)
			if !strings.Contains(n.logs.String(), tt.source) {
				t.Errorf("logs do not name the secret's source %q", tt.source)
			}
			_, err := os.Stat(filepath.Join(dataDir, seal.SecretFileName))
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("secret file: %v, want none", err)
			}
			assertNoSecrets(t, "gateway", n.logs.String(), map[string]string{
				"secret": strongSecret, "admin token": n.info.AdminToken,
			})

			// The secret in use is the environment's: the same value under
			// the main name opens what was sealed, another one does not.
			start(t, dataDir, options{env: map[string]string{seal.EnvSecret: strongSecret}}).
				mustStop(t)
			other := map[string]string{seal.EnvSecret: strongSecret + "-other"}
			err = runFailing(t, dataDir, options{env: other}, &syncBuffer{})
			assertSecretError(t, err, strongSecret+"-other")
		})
	}
}

// TestRefusedSecret starts gateways whose secret is refused. It does not
// run in parallel: it needs addresses that no other test takes meanwhile.
func TestRefusedSecret(t *testing.T) {
	short := strings.Repeat("s", seal.MinSecretLen-1)
	tests := []struct {
		name   string
		env    map[string]string
		file   string
		mode   os.FileMode
		secret string
	}{
		{name: "short MOSAIC_SECRET", env: map[string]string{seal.EnvSecret: short},
			secret: short},
		{name: "short BETTER_AUTH_SECRET",
			env: map[string]string{seal.EnvSecretAlias: short}, secret: short},
		{name: "short secret file", file: short, mode: 0o600, secret: short},
		{name: "secret file readable by others", file: strongSecret, mode: 0o644,
			secret: strongSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			if tt.file != "" {
				path := filepath.Join(dataDir, seal.SecretFileName)
				if err := os.WriteFile(path, []byte(tt.file), tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			o := options{env: tt.env, adminAddr: freeAddr(t), federationAddr: freeAddr(t)}
			logs := &syncBuffer{}
			err := runFailing(t, dataDir, o, logs)
			if !strings.Contains(strings.ToLower(err.Error()), "secret") {
				t.Errorf("error %q does not mention the secret", err)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q holds the secret", err)
			}
			assertNotListening(t, o.adminAddr)
			assertNotListening(t, o.federationAddr)
			for _, name := range []string{"mosaic.db", gateway.AdminFile} {
				if _, err := os.Stat(filepath.Join(dataDir, name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: %v, want none", name, err)
				}
			}
			assertNoSecrets(t, "gateway", logs.String(), map[string]string{"secret": tt.secret})
		})
	}
}

func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	first := start(t, dataDir, options{})
	pin := pki.Pin(fetchCA(t, first))
	var user mosaic.User
	first.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Alice Example", "email": "alice@example.test"}, &user)
	secret := readSecret(t, dataDir)
	first.mustStop(t)

	second := start(t, dataDir, options{})
	if second.info.AdminToken != first.info.AdminToken {
		t.Error("restart replaced the admin token")
	}
	if got := pki.Pin(fetchCA(t, second)); got != pin {
		t.Errorf("CA pin %s after restart, want %s", got, pin)
	}
	if readSecret(t, dataDir) != secret {
		t.Error("restart replaced the secret file")
	}
	var users struct{ Items []mosaic.User }
	second.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/users", nil, &users)
	if len(users.Items) != 1 || users.Items[0].ID != user.ID {
		t.Errorf("users after restart: %+v, want only %s", users.Items, user.ID)
	}
	second.mustStop(t)

	// A different secret is refused and changes nothing.
	wrong := strings.Repeat("w", 40)
	env := map[string]string{seal.EnvSecret: wrong}
	logs := &syncBuffer{}
	assertSecretError(t, runFailing(t, dataDir, options{env: env}, logs), wrong)
	assertNoSecrets(t, "failed start", logs.String(), map[string]string{
		"secret": wrong, "admin token": first.info.AdminToken,
	})
	third := start(t, dataDir, options{})
	if third.info.AdminToken != first.info.AdminToken {
		t.Error("the refused start replaced the admin token")
	}
	if got := pki.Pin(fetchCA(t, third)); got != pin {
		t.Errorf("CA pin %s after a refused start, want %s", got, pin)
	}
}

func TestInitThenRun(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	logs := &syncBuffer{}
	cfg := options{}.config(dataDir, logs)
	if err := gateway.Init(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	assertMode(t, dataDir, 0o700)
	assertMode(t, filepath.Join(dataDir, gateway.AdminFile), 0o600)
	before, err := gateway.ReadAdminFile(filepath.Join(dataDir, gateway.AdminFile))
	if err != nil {
		t.Fatal(err)
	}

	n := start(t, dataDir, options{})
	if n.info.AdminToken != before.AdminToken {
		t.Error("Run replaced the admin token Init made")
	}
	if want := "http://" + n.adminAddr.String(); n.info.AdminURL != want {
		t.Errorf("adminUrl %q after Run, want %q", n.info.AdminURL, want)
	}
	n.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/users", nil, nil)
	assertNoSecrets(t, "init", logs.String(), map[string]string{
		"admin token": before.AdminToken, "secret": readSecret(t, dataDir),
	})
}

func TestCancelStopsListeners(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), options{})

	// A connection that never sent a request must not hold the shutdown
	// up for long (net/http drops it as idle after five seconds).
	conn, err := net.Dial("tcp", n.adminAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/users", nil, nil)

	begun := time.Now()
	n.mustStop(t)
	t.Logf("Run returned %s after cancel", time.Since(begun).Round(time.Millisecond))
	assertNotListening(t, n.adminAddr.String())
	assertNotListening(t, n.fedAddr.String())
	if !strings.Contains(n.logs.String(), "gateway stopped") {
		t.Error("logs do not say the gateway stopped")
	}
}

// TestBusyAddress does not run in parallel: it needs an address that no
// other test takes meanwhile.
func TestBusyAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		o    options
		want string
		free func(o options) string
	}{
		{"admin address", options{adminAddr: busy.Addr().String(),
			federationAddr: freeAddr(t)}, "admin listener",
			func(o options) string { return o.federationAddr }},
		{"federation address", options{adminAddr: freeAddr(t),
			federationAddr: busy.Addr().String()}, "federation listener",
			func(o options) string { return o.adminAddr }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runFailing(t, t.TempDir(), tt.o, &syncBuffer{})
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name the %s", err, tt.want)
			}
			assertNotListening(t, tt.free(tt.o))
		})
	}
}

// assertMode fails the test unless path has exactly the permissions want.
func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", filepath.Base(path), got, want)
	}
}

// readSecret returns the generated secret in dataDir, without whitespace.
func readSecret(t *testing.T, dataDir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, seal.SecretFileName))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// assertSecretError fails the test unless err says the secret is wrong
// without holding its value.
func assertSecretError(t *testing.T, err error, secret string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, "MOSAIC_SECRET") {
		t.Errorf("error %q does not point at MOSAIC_SECRET", msg)
	}
	if strings.Contains(msg, secret) {
		t.Errorf("error %q holds the secret", msg)
	}
}
