// Package sqlstore implements mosaic.Store over database/sql. SQLite (through
// modernc.org/sqlite, no cgo; OpenSQLite) is the zero-setup default and
// PostgreSQL (through pgx; OpenPostgres) the production store that several
// gateway replicas may share. The statements are written once, with ?
// placeholders, and a small dialect value adapts them to each database; each
// dialect has its own migrations with the same schema in its own types.
//
// Guarantees that must hold across gateway replicas (single-use tokens,
// conditional activation, immediate revocation) are single conditional
// statements or one transaction, and expiry is judged by the database clock.
// On PostgreSQL they hold at READ COMMITTED, the default: a conditional
// UPDATE that finds its row locked waits, then evaluates its condition again
// on the committed row.
//
// The audit log is a hash chain (package auditchain): every audit row is
// appended by one insert path that holds the chain lock for the rest of its
// transaction (on PostgreSQL an advisory lock; SQLite's write transactions
// are serialised already), so appends from every replica form one chain.
package sqlstore
