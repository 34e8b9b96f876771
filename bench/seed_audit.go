package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// seedAuditBatch is how many audit rows one INSERT of the seeder writes:
// at seedAuditCols values a row, well under the parameter limits of SQLite
// (32,766) and PostgreSQL (65,535).
const seedAuditBatch = 1000

// seedAuditCols are the columns of a seeded audit row, hash chain
// included.
const seedAuditCols = "id, occurred_at, request_id, peer_id, grant_id, subject_user_id, " +
	"verb, resource, status, outcome, reason, row_count, source_addr, token_hash_prefix, " +
	"cert_serial, prev_hash, hash"

// seedAuditValues is how many values a seeded audit row takes.
var seedAuditValues = strings.Count(seedAuditCols, ",") + 1

// auditChainLock takes the PostgreSQL advisory lock under which the store
// appends to the audit chain (sqlstore's auditChainLockID, the ASCII bytes
// of "mosaicau"), so that no append of a running gateway interleaves.
const auditChainLock = "SELECT pg_advisory_xact_lock(7885648334766170485)"

// Audit appends n allowed read events to the audit log, spread over the
// seeded grants (grants of them, at least 1), ten milliseconds apart and
// ending now. The rows join the hash chain (package auditchain) as if the
// store had appended them: each links to the row before, the first to the
// newest row already there, and they take the ids the store would have
// handed out next, so that `mosaic federation audit verify` finds the
// chain intact and the gateway's own appends follow on. One transaction
// writes them all, holding the chain's lock.
func (s *Seeder) Audit(ctx context.Context, userID string, n, grants int) error {
	if n <= 0 {
		return nil
	}
	grants = max(grants, 1)
	err := s.inTx(ctx, "audit_events", func(tx *sql.Tx) error {
		first, prev, err := s.chainHead(ctx, tx)
		if err != nil {
			return err
		}
		now := time.Now().UnixMilli()
		ev := mosaic.AuditEvent{SubjectUserID: userID, Verb: "read", Resource: "tasks",
			Status: 200, Outcome: mosaic.OutcomeAllowed, Rows: PageRows,
			SourceAddr: "127.0.0.1:40000"}
		args := make([]any, 0, seedAuditBatch*seedAuditValues)
		for x := 1; x <= n; x++ {
			k := x%grants + 1
			ev.ID = first + int64(x-1)
			ev.Time = time.UnixMilli(now - int64(n-x)*10)
			ev.RequestID = fmt.Sprintf("seed-%d", x)
			ev.PeerID = fmt.Sprintf("%s%012d", seedPeerPrefix, k)
			ev.GrantID = fmt.Sprintf("%s%012d", seedGrantPrefix, k)
			ev.CertSerial = fmt.Sprintf("%040x", k)
			hash := auditchain.Hash(prev, &ev)
			args = append(args, ev.ID, ev.Time.UnixMilli(), ev.RequestID, ev.PeerID,
				ev.GrantID, ev.SubjectUserID, ev.Verb, ev.Resource, ev.Status,
				string(ev.Outcome), ev.Reason, ev.Rows, ev.SourceAddr, ev.TokenHashPrefix,
				ev.CertSerial, prev, hash)
			prev = hash
			if len(args) == cap(args) || x == n {
				if _, err := tx.ExecContext(ctx, s.auditInsert(len(args)/seedAuditValues),
					args...); err != nil {
					return err
				}
				args = args[:0]
			}
		}
		return s.chainTail(ctx, tx, first+int64(n)-1)
	})
	if err != nil {
		return fmt.Errorf("bench: seed audit_events: %w", err)
	}
	return nil
}

// chainHead returns the id the next audit row takes and the hash it links
// to ("" when the log is empty), as the store's own appends find them, in
// a transaction that holds the chain's lock (inTx takes PostgreSQL's;
// SQLite's write transaction is the lock).
func (s *Seeder) chainHead(ctx context.Context, tx *sql.Tx) (int64, string, error) {
	const newest = `SELECT COALESCE((SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1), '')`
	next := `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0) + 1`
	if s.postgres {
		next = `SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))`
	}
	var first int64
	var prev string
	if err := tx.QueryRowContext(ctx, next).Scan(&first); err != nil {
		return 0, "", fmt.Errorf("next audit id: %w", err)
	}
	if err := tx.QueryRowContext(ctx, newest).Scan(&prev); err != nil {
		return 0, "", fmt.Errorf("newest audit hash: %w", err)
	}
	return first, prev, nil
}

// chainTail moves PostgreSQL's id sequence past last, the last seeded id,
// so that the store's next append follows on. SQLite's AUTOINCREMENT
// moves on by itself with the inserted ids.
func (s *Seeder) chainTail(ctx context.Context, tx *sql.Tx, last int64) error {
	if !s.postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx,
		`SELECT setval(pg_get_serial_sequence('audit_events', 'id'), $1)`, last)
	return err
}

// auditInsert returns the statement that inserts rows seeded audit rows.
func (s *Seeder) auditInsert(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO audit_events (" + seedAuditCols + ")")
	if s.postgres {
		b.WriteString(" OVERRIDING SYSTEM VALUE")
	}
	b.WriteString(" VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range seedAuditValues {
			if c > 0 {
				b.WriteString(", ")
			}
			n++
			if s.postgres {
				fmt.Fprintf(&b, "$%d", n)
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}
