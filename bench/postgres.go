package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DefaultPostgresURL is the PostgreSQL server the benchmarks use when
// BENCH_POSTGRES_URL is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Postgres makes throwaway databases on a PostgreSQL server and drops
// them.
type Postgres struct {
	admin   *sql.DB
	base    *url.URL
	created []string
}

// OpenPostgres connects to the server at rawURL (a database the user may
// create databases from).
func OpenPostgres(ctx context.Context, rawURL string) (*Postgres, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bench: postgres URL does not parse")
	}
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("bench: open postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("bench: postgres at %s: %w", u.Redacted(), err)
	}
	return &Postgres{admin: db, base: u}, nil
}

// Version returns the server's version string.
func (p *Postgres) Version(ctx context.Context) string {
	var v string
	if err := p.admin.QueryRowContext(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "unknown"
	}
	return v
}

// CreateDatabase creates a new database named after purpose and returns
// its URL.
func (p *Postgres) CreateDatabase(ctx context.Context, purpose string) (string, error) {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return "", err
	}
	name := "mosaic_bench_" + purpose + "_" + hex.EncodeToString(suffix)
	if _, err := p.admin.ExecContext(ctx, "CREATE DATABASE "+quoteIdent(name)); err != nil {
		return "", fmt.Errorf("bench: create database %s: %w", name, err)
	}
	p.created = append(p.created, name)
	u := *p.base
	u.Path = "/" + name
	return u.String(), nil
}

// Close drops every database it created, then disconnects.
func (p *Postgres) Close(ctx context.Context) error {
	var first error
	for _, name := range p.created {
		_, err := p.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)+
			" WITH (FORCE)")
		if err != nil && first == nil {
			first = fmt.Errorf("bench: drop database %s: %w", name, err)
		}
	}
	p.created = nil
	if err := p.admin.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
