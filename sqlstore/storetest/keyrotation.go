package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// testListKeysWithPrefix lists keys by a prefix holding characters that
// are patterns in SQL LIKE: they match only themselves.
func testListKeysWithPrefix(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	for _, name := range []string{"ca-inter_b", "ca-inter_a", "ca-interXa", "ca-root", "ca-inter"} {
		must(t, s.PutKey(ctx, &mosaic.StoredKey{Name: name, CertPEM: "cert " + name,
			SealedKey: sealedBytes()}))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"ca-inter_", []string{"ca-inter_a", "ca-inter_b"}},
		{"ca-inter", []string{"ca-inter", "ca-interXa", "ca-inter_a", "ca-inter_b"}},
		{"ca-inter%", nil},
		{"ca-", []string{"ca-inter", "ca-interXa", "ca-inter_a", "ca-inter_b", "ca-root"}},
		{"tls", nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			keys, err := s.ListKeysWithPrefix(ctx, tt.prefix)
			must(t, err)
			var names []string
			for _, k := range keys {
				names = append(names, k.Name)
				if k.CertPEM != "cert "+k.Name || len(k.SealedKey) != len(sealedBytes()) {
					t.Fatalf("listed key %+v is not the stored one", k)
				}
			}
			wantIDs(t, names, tt.want)
		})
	}
}

// testRotateKey rotates a key twice, then tries rotations that must change
// nothing: from a value the setting no longer holds, and to a name in use.
func testRotateKey(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	must(t, s.PutKey(ctx, &mosaic.StoredKey{Name: "k-0", CertPEM: "c0", SealedKey: []byte{0}}))
	rotation := func(name, from string, drop ...string) mosaic.KeyRotation {
		return mosaic.KeyRotation{
			New: &mosaic.StoredKey{Name: name, CertPEM: "cert " + name, SealedKey: []byte(name),
				CreatedAt: time.Date(2030, 2, 3, 4, 5, 6, 0, time.UTC)},
			Drop: drop, Setting: "active", From: from, To: name,
		}
	}

	first := rotation("k-1", "")
	must(t, s.RotateKey(ctx, first))
	wantKey(t, s, first.New)
	wantSetting(t, s, "active", "k-1")
	second := rotation("k-2", "k-1", "k-0", "never-stored")
	must(t, s.RotateKey(ctx, second))
	wantSetting(t, s, "active", "k-2")
	_, err := s.GetKey(ctx, "k-0")
	wantErr(t, err, mosaic.KindNotFound, "key_not_found")

	tests := []struct {
		name string
		r    mosaic.KeyRotation
		code string
	}{
		{"from a stale value", rotation("k-3", "k-1", "k-1"), "setting_changed"},
		{"from none when there is one", rotation("k-3", ""), "setting_changed"},
		{"to a name in use", rotation("k-1", "k-2", "k-2"), "key_exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, s.RotateKey(ctx, tt.r), mosaic.KindConflict, tt.code)
			wantSetting(t, s, "active", "k-2")
			wantKey(t, s, first.New)
			wantKey(t, s, second.New)
			if _, err := s.GetKey(ctx, "k-3"); !mosaic.IsKind(err, mosaic.KindNotFound) {
				t.Fatalf("a refused rotation stored its key: %v", err)
			}
		})
	}
}

// wantSetting fails the test unless the setting holds want.
func wantSetting(t *testing.T, s mosaic.Store, name, want string) {
	t.Helper()
	got, err := s.GetSetting(t.Context(), name)
	must(t, err)
	if got != want {
		t.Fatalf("setting %s = %q, want %q", name, got, want)
	}
}

// testRotateKeyConcurrent has 10 rotations from one value race: exactly
// one succeeds, and the setting names its key, the only one stored.
func testRotateKeyConcurrent(t *testing.T, s mosaic.Store) {
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			name := unique("key")
			<-start
			errs[i] = s.RotateKey(t.Context(), mosaic.KeyRotation{
				New:     &mosaic.StoredKey{Name: name, CertPEM: "c", SealedKey: []byte{1}},
				Setting: "active", To: name,
			})
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for _, err := range errs {
		if err == nil {
			winners++
			continue
		}
		wantErr(t, err, mosaic.KindConflict, "setting_changed")
	}
	if winners != 1 {
		t.Fatalf("%d rotations succeeded, want 1", winners)
	}
	active, err := s.GetSetting(t.Context(), "active")
	must(t, err)
	keys, err := s.ListKeysWithPrefix(t.Context(), "key-")
	must(t, err)
	if len(keys) != 1 || keys[0].Name != active {
		t.Fatalf("%d keys stored, setting %q; want the winner's key alone", len(keys), active)
	}
}
