package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Where the PostgreSQL tests find a server.
const (
	// PostgresURLEnv names the environment variable that holds the URL of a
	// PostgreSQL server the tests may create databases on.
	PostgresURLEnv = "MOSAIC_TEST_POSTGRES_URL"
	// DefaultPostgresURL is used when PostgresURLEnv is unset: a local
	// server with trust authentication.
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// RequirePostgresEnv names the environment variable that, set to 1,
	// makes an unreachable server fail the tests instead of skipping them.
	// A set CI variable (CI=true) does the same.
	RequirePostgresEnv = "MOSAIC_REQUIRE_POSTGRES"
)

// postgresAdminTimeout bounds connecting to the server and creating or
// dropping one database.
const postgresAdminTimeout = 30 * time.Second

// postgresServer remembers, for the whole test binary, that the server
// could not be reached, so that every later test skips at once.
var postgresServer struct {
	sync.Mutex
	unreachable error
}

// PostgresURL creates a new, empty database named mosaic_test_<random> on
// the server at MOSAIC_TEST_POSTGRES_URL (DefaultPostgresURL when unset),
// drops it when the test ends, and returns the server URL with that
// database in place of the server's.
//
// When the server cannot be reached the test is skipped, or fails when the
// environment says PostgreSQL is required (CI set, or
// MOSAIC_REQUIRE_POSTGRES=1). Any other problem fails the test.
func PostgresURL(t *testing.T) string {
	t.Helper()
	server := serverURL(t)

	postgresServer.Lock()
	defer postgresServer.Unlock()
	if err := postgresServer.unreachable; err != nil {
		unreachable(t, server, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), postgresAdminTimeout)
	defer cancel()
	conn, err := connectAdmin(ctx, server)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			// The server answered and refused: a setup problem to fix.
			t.Fatalf("storetest: connect to PostgreSQL at %s: %v", server.Redacted(), err)
		}
		postgresServer.unreachable = err
		unreachable(t, server, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	name := "mosaic_test_" + randomHex(t, 8)
	if err := createDatabase(ctx, conn, name); err != nil {
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, server, name) })

	fresh := *server
	fresh.Path = "/" + name
	fresh.RawPath = ""
	return fresh.String()
}

// serverURL returns the configured server URL, parsed.
func serverURL(t *testing.T) *url.URL {
	t.Helper()
	raw := os.Getenv(PostgresURLEnv)
	if raw == "" {
		raw = DefaultPostgresURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Do not print raw: it may hold a password.
		t.Fatalf("storetest: %s must be a postgres:// URL", PostgresURLEnv)
	}
	return u
}

// unreachable skips the test, or fails it when PostgreSQL is required.
func unreachable(t *testing.T, server *url.URL, err error) {
	t.Helper()
	msg := "PostgreSQL not reachable at " + server.Redacted() + "; set " + PostgresURLEnv
	if postgresRequired() {
		t.Fatalf("%s (required: %s=1 or CI set): %v", msg, RequirePostgresEnv, err)
	}
	t.Skipf("%s: %v", msg, err)
}

// postgresRequired reports whether the environment requires a server: CI
// set to anything but a false value, or MOSAIC_REQUIRE_POSTGRES=1.
func postgresRequired() bool {
	if os.Getenv(RequirePostgresEnv) == "1" {
		return true
	}
	ci := os.Getenv("CI")
	if ci == "" {
		return false
	}
	isSet, err := strconv.ParseBool(ci)
	return err != nil || isSet
}

// connectAdmin opens one plain connection to the server's own database.
func connectAdmin(ctx context.Context, server *url.URL) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(server.String())
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 5*time.Second {
		cfg.ConnectTimeout = 5 * time.Second
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// createDatabase creates the database, retrying while the template
// database is briefly in use by another session (SQLSTATE 55006).
func createDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		_, err = conn.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			return err
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	return err
}

// dropDatabase drops a test's database, closing whatever connections the
// test left open to it.
func dropDatabase(t *testing.T, server *url.URL, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), postgresAdminTimeout)
	defer cancel()
	conn, err := connectAdmin(ctx, server)
	if err != nil {
		t.Errorf("storetest: drop database %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	stmt := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Errorf("storetest: drop database %s: %v", name, err)
	}
}

// randomHex returns n random bytes in hex.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
