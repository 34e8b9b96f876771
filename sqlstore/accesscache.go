package sqlstore

import (
	"slices"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/mosaicgw/mosaic"
)

// accessCacheEntries bounds the grants whose access the cache keeps. A
// grant is kept only once a request named it and it was found, so a peer
// cannot fill the cache with made-up grant ids.
const accessCacheEntries = 4096

// accessCache keeps what GrantAccess read, each with the access version it
// was read at (migration 7: a counter that every change to grants and
// peers moves on, in the changing transaction). An access is served from
// the cache only when the counter, read first by the request, still holds
// its version, so a revocation, a removal or a renewal committed before a
// request began always reaches it, on any replica; a change to any grant
// or peer drops every cached access at once.
//
// The counter only goes back when the database does: restored from a
// backup, or failed over to a replica that had not caught up. The same
// counts may then name other states; the random stamp drawn with each
// count tells them apart (see versionStamp).
type accessCache struct {
	mu      sync.Mutex
	entries *simplelru.LRU[string, cachedAccess]
}

// cachedAccess is a grant's access and the access version it was read at.
type cachedAccess struct {
	version versionStamp
	access  mosaic.GrantAccess
}

// versionStamp is a version of the access or data version tables: the
// counter and the random stamp drawn with it, which tells apart two
// histories of the database that reached the same count.
type versionStamp struct {
	n     int64
	stamp string
}

func newAccessCache() *accessCache {
	entries, err := simplelru.NewLRU[string, cachedAccess](accessCacheEntries, nil)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &accessCache{entries: entries}
}

// get returns a copy of the access of grantID cached at version, or nil.
// A nil cache keeps nothing.
func (c *accessCache) get(grantID string, version versionStamp) *mosaic.GrantAccess {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.entries.Get(grantID)
	c.mu.Unlock()
	if !ok || e.version != version {
		return nil
	}
	return copyAccess(&e.access)
}

// put caches a copy of a as the access of grantID read at version, in
// place of what was cached for it.
func (c *accessCache) put(grantID string, version versionStamp, a *mosaic.GrantAccess) {
	if c == nil {
		return
	}
	e := cachedAccess{version: version, access: *copyAccess(a)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.Add(grantID, e)
}

// copyAccess copies a deeply enough that neither the cache nor its callers
// see each other's changes.
func copyAccess(a *mosaic.GrantAccess) *mosaic.GrantAccess {
	g, c := *a.Grant, *a.Cert
	g.Scope.Resources = slices.Clone(g.Scope.Resources)
	g.Scope.ExcludedResources = slices.Clone(g.Scope.ExcludedResources)
	g.ActivatedAt, g.ExpiresAt, g.RevokedAt = clonePtr(g.ActivatedAt), clonePtr(g.ExpiresAt),
		clonePtr(g.RevokedAt)
	c.NotAfter, c.PrevUntil = clonePtr(c.NotAfter), clonePtr(c.PrevUntil)
	return &mosaic.GrantAccess{Grant: &g, Cert: &c, PeerState: a.PeerState,
		PeerCommonName: a.PeerCommonName}
}

// clonePtr returns a pointer to a copy of *p, or nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
