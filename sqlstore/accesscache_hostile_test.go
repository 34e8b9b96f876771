package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// hostileDB is a database with two stores on it, as two replicas, and a
// raw connection that changes it behind their backs.
type hostileDB struct {
	a, b *DB
	raw  *sql.DB
	// pg says the raw statements are numbered ($1) and PostgreSQL runs.
	pg bool
}

// hostileDatabases returns, for each dialect, a function that opens a new
// database for the test.
func hostileDatabases() map[string]func(t *testing.T) *hostileDB {
	return map[string]func(t *testing.T) *hostileDB{
		"SQLite": func(t *testing.T) *hostileDB {
			path := filepath.Join(t.TempDir(), "mosaic.db")
			h := &hostileDB{a: openHostile(t, func() (*DB, error) {
				return OpenSQLite(t.Context(), path)
			})}
			h.b = openHostile(t, func() (*DB, error) { return OpenSQLite(t.Context(), path) })
			raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = raw.Close() })
			h.raw = raw
			return h
		},
		"Postgres": func(t *testing.T) *hostileDB {
			url := storetest.PostgresURL(t)
			h := &hostileDB{pg: true,
				a: openHostile(t, func() (*DB, error) { return OpenPostgres(t.Context(), url) })}
			h.b = openHostile(t, func() (*DB, error) { return OpenPostgres(t.Context(), url) })
			raw, err := sql.Open("pgx", url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = raw.Close() })
			h.raw = raw
			return h
		},
	}
}

// runHostile runs fn on a new database of each dialect.
func runHostile(t *testing.T, fn func(t *testing.T, h *hostileDB)) {
	for name, open := range hostileDatabases() {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
}

func openHostile(t *testing.T, open func() (*DB, error)) *DB {
	t.Helper()
	db, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// q rewrites ? as $n on PostgreSQL.
func (h *hostileDB) q(stmt string) string {
	if !h.pg {
		return stmt
	}
	parts := strings.Split(stmt, "?")
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			fmt.Fprintf(&b, "$%d", i)
		}
		b.WriteString(p)
	}
	return b.String()
}

// exec runs stmt on the raw connection.
func (h *hostileDB) exec(t *testing.T, stmt string, args ...any) {
	t.Helper()
	if _, err := h.raw.ExecContext(t.Context(), h.q(stmt), args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// version reads the access version on the raw connection.
func (h *hostileDB) version(t *testing.T) int64 {
	t.Helper()
	var v int64
	if err := h.raw.QueryRowContext(t.Context(),
		`SELECT version FROM access_version WHERE id = 1`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// activeGrant creates a user, an inbound peer and a grant, active with a
// certificate, through s; expires, when set, is the grant's expiry.
func activeGrant(t *testing.T, s *DB, expires *time.Time) (*mosaic.Grant, string) {
	t.Helper()
	ctx := t.Context()
	u := &mosaic.User{Name: "Hostile", Email: mosaic.NewID() + "@example.test"}
	hmust(t, s.CreateUser(ctx, u))
	peer := &mosaic.Peer{CommonName: "cn-" + mosaic.NewID(), DisplayName: "Peer"}
	g := &mosaic.Grant{UserID: u.ID, ExpiresAt: expires, Scope: mosaic.Scope{
		Resources: []mosaic.Resource{mosaic.ResourceTasks}, MaxRowsPerQuery: 10}}
	hmust(t, s.CreateGrant(ctx, g, peer))
	secret, err := mosaic.NewTokenSecret(rand.Reader)
	hmust(t, err)
	tok, err := s.CreateToken(ctx, secret.Hash(), g.ID, peer.ID, time.Minute)
	hmust(t, err)
	hmust(t, s.ClaimToken(ctx, tok.Hash, "claim", time.Minute))
	serial := "serial-" + mosaic.NewID()
	der := sha256.Sum256([]byte(serial))
	hmust(t, s.ActivateGrant(ctx, mosaic.Activation{
		GrantID: g.ID, PeerID: peer.ID, TokenHash: tok.Hash, ClaimID: "claim",
		CertPEM:    "-----BEGIN CERTIFICATE-----\n" + serial + "\n-----END CERTIFICATE-----\n",
		CertSerial: serial, CertFingerprint: hex.EncodeToString(der[:]),
		CertNotAfter: time.Now().Add(24 * time.Hour), KeyHash: hex.EncodeToString(der[:]),
		At: time.Now(),
		Event: &mosaic.AuditEvent{RequestID: "req-" + mosaic.NewID(), PeerID: peer.ID,
			GrantID: g.ID, SubjectUserID: u.ID, Verb: mosaic.VerbEnroll, Status: 200,
			Outcome: mosaic.OutcomeAllowed, TokenHashPrefix: mosaic.HashPrefix(tok.Hash),
			CertSerial: serial},
	}))
	g.PeerID = peer.ID
	return g, serial
}

func hmust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// accessStatus reads a grant's access through s, twice (the second from the
// cache, if anything), and returns its status and peer state.
func accessStatus(t *testing.T, s *DB, grantID string) (mosaic.GrantStatus, mosaic.PeerState) {
	t.Helper()
	var st mosaic.GrantStatus
	var ps mosaic.PeerState
	for i := range 2 {
		a, err := s.GrantAccess(t.Context(), grantID)
		hmust(t, err)
		if a.Grant.ID != grantID {
			t.Fatalf("access of grant %s is that of %s", grantID, a.Grant.ID)
		}
		if i > 0 && (a.Grant.Status != st || a.PeerState != ps) {
			t.Fatalf("two reads in a row: %s/%s then %s/%s", st, ps, a.Grant.Status, a.PeerState)
		}
		st, ps = a.Grant.Status, a.PeerState
	}
	return st, ps
}

func revokeEvent() *mosaic.AuditEvent {
	return &mosaic.AuditEvent{Verb: mosaic.VerbRevoke, Status: 200,
		Outcome: mosaic.OutcomeAllowed}
}

// TestHostileRevokeUnderReadStream revokes a grant through one replica
// while the other reads it without a pause: every read that began after
// the revocation returned sees it.
func TestHostileRevokeUnderReadStream(t *testing.T) {
	runHostile(t, func(t *testing.T, h *hostileDB) {
		g, _ := activeGrant(t, h.a, nil)
		other, _ := activeGrant(t, h.a, nil)
		if st, _ := accessStatus(t, h.b, g.ID); st != mosaic.GrantActive {
			t.Fatalf("before: %s", st)
		}
		var revoked atomic.Bool
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var bad atomic.Int64
		var lastErr atomic.Value
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					after := revoked.Load()
					for _, s := range []*DB{h.a, h.b} {
						a, err := s.GrantAccess(context.Background(), g.ID)
						if err != nil {
							lastErr.Store(err.Error())
							bad.Add(1)
							continue
						}
						if after && a.Grant.Status != mosaic.GrantRevoked {
							bad.Add(1)
						}
					}
					// Reads of another grant move nothing.
					if _, err := h.b.GrantAccess(context.Background(), other.ID); err != nil {
						bad.Add(1)
					}
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
		if _, err := h.a.RevokeGrant(t.Context(), g.ID, "stop", time.Time{},
			revokeEvent()); err != nil {
			t.Fatal(err)
		}
		revoked.Store(true)
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()
		if n := bad.Load(); n != 0 {
			t.Fatalf("%d reads after the revocation saw the grant live (%v)", n, lastErr.Load())
		}
		if st, _ := accessStatus(t, h.b, other.ID); st != mosaic.GrantActive {
			t.Fatalf("the other grant: %s", st)
		}
	})
}

// TestHostileInterleavings runs GrantAccess's steps by hand around a
// revocation committed by the other replica: before the grant read, after
// it, and before the cache is filled. The next GrantAccess sees it.
func TestHostileInterleavings(t *testing.T) {
	runHostile(t, func(t *testing.T, h *hostileDB) {
		ctx := t.Context()
		for _, revokeBefore := range []bool{true, false} {
			g, _ := activeGrant(t, h.a, nil)
			accessStatus(t, h.b, g.ID)
			v, err := h.b.accessVersion(ctx)
			hmust(t, err)
			if revokeBefore {
				_, err = h.a.RevokeGrant(ctx, g.ID, "stop", time.Time{}, revokeEvent())
				hmust(t, err)
			}
			a, err := h.b.readGrantAccess(ctx, g.ID)
			hmust(t, err)
			if !revokeBefore {
				_, err = h.a.RevokeGrant(ctx, g.ID, "stop", time.Time{}, revokeEvent())
				hmust(t, err)
			}
			h.b.access.put(g.ID, v, a)
			if st, _ := accessStatus(t, h.b, g.ID); st != mosaic.GrantRevoked {
				t.Fatalf("revoked before the grant read %v: %s", revokeBefore, st)
			}
		}
	})
}

// TestHostileRolledBack changes a grant and its peer in a transaction
// that stays open while the replica reads, then rolls it back: the
// replica never sees the change, and the version has not moved. A
// change committed later, after many cached reads, is seen at once.
func TestHostileRolledBack(t *testing.T) {
	runHostile(t, func(t *testing.T, h *hostileDB) {
		ctx := t.Context()
		g, _ := activeGrant(t, h.a, nil)
		accessStatus(t, h.b, g.ID)
		before := h.version(t)

		tx, err := h.raw.BeginTx(ctx, nil)
		hmust(t, err)
		_, err = tx.ExecContext(ctx, h.q(`UPDATE grants SET status = 'revoked' WHERE id = ?`), g.ID)
		hmust(t, err)
		_, err = tx.ExecContext(ctx, h.q(`UPDATE peers SET state = 'revoked' WHERE id = ?`),
			g.PeerID)
		hmust(t, err)
		for range 20 {
			if st, ps := accessStatus(t, h.b, g.ID); st != mosaic.GrantActive || ps != mosaic.PeerActive {
				t.Fatalf("uncommitted change seen: %s %s", st, ps)
			}
		}
		hmust(t, tx.Rollback())
		if v := h.version(t); v != before {
			t.Fatalf("version %d after a rollback, was %d", v, before)
		}
		if st, ps := accessStatus(t, h.b, g.ID); st != mosaic.GrantActive || ps != mosaic.PeerActive {
			t.Fatalf("after the rollback: %s %s", st, ps)
		}

		// A long transaction that commits: seen by the next read.
		tx, err = h.raw.BeginTx(ctx, nil)
		hmust(t, err)
		_, err = tx.ExecContext(ctx, h.q(`UPDATE peers SET state = 'suspended' WHERE id = ?`),
			g.PeerID)
		hmust(t, err)
		for range 10 {
			accessStatus(t, h.a, g.ID)
			accessStatus(t, h.b, g.ID)
		}
		hmust(t, tx.Commit())
		for _, s := range []*DB{h.a, h.b} {
			if _, ps := accessStatus(t, s, g.ID); ps != mosaic.PeerSuspended {
				t.Fatalf("after the commit: peer %s", ps)
			}
		}
	})
}

// TestHostileSavepointRolledBack (PostgreSQL's deferred trigger) changes
// a grant in a savepoint that is rolled back, then commits the rest:
// the rolled-back change is not seen, and a later change is.
func TestHostileSavepointRolledBack(t *testing.T) {
	runHostile(t, func(t *testing.T, h *hostileDB) {
		ctx := t.Context()
		g, serial := activeGrant(t, h.a, nil)
		accessStatus(t, h.b, g.ID)
		tx, err := h.raw.BeginTx(ctx, nil)
		hmust(t, err)
		for _, stmt := range []string{`SAVEPOINT s1`,
			h.q(`UPDATE grants SET status = 'revoked' WHERE id = '` + g.ID + `'`),
			`ROLLBACK TO SAVEPOINT s1`,
			h.q(`UPDATE grants SET cert_serial = 'other' WHERE id = '` + g.ID + `'`)} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		a, err := h.b.GrantAccess(ctx, g.ID)
		hmust(t, err)
		if a.Cert.Serial != serial {
			t.Fatalf("uncommitted serial seen: %s", a.Cert.Serial)
		}
		hmust(t, tx.Commit())
		a, err = h.b.GrantAccess(ctx, g.ID)
		hmust(t, err)
		if a.Grant.Status != mosaic.GrantActive || a.Cert.Serial != "other" {
			t.Fatalf("after the commit: %s %s", a.Grant.Status, a.Cert.Serial)
		}
	})
}

// TestHostileTruncate empties the grants and peers tables on PostgreSQL:
// a cached access is gone at once.
func TestHostileTruncate(t *testing.T) {
	open := hostileDatabases()["Postgres"]
	for _, table := range []string{"grants", "peers"} {
		t.Run(table, func(t *testing.T) {
			h := open(t)
			g, _ := activeGrant(t, h.a, nil)
			accessStatus(t, h.b, g.ID)
			h.exec(t, `TRUNCATE `+table+` CASCADE`)
			for _, s := range []*DB{h.a, h.b} {
				_, err := s.GrantAccess(t.Context(), g.ID)
				if !mosaic.IsKind(err, mosaic.KindNotFound) {
					t.Fatalf("after TRUNCATE %s: %v", table, err)
				}
			}
		})
	}
}

// TestHostileOtherIDs asks for ids that differ from a cached grant's in
// case or spaces, and fills the cache past its bound with made-up ids at
// the current version: no access is ever that of another id, and a
// revocation still reaches the grant.
func TestHostileOtherIDs(t *testing.T) {
	runHostile(t, func(t *testing.T, h *hostileDB) {
		ctx := t.Context()
		g, _ := activeGrant(t, h.a, nil)
		g2, _ := activeGrant(t, h.a, nil)
		accessStatus(t, h.b, g.ID)
		for _, id := range []string{strings.ToUpper(g.ID), g.ID + " ", " " + g.ID,
			g.ID[:len(g.ID)-1], ""} {
			if _, err := h.b.GrantAccess(ctx, id); !mosaic.IsKind(err, mosaic.KindNotFound) {
				t.Fatalf("GrantAccess(%q) = %v, want not found", id, err)
			}
		}

		v, err := h.b.accessVersion(ctx)
		hmust(t, err)
		real, err := h.b.GrantAccess(ctx, g2.ID)
		hmust(t, err)
		for i := range accessCacheEntries + 100 {
			fake := copyAccess(real)
			fake.Grant.ID = fmt.Sprintf("fake-%d", i)
			h.b.access.put(fake.Grant.ID, v, fake)
		}
		if st, _ := accessStatus(t, h.b, g.ID); st != mosaic.GrantActive {
			t.Fatalf("after eviction: %s", st)
		}
		_, err = h.a.RevokeGrant(ctx, g.ID, "stop", time.Time{}, revokeEvent())
		hmust(t, err)
		if st, _ := accessStatus(t, h.b, g.ID); st != mosaic.GrantRevoked {
			t.Fatalf("revoked after eviction: %s", st)
		}
		if st, _ := accessStatus(t, h.b, g2.ID); st != mosaic.GrantActive {
			t.Fatalf("the other grant: %s", st)
		}
	})
}

// TestHostileExpiry passes a grant's expiry with no write: the store
// keeps returning its stored expiry (for the caller to judge at request
// time), and the sweeper's write reaches the other replica at once.
func TestHostileExpiry(t *testing.T) {
	runHostile(t, func(t *testing.T, h *hostileDB) {
		ctx := t.Context()
		exp := time.Now().Add(1500 * time.Millisecond)
		g, _ := activeGrant(t, h.a, &exp)
		accessStatus(t, h.b, g.ID)
		time.Sleep(time.Until(exp) + 100*time.Millisecond)
		a, err := h.b.GrantAccess(ctx, g.ID)
		hmust(t, err)
		if a.Grant.ExpiresAt == nil || !time.Now().After(*a.Grant.ExpiresAt) {
			t.Fatalf("cached access without its passed expiry: %v", a.Grant.ExpiresAt)
		}
		n, err := h.a.ExpireGrants(ctx)
		hmust(t, err)
		if n < 1 {
			t.Fatalf("sweeper expired %d grants", n)
		}
		if st, _ := accessStatus(t, h.b, g.ID); st != mosaic.GrantExpired {
			t.Fatalf("after the sweep: %s", st)
		}
	})
}

// TestHostileVersionGoesBack puts the access version back, as a restore
// of a backup or a failover to a replica that had not caught up would,
// and then moves it on to the version a live access was cached at, with
// the grant revoked in the new history: the revoked grant is refused,
// whether or not a request read the grant at the older version in between.
func TestHostileVersionGoesBack(t *testing.T) {
	for _, readBetween := range []bool{true, false} {
		t.Run(fmt.Sprintf("read between %v", readBetween), func(t *testing.T) {
			runHostile(t, func(t *testing.T, h *hostileDB) {
				ctx := t.Context()
				g, _ := activeGrant(t, h.a, nil)
				other, _ := activeGrant(t, h.a, nil)
				accessStatus(t, h.b, g.ID)
				cachedAt := h.version(t)

				h.exec(t, `UPDATE access_version SET version = version - 20 WHERE id = 1`)
				if readBetween {
					accessStatus(t, h.b, g.ID)
				}
				_, err := h.a.RevokeGrant(ctx, g.ID, "stop", time.Time{}, revokeEvent())
				hmust(t, err)
				for h.version(t) < cachedAt {
					h.exec(t, `UPDATE grants SET updated_at = updated_at WHERE id = ?`, other.ID)
				}
				if v := h.version(t); v != cachedAt {
					t.Fatalf("version %d, want %d", v, cachedAt)
				}
				if st, _ := accessStatus(t, h.b, g.ID); st != mosaic.GrantRevoked {
					t.Fatalf("revoked grant read as %s at a version it was cached live at", st)
				}
			})
		})
	}
}

// TestHostileCallersChangeAccess has many callers change the access they
// got while others read it (run with -race): no one sees another's
// changes.
func TestHostileCallersChangeAccess(t *testing.T) {
	runHostile(t, func(t *testing.T, h *hostileDB) {
		exp := time.Now().Add(time.Hour)
		g, serial := activeGrant(t, h.a, &exp)
		first, err := h.b.GrantAccess(t.Context(), g.ID)
		hmust(t, err)
		exp = *first.Grant.ExpiresAt // as stored, to the millisecond
		var wg sync.WaitGroup
		var bad atomic.Int64
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					a, err := h.b.GrantAccess(context.Background(), g.ID)
					if err != nil || a.Grant.Status != mosaic.GrantActive ||
						a.Cert.Serial != serial || !a.Grant.ExpiresAt.Equal(exp) ||
						a.Grant.Scope.Resources[0] != mosaic.ResourceTasks {
						bad.Add(1)
						continue
					}
					a.Grant.Status = mosaic.GrantRevoked
					*a.Grant.ExpiresAt = time.Time{}
					a.Grant.Scope.Resources[0] = mosaic.ResourceCredentials
					a.Cert.Serial = "forged"
					*a.Cert.NotAfter = time.Time{}
				}
			}()
		}
		wg.Wait()
		if n := bad.Load(); n != 0 {
			t.Fatalf("%d reads saw another caller's changes", n)
		}
	})
}
