package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// The checks behind GET /readyz, and those of Doctor, in order.
var (
	readyNames  = []string{"database", "migrations", "ca", "tls_certificate", "sealing"}
	doctorNames = []string{"secret", "admin_listener", "database", "migrations", "ca",
		"tls_certificate", "sealing", "federation_listener", "ca_root", "served_tls_certificate",
		"outbound_peers"}
)

// readyAnswer is the body of GET /readyz and of "gateway doctor --json".
type readyAnswer struct {
	Status string        `json:"status"`
	Checks mosaic.Checks `json:"checks"`
}

// TestReadiness runs a gateway on PostgreSQL through a relay: ready with
// every check ok, then not ready (the database check failing) while the
// relay is cut, and ready again when it is back. /healthz answers 200
// throughout.
func TestReadiness(t *testing.T) {
	t.Parallel()
	relay, dbURL := relayedURL(t, storetest.PostgresURL(t))
	env := map[string]string{seal.EnvSecret: strongSecret}
	n := start(t, t.TempDir(), options{env: env, databaseURL: dbURL})
	doctorCfg := gateway.Config{DataDir: n.dataDir, Env: func(k string) string { return env[k] }}

	assertHealthz(t, n)
	assertChecksOK(t, "GET /readyz", waitReadyz(t, n, http.StatusOK).Checks, readyNames)
	assertChecksOK(t, "Doctor", gateway.Doctor(context.Background(), doctorCfg), doctorNames)

	relay.setDown(true)
	down := waitReadyz(t, n, http.StatusServiceUnavailable)
	if down.Status != "fail" || checkStatus(down.Checks, "database") != mosaic.CheckFail {
		t.Errorf("readyz with the database cut: %+v, want status fail, database fail", down)
	}
	assertHealthz(t, n)
	checks := gateway.Doctor(context.Background(), doctorCfg)
	if !checks.Failed() || checkStatus(checks, "database") != mosaic.CheckFail ||
		checkStatus(checks, "admin_listener") != mosaic.CheckOK {
		t.Errorf("Doctor with the database cut: %+v, want admin_listener ok, database fail",
			checks)
	}

	relay.setDown(false)
	assertChecksOK(t, "GET /readyz after the database returned",
		waitReadyz(t, n, http.StatusOK).Checks, readyNames)
	n.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/users", nil, nil)
	assertHealthz(t, n)
}

// TestDoctor checks a running gateway with Doctor and "mosaic gateway
// doctor" (table and JSON), then the same gateway stopped: the admin
// listener check fails and the command exits non-zero.
func TestDoctor(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	n := start(t, dataDir, options{})
	cfg := gateway.Config{DataDir: dataDir, Env: func(string) string { return "" }}
	assertChecksOK(t, "Doctor", gateway.Doctor(context.Background(), cfg), doctorNames)

	out, errOut, code := runCLI(t, nil, "gateway", "doctor", "--data-dir", dataDir, "--json")
	if code != 0 {
		t.Fatalf("doctor --json on a running gateway: exit %d: %s%s", code, out, errOut)
	}
	answer := decodeDoctorJSON(t, out)
	if answer.Status != "ok" {
		t.Errorf("doctor --json status %q, want ok", answer.Status)
	}
	assertChecksOK(t, "doctor --json", answer.Checks, doctorNames)

	out, errOut, code = runCLI(t, nil, "gateway", "doctor", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "CHECK") {
		t.Fatalf("doctor on a running gateway: exit %d: %s%s", code, out, errOut)
	}
	for _, name := range doctorNames {
		if !strings.Contains(out, name) {
			t.Errorf("doctor table does not list %s:\n%s", name, out)
		}
	}

	n.mustStop(t)
	checks := gateway.Doctor(context.Background(), cfg)
	if checkStatus(checks, "admin_listener") != mosaic.CheckFail || !checks.Failed() {
		t.Errorf("Doctor on a stopped gateway: %+v, want admin_listener fail", checks)
	}
	out, errOut, code = runCLI(t, nil, "gateway", "doctor", "--data-dir", dataDir)
	if code == 0 || !strings.Contains(errOut, "some checks failed") ||
		!strings.Contains(out, "admin_listener") {
		t.Errorf("doctor on a stopped gateway: exit %d: %s%s", code, out, errOut)
	}
	out, _, code = runCLI(t, nil, "gateway", "doctor", "--data-dir", dataDir, "--json")
	answer = decodeDoctorJSON(t, out)
	if code == 0 || answer.Status != "fail" ||
		checkStatus(answer.Checks, "admin_listener") != mosaic.CheckFail {
		t.Errorf("doctor --json on a stopped gateway: exit %d: %s", code, out)
	}
}

// TestPostgresRestart restarts a gateway on PostgreSQL: it keeps its CA,
// its admin token and its data, and keeps no SQLite file.
func TestPostgresRestart(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	dataDir := t.TempDir()
	o := options{env: map[string]string{seal.EnvSecret: strongSecret}, databaseURL: dbURL}
	first := start(t, dataDir, o)
	pin := pki.Pin(fetchCA(t, first))
	var user mosaic.User
	first.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Alice Example", "email": "alice@example.test"}, &user)
	var grant mosaic.Grant
	first.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/grants",
		map[string]any{"userId": user.ID, "peerName": "Gateway A",
			"scope": map[string]any{"resources": []string{"tasks"},
				"max_rows_per_query": 10}}, &grant)
	first.mustStop(t)

	second := start(t, dataDir, o)
	if second.info.AdminToken != first.info.AdminToken {
		t.Error("restart replaced the admin token")
	}
	if got := pki.Pin(fetchCA(t, second)); got != pin {
		t.Errorf("CA pin %s after restart, want %s", got, pin)
	}
	var users struct{ Items []mosaic.User }
	second.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/users", nil, &users)
	if len(users.Items) != 1 || users.Items[0].ID != user.ID {
		t.Errorf("users after restart: %+v, want only %s", users.Items, user.ID)
	}
	assertGrantStatus(t, second, grant.ID, mosaic.GrantPending)
	second.mustStop(t)
	if _, err := os.Stat(filepath.Join(dataDir, "mosaic.db")); err == nil {
		t.Error("a gateway on PostgreSQL created mosaic.db")
	}
}

// waitReadyz polls GET /readyz until it answers want, at most 15 seconds,
// and returns that answer.
func waitReadyz(t *testing.T, n *node, want int) readyAnswer {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body := call(t, http.MethodGet, n.info.AdminURL+"/readyz", "", nil)
		if status == want {
			var a readyAnswer
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatalf("GET /readyz: %v: %s", err, body)
			}
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz: %d %s, want %d", status, body, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertHealthz checks that GET /healthz answers 200 {"status":"ok"}.
func assertHealthz(t *testing.T, n *node) {
	t.Helper()
	status, body := call(t, http.MethodGet, n.info.AdminURL+"/healthz", "", nil)
	if status != http.StatusOK || !bytes.Equal(bytes.TrimSpace(body), []byte(`{"status":"ok"}`)) {
		t.Errorf("GET /healthz: %d %s", status, body)
	}
}

// assertChecksOK fails the test unless checks are exactly the named ones,
// in order, each ok with a reason.
func assertChecksOK(t *testing.T, what string, checks mosaic.Checks, names []string) {
	t.Helper()
	if len(checks) != len(names) {
		t.Errorf("%s: %d checks %+v, want %v", what, len(checks), checks, names)
		return
	}
	for i, c := range checks {
		if c.Name != names[i] || c.Status != mosaic.CheckOK || c.Reason == "" {
			t.Errorf("%s: check %d is %+v, want %s ok with a reason", what, i, c, names[i])
		}
	}
}

// checkStatus returns the status of the named check, or "" if it is
// missing.
func checkStatus(checks mosaic.Checks, name string) mosaic.CheckStatus {
	for _, c := range checks {
		if c.Name == name {
			return c.Status
		}
	}
	return ""
}

// decodeDoctorJSON decodes the output of "gateway doctor --json" strictly:
// one object with a status and checks, each with a name, a status and a
// reason, and nothing else.
func decodeDoctorJSON(t *testing.T, out string) readyAnswer {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var a readyAnswer
	if err := dec.Decode(&a); err != nil || dec.More() {
		t.Fatalf("doctor --json output is not one {status, checks} object (%v):\n%s", err, out)
	}
	for _, c := range a.Checks {
		switch {
		case c.Name == "" || c.Reason == "":
			t.Errorf("doctor --json check without a name or reason: %+v", c)
		case c.Status != mosaic.CheckOK && c.Status != mosaic.CheckWarn &&
			c.Status != mosaic.CheckFail:
			t.Errorf("doctor --json check %s has status %q", c.Name, c.Status)
		}
	}
	return a
}
