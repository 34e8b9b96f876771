package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// SealedTestStore is a store that also finds and rewrites sealed values.
type SealedTestStore interface {
	mosaic.Store
	mosaic.SealedStore
}

// RunSealed runs the suite of mosaic.SealedStore, the store methods behind
// the rotation of the sealing secret. open must return a new, empty,
// migrated store for the test it is given, and close it when that test
// ends.
func RunSealed(t *testing.T, open func(t *testing.T) SealedTestStore) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s SealedTestStore)
	}{
		{"ListSealed", testListSealed},
		{"ListSealedRefused", testListSealedRefused},
		{"GetSealed", testGetSealed},
		{"ReplaceSealed", testReplaceSealed},
		{"ReplaceSealedConcurrent", testReplaceSealedConcurrent},
		{"ReplaceSealedKeepsUpdatedAt", testReplaceSealedKeepsUpdatedAt},
		{"CountSealed", testCountSealed},
		{"SettingSwap", testSettingSwap},
		{"SettingSwapConcurrent", testSettingSwapConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// sealedRows is what newSealedRows stored: the sealed values of each table
// in id order.
type sealedRows map[mosaic.SealedTable][]mosaic.SealedValue

// newSealedRows stores n sealed values in each table, plus an inbound
// peer, which has none. Each value is distinct and begins with the header
// byte 1 and a version of i%3+1.
func newSealedRows(t *testing.T, s SealedTestStore, n int) sealedRows {
	t.Helper()
	ctx := t.Context()
	u := newUser(t, s)
	newPeer(t, s, mosaic.PeerInbound, mosaic.PeerPending)
	rows := sealedRows{}
	add := func(table mosaic.SealedTable, id string, v []byte) {
		rows[table] = append(rows[table], mosaic.SealedValue{
			Ref: mosaic.SealedRef{Table: table, ID: id}, Sealed: v})
	}
	for i := range n {
		k := &mosaic.StoredKey{Name: fmt.Sprintf("key-%02d", i), CertPEM: "cert",
			SealedKey: sealedValue(i, "key")}
		must(t, s.PutKey(ctx, k))
		add(mosaic.SealedKeys, k.Name, k.SealedKey)

		p := &mosaic.Peer{Role: mosaic.PeerOutbound, State: mosaic.PeerPending,
			CommonName: unique("cn"), DisplayName: "Peer", SealedKey: sealedValue(i, "peer")}
		must(t, s.CreatePeer(ctx, p))
		add(mosaic.SealedPeerKeys, p.ID, p.SealedKey)

		c := &mosaic.Credential{UserID: u.ID, Name: unique("cred"), Kind: "password",
			SealedSecret: sealedValue(i, "cred")}
		must(t, s.CreateCredential(ctx, c))
		add(mosaic.SealedCredentials, c.ID, c.SealedSecret)
	}
	for _, vs := range rows {
		slices.SortFunc(vs, func(a, b mosaic.SealedValue) int {
			return bytes.Compare([]byte(a.Ref.ID), []byte(b.Ref.ID))
		})
	}
	return rows
}

// sealedValue returns a distinct value that begins like a sealed value of
// key version i%3+1, with a zero byte inside.
func sealedValue(i int, what string) []byte {
	v := []byte{1, 0, 0, 0, byte(i%3 + 1), 0}
	return append(v, fmt.Sprintf("%s-%d-%s", what, i, unique("v"))...)
}

func testListSealed(t *testing.T, s SealedTestStore) {
	want := newSealedRows(t, s, 7)
	for _, table := range mosaic.SealedTables() {
		for _, limit := range []int{1, 3, 7, 100} {
			var got []mosaic.SealedValue
			after := ""
			for range 20 {
				page, err := s.ListSealed(t.Context(), table, after, limit)
				must(t, err)
				if len(page) > limit {
					t.Fatalf("%s: page of %d values with limit %d", table, len(page), limit)
				}
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				after = page[len(page)-1].Ref.ID
			}
			if !sameSealed(got, want[table]) {
				t.Fatalf("%s by %d: listed %v, want %v", table, limit, got, want[table])
			}
		}
	}
}

// sameSealed reports whether two lists hold the same refs and bytes in
// the same order.
func sameSealed(a, b []mosaic.SealedValue) bool {
	return slices.EqualFunc(a, b, func(x, y mosaic.SealedValue) bool {
		return x.Ref == y.Ref && bytes.Equal(x.Sealed, y.Sealed)
	})
}

func testListSealedRefused(t *testing.T, s SealedTestStore) {
	ctx := t.Context()
	_, err := s.ListSealed(ctx, "users", "", 10)
	wantErr(t, err, mosaic.KindInvalid, "unknown_sealed_table")
	for _, limit := range []int{0, -1, mosaic.MaxListLimit + 1} {
		_, err := s.ListSealed(ctx, mosaic.SealedKeys, "", limit)
		wantErr(t, err, mosaic.KindInvalid, "invalid_limit")
	}
	_, err = s.GetSealed(ctx, mosaic.SealedRef{Table: "tasks", ID: "x"})
	wantErr(t, err, mosaic.KindInvalid, "unknown_sealed_table")
	_, err = s.ReplaceSealed(ctx, mosaic.SealedRef{Table: "", ID: "x"}, []byte{1}, []byte{2})
	wantErr(t, err, mosaic.KindInvalid, "unknown_sealed_table")
	_, err = s.CountSealed(ctx, "settings", 5)
	wantErr(t, err, mosaic.KindInvalid, "unknown_sealed_table")
}

func testGetSealed(t *testing.T, s SealedTestStore) {
	ctx := t.Context()
	rows := newSealedRows(t, s, 2)
	for _, vs := range rows {
		for _, v := range vs {
			got, err := s.GetSealed(ctx, v.Ref)
			must(t, err)
			if !bytes.Equal(got, v.Sealed) {
				t.Fatalf("GetSealed(%s) = %q, want %q", v.Ref, got, v.Sealed)
			}
		}
	}
	inbound := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerPending)
	for _, ref := range []mosaic.SealedRef{
		{Table: mosaic.SealedKeys, ID: "no-such-key"},
		{Table: mosaic.SealedPeerKeys, ID: mosaic.NewID()},
		{Table: mosaic.SealedPeerKeys, ID: inbound.ID},
		{Table: mosaic.SealedCredentials, ID: mosaic.NewID()},
	} {
		_, err := s.GetSealed(ctx, ref)
		wantErr(t, err, mosaic.KindNotFound, "sealed_value_not_found")
	}
}

// testReplaceSealed replaces each value once from what was read, then
// fails to replace it again from the same, now stale, value.
func testReplaceSealed(t *testing.T, s SealedTestStore) {
	ctx := t.Context()
	rows := newSealedRows(t, s, 3)
	for _, table := range mosaic.SealedTables() {
		for i, v := range rows[table] {
			fresh := append([]byte{1, 0, 0, 0, 9}, v.Sealed[5:]...)
			ok, err := s.ReplaceSealed(ctx, v.Ref, v.Sealed, fresh)
			must(t, err)
			if !ok {
				t.Fatalf("ReplaceSealed(%s) from the stored value did not replace it", v.Ref)
			}
			stale, err := s.ReplaceSealed(ctx, v.Ref, v.Sealed, []byte("lost"))
			must(t, err)
			if stale {
				t.Fatalf("ReplaceSealed(%s) from a stale value replaced it", v.Ref)
			}
			rows[table][i].Sealed = fresh
		}
		// Every row holds its own new value; no other row was touched.
		page, err := s.ListSealed(ctx, table, "", 100)
		must(t, err)
		if !sameSealed(page, rows[table]) {
			t.Fatalf("%s after replacing: %v, want %v", table, page, rows[table])
		}
	}
	gone := mosaic.SealedRef{Table: mosaic.SealedCredentials, ID: mosaic.NewID()}
	ok, err := s.ReplaceSealed(ctx, gone, []byte{1}, []byte{2})
	must(t, err)
	if ok {
		t.Fatal("ReplaceSealed of a missing row reported a replacement")
	}
}

// testReplaceSealedConcurrent has 10 rotations race to replace one value
// read by all: exactly one wins, and its value is the one stored.
func testReplaceSealedConcurrent(t *testing.T, s SealedTestStore) {
	rows := newSealedRows(t, s, 1)
	for _, table := range mosaic.SealedTables() {
		v := rows[table][0]
		const n = 10
		won := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				won[i], errs[i] = s.ReplaceSealed(t.Context(), v.Ref, v.Sealed,
					[]byte(fmt.Sprintf("writer-%d", i)))
			})
		}
		wg.Wait()
		winner := -1
		for i := range n {
			must(t, errs[i])
			if won[i] {
				if winner >= 0 {
					t.Fatalf("%s: writers %d and %d both replaced the value", table, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("%s: no writer replaced the value", table)
		}
		got, err := s.GetSealed(t.Context(), v.Ref)
		must(t, err)
		if want := fmt.Sprintf("writer-%d", winner); string(got) != want {
			t.Fatalf("%s holds %q, want the winner's %q", table, got, want)
		}
	}
}

// testReplaceSealedKeepsUpdatedAt checks that re-sealing a credential does
// not make it look changed to federated reads that ask for rows changed
// since a time.
func testReplaceSealedKeepsUpdatedAt(t *testing.T, s SealedTestStore) {
	ctx := t.Context()
	u := newUser(t, s)
	at := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	c := &mosaic.Credential{UserID: u.ID, Name: "mail", Kind: "password",
		SealedSecret: sealedValue(0, "cred"), CreatedAt: at, UpdatedAt: at}
	must(t, s.CreateCredential(ctx, c))
	ref := mosaic.SealedRef{Table: mosaic.SealedCredentials, ID: c.ID}
	ok, err := s.ReplaceSealed(ctx, ref, c.SealedSecret, sealedValue(1, "cred"))
	must(t, err)
	if !ok {
		t.Fatal("ReplaceSealed did not replace the credential's secret")
	}
	page, err := s.ReadPage(ctx, mosaic.PageQuery{Resource: mosaic.ResourceCredentials,
		UserID: u.ID, Limit: 10})
	must(t, err)
	if len(page.Items) != 1 {
		t.Fatalf("ReadPage = %d credentials, want 1", len(page.Items))
	}
	sameTime(t, "UpdatedAt", page.Items[0].(*mosaic.Credential).UpdatedAt, at)
}

func testCountSealed(t *testing.T, s SealedTestStore) {
	newSealedRows(t, s, 7) // versions 1, 2, 3, 1, 2, 3, 1
	for _, table := range mosaic.SealedTables() {
		got, err := s.CountSealed(t.Context(), table, 5)
		must(t, err)
		want := []mosaic.SealedPrefixCount{
			{Table: table, Prefix: []byte{1, 0, 0, 0, 1}, Count: 3},
			{Table: table, Prefix: []byte{1, 0, 0, 0, 2}, Count: 2},
			{Table: table, Prefix: []byte{1, 0, 0, 0, 3}, Count: 2},
		}
		if !slices.EqualFunc(got, want, func(a, b mosaic.SealedPrefixCount) bool {
			return a.Table == b.Table && bytes.Equal(a.Prefix, b.Prefix) && a.Count == b.Count
		}) {
			t.Fatalf("CountSealed(%s) = %v, want %v", table, got, want)
		}
	}
	for _, n := range []int{0, 65} {
		if _, err := s.CountSealed(t.Context(), mosaic.SealedKeys, n); err == nil {
			t.Fatalf("CountSealed with prefix length %d succeeded", n)
		}
	}
}

func testSettingSwap(t *testing.T, s SealedTestStore) {
	ctx := t.Context()
	const name = "seal_keys"
	ok, err := s.ReplaceSetting(ctx, name, "", "v0")
	must(t, err)
	if ok {
		t.Fatal("ReplaceSetting of a missing setting reported a replacement")
	}
	if ok, err = s.InsertSetting(ctx, name, "v1"); err != nil || !ok {
		t.Fatalf("InsertSetting = %v, %v; want it inserted", ok, err)
	}
	if ok, err = s.InsertSetting(ctx, name, "v1-other"); err != nil || ok {
		t.Fatalf("second InsertSetting = %v, %v; want refused", ok, err)
	}
	wantSetting(t, s, name, "v1")
	if ok, err = s.ReplaceSetting(ctx, name, "stale", "v2"); err != nil || ok {
		t.Fatalf("ReplaceSetting from a stale value = %v, %v; want refused", ok, err)
	}
	wantSetting(t, s, name, "v1")
	if ok, err = s.ReplaceSetting(ctx, name, "v1", "v2"); err != nil || !ok {
		t.Fatalf("ReplaceSetting from the stored value = %v, %v; want replaced", ok, err)
	}
	wantSetting(t, s, name, "v2")
}

// testSettingSwapConcurrent has 10 starters race to insert a setting and
// then 10 to replace it from the value they all read: one wins each race.
func testSettingSwapConcurrent(t *testing.T, s SealedTestStore) {
	const n = 10
	race := func(what string, try func(i int) (bool, error)) int {
		won := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { won[i], errs[i] = try(i) })
		}
		wg.Wait()
		winner, winners := -1, 0
		for i := range n {
			must(t, errs[i])
			if won[i] {
				winner, winners = i, winners+1
			}
		}
		if winners != 1 {
			t.Fatalf("%s: %d winners, want 1", what, winners)
		}
		return winner
	}
	first := race("insert", func(i int) (bool, error) {
		return s.InsertSetting(t.Context(), "race", fmt.Sprintf("insert-%d", i))
	})
	wantSetting(t, s, "race", fmt.Sprintf("insert-%d", first))
	second := race("replace", func(i int) (bool, error) {
		return s.ReplaceSetting(t.Context(), "race", fmt.Sprintf("insert-%d", first),
			fmt.Sprintf("replace-%d", i))
	})
	wantSetting(t, s, "race", fmt.Sprintf("replace-%d", second))
}
