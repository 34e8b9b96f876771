package federation

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestChainCache(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{Raw: []byte("leaf"), NotBefore: t0, NotAfter: t0.Add(24 * time.Hour)}
	inter := &x509.Certificate{Raw: []byte("inter"), NotBefore: t0.Add(-time.Hour),
		NotAfter: t0.Add(12 * time.Hour)}
	root := &x509.Certificate{Raw: []byte("root"), NotBefore: t0.Add(time.Minute),
		NotAfter: t0.Add(48 * time.Hour)}
	roots, otherRoots := x509.NewCertPool(), x509.NewCertPool()

	var c chainCache
	key := chainKey([]*x509.Certificate{leaf, inter})
	c.add(key, roots, []*x509.Certificate{leaf, inter, root})

	tests := []struct {
		name  string
		key   [32]byte
		roots *x509.CertPool
		at    time.Time
		want  bool
	}{
		{"same chain, same roots, inside every validity", key, roots, t0.Add(time.Hour), true},
		{"before the root's notBefore", key, roots, t0, false},
		{"after the intermediate's notAfter", key, roots, t0.Add(13 * time.Hour), false},
		{"roots fetched again", key, otherRoots, t0.Add(time.Hour), false},
		{"leaf alone", chainKey([]*x509.Certificate{leaf}), roots, t0.Add(time.Hour), false},
		{"same bytes split differently",
			chainKey([]*x509.Certificate{{Raw: []byte("leafin")}, {Raw: []byte("ter")}}),
			roots, t0.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.verified(tt.key, tt.roots, tt.at); got != tt.want {
				t.Fatalf("verified = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestChainCacheBounded(t *testing.T) {
	var c chainCache
	roots := x509.NewCertPool()
	now := time.Now()
	cert := &x509.Certificate{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	for i := range chainCacheSize + 10 {
		cert.Raw = []byte{byte(i), byte(i >> 8), byte(i >> 16)}
		c.add(chainKey([]*x509.Certificate{cert}), roots, []*x509.Certificate{cert})
		if n := len(c.entries); n > chainCacheSize {
			t.Fatalf("%d entries, more than %d", n, chainCacheSize)
		}
	}
	if !c.verified(chainKey([]*x509.Certificate{cert}), roots, now) {
		t.Fatal("the newest chain is not remembered")
	}
}
