// Command pgcheck exits 0 when the PostgreSQL server at
// MOSAIC_TEST_POSTGRES_URL answers, and 1 otherwise. make test uses it to
// say up front whether the PostgreSQL tests will run.
package main

import (
	"context"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	url := os.Getenv("MOSAIC_TEST_POSTGRES_URL")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		os.Exit(1)
	}
	defer conn.Close(ctx)
	if err := conn.Ping(ctx); err != nil {
		os.Exit(1)
	}
}
