package auditchain_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// sample is an event with every field set.
func sample() mosaic.AuditEvent {
	return mosaic.AuditEvent{ID: 42, Time: time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
		RequestID: "req-1", PeerID: "p", GrantID: "g", SubjectUserID: "u", Verb: "read",
		Resource: "tasks", Status: 200, Outcome: "allowed", Reason: "ok", Rows: 3,
		SourceAddr: "192.0.2.1:443", TokenHashPrefix: "beef", CertSerial: "0a"}
}

// TestHashEncoding builds the documented encoding by hand. A change to it
// would break every chain already stored, so the result is pinned too.
func TestHashEncoding(t *testing.T) {
	ev := sample()
	text := func(b []byte, s string) []byte {
		return append(binary.BigEndian.AppendUint64(b, uint64(len(s))), s...)
	}
	num := func(b []byte, n int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(n)) }
	b := []byte("mosaic-audit-chain-v1\n")
	b = text(b, "00ff")
	b = num(b, 42)
	b = num(b, ev.Time.UnixMilli())
	for _, s := range []string{"req-1", "p", "g", "u", "read", "tasks"} {
		b = text(b, s)
	}
	b = num(b, 200)
	b = text(text(b, "allowed"), "ok")
	b = num(b, 3)
	for _, s := range []string{"192.0.2.1:443", "beef", "0a"} {
		b = text(b, s)
	}
	sum := sha256.Sum256(b)

	got := auditchain.Hash("00ff", &ev)
	if got != hex.EncodeToString(sum[:]) {
		t.Fatalf("Hash = %s, want the documented encoding's %x", got, sum)
	}
	if want := "eda0fc86355b781d29f40fbfc7bde7079a732ccf7f8fc2153363c3c64fd36f38"; got != want {
		t.Fatalf("Hash = %s, pinned %s", got, want)
	}
}

// TestHashCoversEverything changes one thing at a time.
func TestHashCoversEverything(t *testing.T) {
	base := sample()
	want := auditchain.Hash("", &base)
	tests := []struct {
		name   string
		prev   string
		change func(ev *mosaic.AuditEvent)
	}{
		{"prev hash", "00", func(*mosaic.AuditEvent) {}},
		{"id", "", func(ev *mosaic.AuditEvent) { ev.ID++ }},
		{"time", "", func(ev *mosaic.AuditEvent) { ev.Time = ev.Time.Add(time.Millisecond) }},
		{"request id", "", func(ev *mosaic.AuditEvent) { ev.RequestID += "x" }},
		{"peer id", "", func(ev *mosaic.AuditEvent) { ev.PeerID = "" }},
		{"grant id", "", func(ev *mosaic.AuditEvent) { ev.GrantID = "h" }},
		{"subject user id", "", func(ev *mosaic.AuditEvent) { ev.SubjectUserID = "v" }},
		{"verb", "", func(ev *mosaic.AuditEvent) { ev.Verb = "enroll" }},
		{"resource", "", func(ev *mosaic.AuditEvent) { ev.Resource = "notes" }},
		{"status", "", func(ev *mosaic.AuditEvent) { ev.Status = 403 }},
		{"outcome", "", func(ev *mosaic.AuditEvent) { ev.Outcome = mosaic.OutcomeDenied }},
		{"reason", "", func(ev *mosaic.AuditEvent) { ev.Reason = "" }},
		{"rows", "", func(ev *mosaic.AuditEvent) { ev.Rows = -3 }},
		{"source address", "", func(ev *mosaic.AuditEvent) { ev.SourceAddr = "192.0.2.2:443" }},
		{"token hash prefix", "", func(ev *mosaic.AuditEvent) { ev.TokenHashPrefix = "bee" }},
		{"cert serial", "", func(ev *mosaic.AuditEvent) { ev.CertSerial = "0b" }},
		// Lengths in front: text moved from one field to the next counts.
		{"boundary between fields", "", func(ev *mosaic.AuditEvent) {
			ev.RequestID, ev.PeerID = "req-", "1p"
		}},
		{"boundary with prev hash", "r", func(ev *mosaic.AuditEvent) { ev.RequestID = "eq-1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := sample()
			tt.change(&ev)
			if got := auditchain.Hash(tt.prev, &ev); got == want {
				t.Fatalf("the hash did not change")
			}
		})
	}

	t.Run("below a millisecond", func(t *testing.T) {
		ev := sample()
		ev.Time = ev.Time.Add(999 * time.Microsecond)
		if auditchain.Hash("", &ev) != want {
			t.Fatal("the hash changed below the stored precision")
		}
	})
}

// chain returns n records linked as the store links them.
func chain(n int) []*auditchain.Record {
	recs := make([]*auditchain.Record, n)
	prev := ""
	for i := range recs {
		ev := sample()
		ev.ID = int64(i+1) * 10 // ids need not be consecutive
		ev.Rows = i
		recs[i] = &auditchain.Record{AuditEvent: ev, PrevHash: prev}
		recs[i].Hash = auditchain.Hash(prev, &ev)
		prev = recs[i].Hash
	}
	return recs
}

// memSource serves records from memory, for the batching logic; the
// stores' own suite runs it against the databases.
type memSource struct {
	recs  []*auditchain.Record
	calls int
	err   error
}

func (m *memSource) ScanAudit(_ context.Context, q auditchain.Query) ([]*auditchain.Record,
	error) {
	m.calls++
	if m.err != nil {
		return nil, m.err
	}
	var out []*auditchain.Record
	for _, r := range m.recs {
		if r.ID > q.After && !r.Time.Before(q.Since) && len(out) < q.Limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		recs    func() []*auditchain.Record
		intact  bool
		rows    int64
		breakID int64
		problem string
	}{
		{"empty", func() []*auditchain.Record { return nil }, true, 0, 0, ""},
		{"intact across batches", func() []*auditchain.Record { return chain(7) },
			true, 7, 0, ""},
		{"genesis links somewhere", func() []*auditchain.Record { return chain(7)[2:] },
			false, 1, 30, auditchain.ProblemPrevMismatch},
		{"gap", func() []*auditchain.Record {
			c := chain(7)
			return slices.Delete(c, 4, 5)
		}, false, 5, 60, auditchain.ProblemPrevMismatch},
		{"altered", func() []*auditchain.Record {
			c := chain(7)
			c[5].Reason = "changed"
			return c
		}, false, 6, 60, auditchain.ProblemHashMismatch},
		{"no hash", func() []*auditchain.Record {
			c := chain(7)
			c[6].Hash = ""
			return c
		}, false, 7, 70, auditchain.ProblemMissingHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := auditchain.Verify(t.Context(), &memSource{recs: tt.recs()}, 3)
			if err != nil {
				t.Fatal(err)
			}
			if r.Intact != tt.intact || r.Rows != tt.rows || (r.Break == nil) != tt.intact {
				t.Fatalf("report %+v, want intact %v after %d rows", r, tt.intact, tt.rows)
			}
			if !tt.intact && (r.Break.ID != tt.breakID || r.Break.Problem != tt.problem) {
				t.Fatalf("break %+v, want %s at %d", r.Break, tt.problem, tt.breakID)
			}
		})
	}
}

func TestEach(t *testing.T) {
	tests := []struct {
		name      string
		n, batch  int
		stopAfter int // batches fn accepts before it says stop; 0 never
		sizes     []int
		calls     int
	}{
		{"short last batch", 7, 3, 0, []int{3, 3, 1}, 3},
		// A full batch may be the last one: one more read finds nothing.
		{"exact batches", 6, 3, 0, []int{3, 3}, 3},
		{"empty", 0, 3, 0, nil, 1},
		{"stopped", 7, 3, 1, []int{3}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &memSource{recs: chain(tt.n)}
			var sizes []int
			err := auditchain.Each(t.Context(), src, auditchain.Query{Limit: tt.batch},
				func(b []*auditchain.Record) (bool, error) {
					sizes = append(sizes, len(b))
					return tt.stopAfter == 0 || len(sizes) < tt.stopAfter, nil
				})
			if err != nil || !slices.Equal(sizes, tt.sizes) || src.calls != tt.calls {
				t.Fatalf("Each: %v, batches %v in %d reads; want %v in %d", err, sizes,
					src.calls, tt.sizes, tt.calls)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		boom := errors.New("boom")
		fn := func([]*auditchain.Record) (bool, error) { return true, boom }
		if err := auditchain.Each(t.Context(), &memSource{recs: chain(2)},
			auditchain.Query{Limit: 5}, fn); !errors.Is(err, boom) {
			t.Errorf("fn's error: got %v", err)
		}
		if err := auditchain.Each(t.Context(), &memSource{err: boom},
			auditchain.Query{Limit: 5}, fn); !errors.Is(err, boom) {
			t.Errorf("the source's error: got %v", err)
		}
		if err := auditchain.Each(t.Context(), &memSource{}, auditchain.Query{}, fn); err == nil {
			t.Error("a zero batch size was accepted")
		}
	})
}

// TestVerifierStopsAtFirstBreak feeds rows after a break.
func TestVerifierStopsAtFirstBreak(t *testing.T) {
	c := chain(4)
	c[1].Reason = "changed"
	var v auditchain.Verifier
	for i, r := range c {
		if ok := v.Check(r); ok != (i == 0) {
			t.Fatalf("Check(row %d) = %v", r.ID, ok)
		}
	}
	r := v.Report()
	if r.Rows != 2 || r.Break.ID != 20 || r.Break.PrevID != 10 || r.HeadID != 10 ||
		r.HeadHash != c[0].Hash {
		t.Fatalf("report %+v, break %+v", r, r.Break)
	}
}
