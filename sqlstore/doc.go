// Package sqlstore implements mosaic.Store over database/sql. SQLite (through
// modernc.org/sqlite, no cgo) is the zero-setup default; the statements are
// written once, with ? placeholders, and a small dialect value adapts them
// to each database, so that PostgreSQL is an addition rather than a copy.
//
// Guarantees that must hold across gateway replicas (single-use tokens,
// conditional activation, immediate revocation) are single conditional
// statements or one transaction, and expiry is judged by the database clock.
package sqlstore
