package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func testKeys(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	_, err := s.GetKey(ctx, "root")
	wantErr(t, err, mosaic.KindNotFound, "key_not_found")

	first := &mosaic.StoredKey{Name: "root", CertPEM: "cert-1", SealedKey: sealedBytes()}
	inserted, err := s.PutKeyIfAbsent(ctx, first)
	must(t, err)
	if !inserted {
		t.Fatal("PutKeyIfAbsent on an empty store did not insert")
	}
	recent(t, "CreatedAt", first.CreatedAt)

	second := &mosaic.StoredKey{Name: "root", CertPEM: "cert-2", SealedKey: []byte{9}}
	inserted, err = s.PutKeyIfAbsent(ctx, second)
	must(t, err)
	if inserted {
		t.Fatal("PutKeyIfAbsent replaced an existing key")
	}
	wantKey(t, s, first)

	replaced := &mosaic.StoredKey{Name: "root", CertPEM: "cert-3", SealedKey: []byte{0, 1, 0},
		CreatedAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	must(t, s.PutKey(ctx, replaced))
	wantKey(t, s, replaced)

	other := &mosaic.StoredKey{Name: "tls", CertPEM: "tls-cert", SealedKey: []byte("k")}
	must(t, s.PutKey(ctx, other))
	wantKey(t, s, other)
	wantKey(t, s, replaced)
}

// wantKey fails the test unless the stored key equals want, byte for byte.
func wantKey(t *testing.T, s mosaic.Store, want *mosaic.StoredKey) {
	t.Helper()
	got, err := s.GetKey(t.Context(), want.Name)
	must(t, err)
	if got.Name != want.Name || got.CertPEM != want.CertPEM ||
		!bytes.Equal(got.SealedKey, want.SealedKey) {
		t.Fatalf("GetKey(%q) = %+v, want %+v", want.Name, got, want)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
}

// testPutKeyIfAbsentConcurrent has 20 starters race to create one key:
// exactly one inserts, and all read back the same key.
func testPutKeyIfAbsentConcurrent(t *testing.T, s mosaic.Store) {
	const n = 20
	inserted := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := &mosaic.StoredKey{Name: "intermediate", CertPEM: unique("cert"),
				SealedKey: []byte{byte(i)}}
			inserted[i], errs[i] = s.PutKeyIfAbsent(t.Context(), k)
		})
	}
	wg.Wait()
	winners := 0
	for i := range n {
		must(t, errs[i])
		if inserted[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d starters inserted the key, want 1", winners)
	}
}

func testSettings(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "admin_token_hash")
	wantErr(t, err, mosaic.KindNotFound, "setting_not_found")
	for _, v := range []string{"first", "second", ""} {
		must(t, s.PutSetting(ctx, "admin_token_hash", v))
		got, err := s.GetSetting(ctx, "admin_token_hash")
		must(t, err)
		if got != v {
			t.Fatalf("GetSetting = %q, want %q", got, v)
		}
	}
}
