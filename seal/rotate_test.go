package seal_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// sealers returns the Sealer of secretOne alone (version 1) and the Sealer
// of a rotation from it to secretTwo (version 2).
func sealers(t *testing.T) (before, during *seal.Sealer) {
	t.Helper()
	before, err := seal.New(secretOne)
	if err != nil {
		t.Fatal(err)
	}
	during, err = seal.NewWithVersions(2, map[uint32][]byte{1: secretOne, 2: secretTwo})
	if err != nil {
		t.Fatal(err)
	}
	return before, during
}

// plaintexts maps each sealed value the test stored to its plaintext.
type plaintexts map[mosaic.SealedRef]string

// seedSealed stores n values in each table, sealed under sealer with the
// AAD of their row, as the gateway does, and returns their plaintexts.
func seedSealed(t *testing.T, db *sqlstore.DB, sealer *seal.Sealer, n int) plaintexts {
	t.Helper()
	ctx := t.Context()
	u := &mosaic.User{Name: "Owner", Email: mosaic.NewID() + "@example.test"}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	plain := plaintexts{}
	seal := func(table mosaic.SealedTable, id string) []byte {
		ref := mosaic.SealedRef{Table: table, ID: id}
		plain[ref] = fmt.Sprintf("plaintext of %s", ref)
		sealed, err := sealer.Seal([]byte(plain[ref]), ref.AAD())
		if err != nil {
			t.Fatal(err)
		}
		return sealed
	}
	batch := mosaic.NewID()[24:]
	for i := range n {
		name := fmt.Sprintf("key-%s-%03d", batch, i)
		err := db.PutKey(ctx, &mosaic.StoredKey{Name: name, CertPEM: "cert",
			SealedKey: seal(mosaic.SealedKeys, name)})
		p := &mosaic.Peer{ID: mosaic.NewID(), Role: mosaic.PeerOutbound,
			State: mosaic.PeerPending, CommonName: fmt.Sprintf("peer-%d", i), DisplayName: "P"}
		p.SealedKey = seal(mosaic.SealedPeerKeys, p.ID)
		if err == nil {
			err = db.CreatePeer(ctx, p)
		}
		c := &mosaic.Credential{ID: mosaic.NewID(), UserID: u.ID, Name: "c", Kind: "password"}
		c.SealedSecret = seal(mosaic.SealedCredentials, c.ID)
		if err == nil {
			err = db.CreateCredential(ctx, c)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return plain
}

// wantAllUnder checks that every value of plain is stored under version and
// opens, with opener, to its plaintext; and that the store holds no other
// sealed value.
func wantAllUnder(t *testing.T, db *sqlstore.DB, opener *seal.Sealer, version uint32,
	plain plaintexts) {
	t.Helper()
	seen := 0
	for _, table := range mosaic.SealedTables() {
		vs, err := db.ListSealed(t.Context(), table, "", mosaic.MaxListLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			seen++
			if got, _ := seal.KeyVersion(v.Sealed); got != version {
				t.Errorf("%s is under version %d, want %d", v.Ref, got, version)
			}
			got, err := opener.Open(v.Sealed, v.Ref.AAD())
			if err != nil || string(got) != plain[v.Ref] {
				t.Errorf("%s opens to %q (%v), want %q", v.Ref, got, err, plain[v.Ref])
			}
		}
	}
	if seen != len(plain) {
		t.Errorf("the store holds %d sealed values, want %d", seen, len(plain))
	}
}

// rotate runs Rotate or fails the test.
func rotate(t *testing.T, db mosaic.SealedStore, s *seal.Sealer,
	opts seal.RotateOptions) *seal.RotateReport {
	t.Helper()
	rep, err := seal.Rotate(t.Context(), db, s, opts)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	return rep
}

func TestRotate(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		before, during := sealers(t)
		plain := seedSealed(t, db, before, 7)
		after, err := seal.NewWithVersions(2, map[uint32][]byte{2: secretTwo})
		if err != nil {
			t.Fatal(err)
		}

		for _, batch := range []int{1, 3, 1000} {
			rep := rotate(t, db, during, seal.RotateOptions{BatchSize: batch})
			wantAllUnder(t, db, after, 2, plain)
			wantResealed := 0
			if batch == 1 {
				wantResealed = len(plain)
			}
			if rep.Resealed != wantResealed || rep.AlreadyCurrent != len(plain)-wantResealed ||
				!rep.Done() || rep.CurrentVersion != 2 {
				t.Fatalf("batch %d: report %+v, want %d re-sealed", batch, rep, wantResealed)
			}
			for _, tr := range rep.Tables {
				if tr.Resealed+tr.AlreadyCurrent != 7 || tr.Remaining != 0 {
					t.Fatalf("batch %d: table report %+v, want 7 values", batch, tr)
				}
			}
		}
	})
}

// TestRotateLeavesWhatItCannotOpen stores values under a version the
// rotation has no secret for, under its version but with another secret,
// and bytes that are no sealed value: each is named in the report and left
// as it was, and everything else is re-sealed.
func TestRotateLeavesWhatItCannotOpen(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		before, during := sealers(t)
		plain := seedSealed(t, db, before, 2)
		foreign, err := seal.NewWithVersions(3, map[uint32][]byte{3: secretThree})
		if err != nil {
			t.Fatal(err)
		}
		wrong, err := seal.New(secretWrong)
		if err != nil {
			t.Fatal(err)
		}
		odd := map[string][]byte{}
		for name, sealer := range map[string]*seal.Sealer{"v3": foreign, "wrong": wrong} {
			sealedKey(t, db, sealer, name)
			odd[name] = mustGet(t, db, mosaic.SealedRef{Table: mosaic.SealedKeys, ID: name})
		}
		if err := db.PutKey(t.Context(), &mosaic.StoredKey{Name: "junk", CertPEM: "c",
			SealedKey: []byte("not sealed")}); err != nil {
			t.Fatal(err)
		}

		rep := rotate(t, db, during, seal.RotateOptions{BatchSize: 2})
		if rep.Resealed != len(plain) || rep.Done() || len(rep.Remaining) != 3 {
			t.Fatalf("report %+v, want %d re-sealed and 3 remaining", rep, len(plain))
		}
		want := map[string]uint32{"junk": 0, "v3": 3, "wrong": 1}
		for _, r := range rep.Remaining {
			if r.Table != mosaic.SealedKeys || want[r.ID] != r.Version || r.Reason == "" {
				t.Errorf("remaining %+v, not one of %v", r, want)
			}
			delete(want, r.ID)
		}
		for name, sealed := range odd {
			got := mustGet(t, db, mosaic.SealedRef{Table: mosaic.SealedKeys, ID: name})
			if string(got) != string(sealed) {
				t.Errorf("key %s was changed", name)
			}
		}
	})
}

// mustGet returns the sealed value at ref or fails the test.
func mustGet(t *testing.T, db mosaic.SealedStore, ref mosaic.SealedRef) []byte {
	t.Helper()
	v, err := db.GetSealed(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// racingStore is a real store into which another writer cuts: just
// before the rotation's first conditional update of one row, it stores a
// new value of its own there, sealed under the old version.
type racingStore struct {
	*sqlstore.DB
	target mosaic.SealedRef
	write  func() []byte
	raced  bool
}

// ReplaceSealed lets the other writer go first, once.
func (s *racingStore) ReplaceSealed(ctx context.Context, ref mosaic.SealedRef, old,
	sealed []byte) (bool, error) {
	if ref == s.target && !s.raced {
		s.raced = true
		if ok, err := s.DB.ReplaceSealed(ctx, ref, old, s.write()); err != nil || !ok {
			return false, fmt.Errorf("the other writer failed: %v %v", ok, err)
		}
	}
	return s.DB.ReplaceSealed(ctx, ref, old, sealed)
}

// TestRotateKeepsConcurrentWrite checks that a value another writer
// stores while the rotation re-seals it is not lost: the rotation's update
// fails, it reads the new value and re-seals that.
func TestRotateKeepsConcurrentWrite(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		before, during := sealers(t)
		plain := seedSealed(t, db, before, 3)
		var target mosaic.SealedRef
		for ref := range plain {
			if ref.Table == mosaic.SealedPeerKeys {
				target = ref
				break
			}
		}
		plain[target] = "the other writer's value"
		store := &racingStore{DB: db, target: target, write: func() []byte {
			sealed, err := before.Seal([]byte(plain[target]), target.AAD())
			if err != nil {
				t.Fatal(err)
			}
			return sealed
		}}

		rep := rotate(t, store, during, seal.RotateOptions{})
		if !store.raced || rep.Resealed != len(plain) || !rep.Done() {
			t.Fatalf("raced %v, report %+v; want all %d re-sealed", store.raced, rep, len(plain))
		}
		wantAllUnder(t, db, during, 2, plain)
	})
}

// TestRotateResumes stops a rotation after its first batches, checks that
// every value still opens, and finishes it with a second run.
func TestRotateResumes(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		before, during := sealers(t)
		plain := seedSealed(t, db, before, 10)
		ctx, cancel := context.WithCancel(t.Context())
		stopping := &stoppingStore{DB: db, lists: 3, stop: cancel}
		_, err := seal.Rotate(ctx, stopping, during, seal.RotateOptions{BatchSize: 4,
			BatchDelay: time.Millisecond})
		if err == nil {
			t.Fatal("the stopped rotation reported no error")
		}
		counts, err := seal.CountVersions(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		under := map[uint32]int64{}
		for _, c := range counts {
			under[c.Version] += c.Count
		}
		if under[1] == 0 || under[2] == 0 || under[1]+under[2] != int64(len(plain)) {
			t.Fatalf("after the stop: %v by version, want both versions and %d values",
				under, len(plain))
		}
		wantAllOpen(t, db, during, plain)

		rep := rotate(t, db, during, seal.RotateOptions{BatchSize: 4})
		if rep.Resealed != int(under[1]) || rep.AlreadyCurrent != int(under[2]) || !rep.Done() {
			t.Fatalf("resumed report %+v, want %d re-sealed and %d current", rep, under[1],
				under[2])
		}
		wantAllUnder(t, db, during, 2, plain)
	})
}

// stoppingStore is a real store that stops the rotation using it, as an
// operator's Ctrl-C would, once it has listed a number of batches.
type stoppingStore struct {
	*sqlstore.DB
	lists int
	stop  context.CancelFunc
}

// ListSealed lists a batch, then stops the rotation after the last one
// allowed.
func (s *stoppingStore) ListSealed(ctx context.Context, table mosaic.SealedTable,
	after string, limit int) ([]mosaic.SealedValue, error) {
	vs, err := s.DB.ListSealed(ctx, table, after, limit)
	if s.lists--; s.lists == 0 {
		s.stop()
	}
	return vs, err
}

// wantAllOpen checks that every value of plain opens to its plaintext.
func wantAllOpen(t *testing.T, db *sqlstore.DB, opener *seal.Sealer, plain plaintexts) {
	t.Helper()
	for ref, want := range plain {
		got, err := opener.Open(mustGet(t, db, ref), ref.AAD())
		if err != nil || string(got) != want {
			t.Errorf("%s opens to %q (%v), want %q", ref, got, err, want)
		}
	}
}

func TestCountVersions(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		before, during := sealers(t)
		seedSealed(t, db, before, 2)
		seedSealed(t, db, during, 3)
		if err := db.PutKey(t.Context(), &mosaic.StoredKey{Name: "junk", CertPEM: "c",
			SealedKey: []byte{1, 2}}); err != nil {
			t.Fatal(err)
		}
		counts, err := seal.CountVersions(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, c := range counts {
			got[fmt.Sprintf("%s/%d", c.Table, c.Version)] += c.Count
		}
		want := map[string]int64{"keys/0": 1, "keys/1": 2, "keys/2": 3, "peers/1": 2,
			"peers/2": 3, "credentials/1": 2, "credentials/2": 3}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("CountVersions = %v, want %v", got, want)
		}
	})
}
