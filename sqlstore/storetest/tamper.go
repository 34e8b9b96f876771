package storetest

import (
	"testing"

	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// tamperCase changes a chain of five rows behind the store's back; the
// chain must then break at the row named by brokenAt.
type tamperCase struct {
	name   string
	tamper func(t *testing.T, env *ChainEnv, recs []*auditchain.Record)
	// brokenAt is the index of the row verification must name, and
	// prevAt that of the last row that verified (-1 for none).
	brokenAt, prevAt int
	problem          string
}

var tamperCases = []tamperCase{
	{name: "field of a middle row changed", brokenAt: 2, prevAt: 1,
		problem: auditchain.ProblemHashMismatch,
		tamper: func(t *testing.T, env *ChainEnv, recs []*auditchain.Record) {
			env.Exec(t, `UPDATE audit_events SET reason = 'nothing to see' WHERE id = ?`,
				recs[2].ID)
		}},
	{name: "denial turned into an allowed read", brokenAt: 3, prevAt: 2,
		problem: auditchain.ProblemHashMismatch,
		tamper: func(t *testing.T, env *ChainEnv, recs []*auditchain.Record) {
			env.Exec(t, `UPDATE audit_events SET status = 200, outcome = 'allowed'
				WHERE id = ?`, recs[3].ID)
		}},
	{name: "time moved by a millisecond", brokenAt: 1, prevAt: 0,
		problem: auditchain.ProblemHashMismatch,
		tamper: func(t *testing.T, env *ChainEnv, recs []*auditchain.Record) {
			env.Exec(t, `UPDATE audit_events SET occurred_at = occurred_at + 1 WHERE id = ?`,
				recs[1].ID)
		}},
	{name: "middle row deleted", brokenAt: 3, prevAt: 1,
		problem: auditchain.ProblemPrevMismatch,
		tamper: func(t *testing.T, env *ChainEnv, recs []*auditchain.Record) {
			env.Exec(t, `DELETE FROM audit_events WHERE id = ?`, recs[2].ID)
		}},
	{name: "first row deleted", brokenAt: 1, prevAt: -1,
		problem: auditchain.ProblemPrevMismatch,
		tamper: func(t *testing.T, env *ChainEnv, recs []*auditchain.Record) {
			env.Exec(t, `DELETE FROM audit_events WHERE id = ?`, recs[0].ID)
		}},
	{name: "two rows swapped with their hashes", brokenAt: 1, prevAt: 0,
		problem: auditchain.ProblemHashMismatch,
		tamper: func(t *testing.T, env *ChainEnv, recs []*auditchain.Record) {
			setRow(t, env, recs[1].ID, recs[3], true)
			setRow(t, env, recs[3].ID, recs[1], true)
		}},
	{name: "two events swapped, hashes left", brokenAt: 1, prevAt: 0,
		problem: auditchain.ProblemHashMismatch,
		tamper: func(t *testing.T, env *ChainEnv, recs []*auditchain.Record) {
			setRow(t, env, recs[1].ID, recs[3], false)
			setRow(t, env, recs[3].ID, recs[1], false)
		}},
	{name: "row altered and hashed again", brokenAt: 3, prevAt: 2,
		problem: auditchain.ProblemPrevMismatch,
		tamper: func(t *testing.T, env *ChainEnv, recs []*auditchain.Record) {
			forged := *recs[2]
			forged.Reason = "nothing to see"
			env.Exec(t, `UPDATE audit_events SET reason = ?, hash = ? WHERE id = ?`,
				forged.Reason, auditchain.Hash(forged.PrevHash, &forged.AuditEvent), forged.ID)
		}},
	{name: "hash erased", brokenAt: 4, prevAt: 3,
		problem: auditchain.ProblemMissingHash,
		tamper: func(t *testing.T, env *ChainEnv, recs []*auditchain.Record) {
			env.Exec(t, `UPDATE audit_events SET hash = NULL WHERE id = ?`, recs[4].ID)
		}},
}

// testTampering changes the database behind the store's back in each of
// the ways of tamperCases and checks that verification names the row.
func testTampering(t *testing.T, open func(t *testing.T) *ChainEnv) {
	for _, tc := range tamperCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := open(t)
			appendEvents(t, env.Store, 5, "denied")
			recs := wantIntact(t, env.Store, 5)

			tc.tamper(t, env, recs)
			r := verify(t, env.Store)
			wantPrev := int64(0)
			if tc.prevAt >= 0 {
				wantPrev = recs[tc.prevAt].ID
			}
			b := r.Break
			if r.Intact || b == nil || b.ID != recs[tc.brokenAt].ID || b.Problem != tc.problem ||
				b.PrevID != wantPrev || b.Detail == "" {
				t.Fatalf("verify = %+v, break %+v; want %s at row %d after row %d",
					r, b, tc.problem, recs[tc.brokenAt].ID, wantPrev)
			}
			if r.HeadID != wantPrev {
				t.Fatalf("head %d, want the last good row %d", r.HeadID, wantPrev)
			}
		})
	}
}

// setRow overwrites the row with that id with the event of rec, and with
// its hashes too when withHashes is set.
func setRow(t *testing.T, env *ChainEnv, id int64, rec *auditchain.Record, withHashes bool) {
	t.Helper()
	ev := rec.AuditEvent
	env.Exec(t, `UPDATE audit_events SET occurred_at = ?, request_id = ?, peer_id = ?,
		grant_id = ?, subject_user_id = ?, verb = ?, resource = ?, status = ?, outcome = ?,
		reason = ?, row_count = ?, source_addr = ?, token_hash_prefix = ?, cert_serial = ?
		WHERE id = ?`,
		ev.Time.UnixMilli(), ev.RequestID, ev.PeerID, ev.GrantID, ev.SubjectUserID, ev.Verb,
		ev.Resource, ev.Status, string(ev.Outcome), ev.Reason, ev.Rows, ev.SourceAddr,
		ev.TokenHashPrefix, ev.CertSerial, id)
	if withHashes {
		env.Exec(t, `UPDATE audit_events SET prev_hash = ?, hash = ? WHERE id = ?`,
			rec.PrevHash, rec.Hash, id)
	}
}
