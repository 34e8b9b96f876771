package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// ChainStore is a store that keeps its audit log as a hash chain.
type ChainStore interface {
	mosaic.Store
	auditchain.Source
}

// ChainEnv is one new, empty, migrated database for the audit chain
// tests, as RunAuditChain's open returns it. Everything it opens is closed
// when the test ends.
type ChainEnv struct {
	// Store is a store on the database.
	Store ChainStore
	// Open opens another store on the same database, as another replica
	// or a restart would.
	Open func(t *testing.T) ChainStore
	// Exec runs one statement on the database without the store, to
	// tamper with it. Parameters are written ?.
	Exec func(t *testing.T, stmt string, args ...any)
}

// chainBatch is the batch size the tests verify with: small, so that
// every chain spans several batches.
const chainBatch = 3

// RunAuditChain runs the audit chain suite. open must return a new, empty
// database for the test it is given.
func RunAuditChain(t *testing.T, open func(t *testing.T) *ChainEnv) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) *ChainEnv)
	}{
		{"EveryWriteChained", testEveryWriteChained},
		{"ConcurrentAppends", testConcurrentAppends},
		{"RefusedEventAlone", testRefusedEventAlone},
		{"ConcurrentAppendsAsStored", testConcurrentAppendsAsStored},
		{"Tampering", testTampering},
		{"ScanSince", testScanSince},
		{"ExistingRowsChained", testExistingRowsChained},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open)
		})
	}
}

// verify verifies the chain of s.
func verify(t *testing.T, s auditchain.Source) *auditchain.Report {
	t.Helper()
	r, err := auditchain.Verify(t.Context(), s, chainBatch)
	must(t, err)
	return r
}

// wantIntact fails the test unless the chain of s is intact with n rows,
// its head the newest row.
func wantIntact(t *testing.T, s ChainStore, n int) []*auditchain.Record {
	t.Helper()
	r := verify(t, s)
	recs := records(t, s, auditchain.Query{})
	if !r.Intact || r.Break != nil || r.Rows != int64(n) || len(recs) != n {
		t.Fatalf("verify = %+v (break %+v) over %d records, want intact with %d rows",
			r, r.Break, len(recs), n)
	}
	if n > 0 && (r.HeadID != recs[n-1].ID || r.HeadHash != recs[n-1].Hash) {
		t.Fatalf("head %d %s, want the newest row %d %s", r.HeadID, r.HeadHash,
			recs[n-1].ID, recs[n-1].Hash)
	}
	return recs
}

// records reads every record q selects, in batches of chainBatch.
func records(t *testing.T, s auditchain.Source, q auditchain.Query) []*auditchain.Record {
	t.Helper()
	q.Limit = chainBatch
	var all []*auditchain.Record
	must(t, auditchain.Each(t.Context(), s, q, func(b []*auditchain.Record) (bool, error) {
		all = append(all, b...)
		return true, nil
	}))
	return all
}

// appendEvents appends n denied read events with the given reason.
func appendEvents(t *testing.T, s mosaic.Store, n int, reason string) []*mosaic.AuditEvent {
	t.Helper()
	evs := make([]*mosaic.AuditEvent, n)
	for i := range evs {
		evs[i] = &mosaic.AuditEvent{RequestID: unique("req"), PeerID: mosaic.NewID(),
			Verb: mosaic.VerbRead, Resource: "tasks", Status: 403,
			Outcome: mosaic.OutcomeDenied, Reason: reason, SourceAddr: "192.0.2.7:4000"}
		must(t, s.AppendAudit(t.Context(), evs[i]))
	}
	return evs
}

// testEveryWriteChained writes audit rows through every path that writes
// them and checks that each row links to the one before.
func testEveryWriteChained(t *testing.T, open func(t *testing.T) *ChainEnv) {
	s := open(t).Store
	ctx := t.Context()
	wantIntact(t, s, 0)

	appendEvents(t, s, 2, "first")
	e := newEnrollment(t, s, time.Minute)
	must(t, s.ClaimToken(ctx, e.token.Hash, "claim", time.Minute))
	must(t, s.ActivateGrant(ctx, e.activation("claim")))
	appendEvents(t, s, 1, "between")
	revoked := &mosaic.AuditEvent{GrantID: e.grant.ID, Verb: mosaic.VerbRevoke, Status: 200,
		Outcome: mosaic.OutcomeAllowed, Reason: "done"}
	_, err := s.RevokeGrant(ctx, e.grant.ID, "done", time.Time{}, revoked)
	must(t, err)
	// A refused revocation writes nothing, and the chain does not notice.
	_, err = s.RevokeGrant(ctx, e.grant.ID, "again", time.Time{}, &mosaic.AuditEvent{
		Verb: mosaic.VerbRevoke, Status: 200, Outcome: mosaic.OutcomeAllowed})
	wantErr(t, err, mosaic.KindConflict, "grant_not_revocable")
	appendEvents(t, s, 2, "last")

	recs := wantIntact(t, s, 7)
	listed, err := s.ListAudit(ctx, mosaic.AuditFilter{})
	must(t, err)
	prev := ""
	for i, rec := range recs {
		if rec.PrevHash != prev || rec.Hash != auditchain.Hash(prev, &rec.AuditEvent) {
			t.Fatalf("row %d: prev %q hash %q, want linked to %q", rec.ID, rec.PrevHash,
				rec.Hash, prev)
		}
		if want := listed[len(listed)-1-i]; rec.AuditEvent != *want {
			t.Fatalf("scanned %+v, listed %+v", rec.AuditEvent, *want)
		}
		prev = rec.Hash
	}
	if recs[2].Verb != mosaic.VerbEnroll || recs[4].ID != revoked.ID {
		t.Fatalf("rows %+v, want the activation third and the revocation fifth", recs)
	}
}

// testConcurrentAppends appends from two stores on one database at once,
// as replicas do: the chain must not fork.
func testConcurrentAppends(t *testing.T, open func(t *testing.T) *ChainEnv) {
	env := open(t)
	stores := []ChainStore{env.Store, env.Open(t)}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range each {
				err := s.AppendAudit(t.Context(), &mosaic.AuditEvent{
					RequestID: fmt.Sprintf("w%d-%d", w, i), Verb: mosaic.VerbRead,
					Status: 403, Outcome: mosaic.OutcomeDenied})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AppendAudit: %v", err)
	}

	for _, s := range stores {
		recs := wantIntact(t, s, writers*each)
		prevs := make([]string, len(recs))
		for i, rec := range recs {
			prevs[i] = rec.PrevHash
		}
		slices.Sort(prevs)
		if len(slices.Compact(prevs)) != len(recs) {
			t.Fatal("two rows link to the same row: the chain forked")
		}
	}
}

// testRefusedEventAlone appends many events at once, one of which the
// database refuses (an outcome its schema does not allow): appends that
// share a transaction must not fail with it, and each gets its own id.
func testRefusedEventAlone(t *testing.T, open func(t *testing.T) *ChainEnv) {
	s := open(t).Store
	const n, bad = 40, 17
	events := make([]*mosaic.AuditEvent, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		events[i] = &mosaic.AuditEvent{RequestID: fmt.Sprintf("r%d", i),
			Verb: mosaic.VerbRead, Status: 200, Outcome: mosaic.OutcomeAllowed}
		if i == bad {
			events[i].Outcome = "maybe"
		}
		wg.Go(func() { errs[i] = s.AppendAudit(t.Context(), events[i]) })
	}
	wg.Wait()

	ids := map[int64]bool{}
	for i, err := range errs {
		switch {
		case i == bad && err == nil:
			t.Fatal("an event with an outcome the schema refuses was written")
		case i != bad && err != nil:
			t.Fatalf("event %d failed beside the refused one: %v", i, err)
		case i != bad && (events[i].ID == 0 || ids[events[i].ID] || events[i].Time.IsZero()):
			t.Fatalf("event %d: id %d, time %v: want a new id and a time", i,
				events[i].ID, events[i].Time)
		}
		ids[events[i].ID] = true
	}
	wantIntact(t, s, n-1)
}

// testConcurrentAppendsAsStored appends events with every kind of value at
// once, so that they share transactions: each event's id and time must be
// those of its row, the row must hold exactly its values, and the chain
// must verify.
func testConcurrentAppendsAsStored(t *testing.T, open func(t *testing.T) *ChainEnv) {
	s := open(t).Store
	texts := []string{"", "plain", `quote ' and "double"`, "é€😀", strings.Repeat("long ", 400),
		"back\\slash", "tab\tand\nnewline"}
	at := time.Date(2031, 2, 3, 4, 5, 6, 789_654_321, time.UTC)
	const n = 48
	events := make([]*mosaic.AuditEvent, n)
	var wg sync.WaitGroup
	for i := range n {
		s1, s2 := texts[i%len(texts)], texts[(i+3)%len(texts)]
		ev := &mosaic.AuditEvent{RequestID: fmt.Sprintf("r%d", i), PeerID: s1, GrantID: s2,
			SubjectUserID: s1, Verb: mosaic.VerbRead, Resource: s2, Status: 200 + i,
			Outcome: mosaic.OutcomeAllowed, Reason: s1, Rows: i, SourceAddr: s2,
			TokenHashPrefix: s1, CertSerial: s2}
		if i%2 == 0 {
			ev.Time = at.Add(time.Duration(i) * time.Microsecond)
		}
		events[i] = ev
		wg.Go(func() { must(t, s.AppendAudit(t.Context(), ev)) })
	}
	wg.Wait()

	recs := wantIntact(t, s, n)
	byID := map[int64]*auditchain.Record{}
	for _, rec := range recs {
		byID[rec.ID] = rec
	}
	for i, ev := range events {
		rec := byID[ev.ID]
		if rec == nil {
			t.Fatalf("event %d: no row with its id %d", i, ev.ID)
		}
		stored := rec.AuditEvent
		if !stored.Time.Equal(ev.Time) || (i%2 == 0 && !ev.Time.Equal(at.Add(
			time.Duration(i)*time.Microsecond).Truncate(time.Millisecond))) {
			t.Fatalf("event %d: time %v, row %v", i, ev.Time, stored.Time)
		}
		if stored.Time.Location() != time.UTC || ev.Time.Location() != time.UTC {
			t.Fatalf("event %d: times %v and %v, want UTC", i, ev.Time, stored.Time)
		}
		if stored != *ev {
			t.Fatalf("event %d:\nrow   %+v\nevent %+v", i, stored, *ev)
		}
	}
}

// testScanSince checks the export's reading: id order, the since filter
// and batches that continue after an id.
func testScanSince(t *testing.T, open func(t *testing.T) *ChainEnv) {
	s := open(t).Store
	base := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	// Times out of id order, as a rate-limit event stamped with the start
	// of its window is.
	offsets := []time.Duration{0, 3 * time.Second, time.Second, 5 * time.Second, 2 * time.Second}
	var ids []int64
	for _, off := range offsets {
		ev := &mosaic.AuditEvent{Time: base.Add(off), Verb: mosaic.VerbRead, Status: 200,
			Outcome: mosaic.OutcomeAllowed}
		must(t, s.AppendAudit(t.Context(), ev))
		ids = append(ids, ev.ID)
	}
	tests := []struct {
		name string
		q    auditchain.Query
		want []int64
	}{
		{"all", auditchain.Query{}, ids},
		{"since", auditchain.Query{Since: base.Add(2 * time.Second)},
			[]int64{ids[1], ids[3], ids[4]}},
		{"since, to the millisecond", auditchain.Query{Since: base.Add(5 * time.Second)},
			[]int64{ids[3]}},
		{"since, below a millisecond", auditchain.Query{
			Since: base.Add(3*time.Second + time.Microsecond)}, []int64{ids[3]}},
		{"after", auditchain.Query{After: ids[1]}, ids[2:]},
		{"after and since", auditchain.Query{After: ids[1], Since: base.Add(time.Second)},
			[]int64{ids[2], ids[3], ids[4]}},
		{"none", auditchain.Query{Since: base.Add(time.Minute)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			for _, rec := range records(t, s, tt.q) {
				got = append(got, rec.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ids %v, want %v", got, tt.want)
			}
		})
	}
}

// testExistingRowsChained checks what happens to rows written without a
// hash, as before the chain existed: while no row has a hash, the next
// open links them; once the chain has begun, one is a break.
func testExistingRowsChained(t *testing.T, open func(t *testing.T) *ChainEnv) {
	env := open(t)
	for i := range 4 {
		env.Exec(t, `INSERT INTO audit_events (occurred_at, request_id, verb, status, outcome)
			VALUES (?, ?, 'read', 403, 'denied')`, int64(1_800_000_000_000+i), fmt.Sprint("old", i))
	}
	if r := verify(t, env.Store); r.Intact || r.Break.Problem != auditchain.ProblemMissingHash {
		t.Fatalf("before reopening: %+v, want the first row without a hash", r)
	}

	reopened := env.Open(t)
	wantIntact(t, reopened, 4)
	appendEvents(t, env.Store, 2, "after")
	recs := wantIntact(t, reopened, 6)

	// A row slipped in without the chain is reported, and a restart does
	// not paper over it.
	env.Exec(t, `INSERT INTO audit_events (occurred_at, verb, status, outcome)
		VALUES (1800000000000, 'read', 403, 'denied')`)
	appendEvents(t, env.Store, 1, "later")
	r := verify(t, env.Open(t))
	if r.Intact || r.Break.Problem != auditchain.ProblemMissingHash ||
		r.Break.PrevID != recs[5].ID || r.Break.ID <= recs[5].ID {
		t.Fatalf("after a row without a hash: %+v (break %+v), want missing_hash after row %d",
			r, r.Break, recs[5].ID)
	}
}
