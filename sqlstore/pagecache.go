package sqlstore

import (
	"context"
	"slices"
	"strconv"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mosaicgw/mosaic"
)

// Bounds of the page cache: how many pages it keeps, and the largest page
// it keeps (larger ones are read every time). At most
// pageCacheEntries × pageCacheMaxRows rows are held.
const (
	pageCacheEntries = 512
	pageCacheMaxRows = 250
)

// pageCache keeps pages read by ReadPage, each with the data version it
// was read at (migration 6: a counter that every change to users, teams,
// memberships, tasks, notes and credentials moves on, in the changing
// transaction). A page is served from the cache only when the counter,
// read first by the request, still holds the page's version, so no
// change committed before a read began is ever missing from its answer,
// on any replica; a change to any row drops every cached page at once.
type pageCache struct {
	pages *lru.Cache[string, cachedPage]
}

// cachedPage is a page and the data version it was read at.
type cachedPage struct {
	version int64
	page    *mosaic.Page
}

func newPageCache() *pageCache {
	pages, err := lru.New[string, cachedPage](pageCacheEntries)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &pageCache{pages: pages}
}

// pageKey is what identifies a page query.
func pageKey(q mosaic.PageQuery, size int) string {
	var b strings.Builder
	b.WriteString(string(q.Resource))
	b.WriteByte(0)
	b.WriteString(q.UserID)
	b.WriteByte(0)
	b.WriteString(q.After)
	b.WriteByte(0)
	if q.Since != nil {
		b.WriteString(strconv.FormatInt(q.Since.UnixMilli(), 10))
	}
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(size))
	return b.String()
}

// get returns the page cached under key at version, or nil. The page's
// items are shared with other readers: the slice is a copy, the values
// it points to must not be changed.
func (c *pageCache) get(key string, version int64) *mosaic.Page {
	if c == nil {
		return nil
	}
	e, ok := c.pages.Get(key)
	if !ok || e.version != version {
		return nil
	}
	return &mosaic.Page{Items: slices.Clone(e.page.Items), Next: e.page.Next}
}

// put caches page under key as read at version, unless it is too large.
func (c *pageCache) put(key string, version int64, page *mosaic.Page) {
	if c == nil || len(page.Items) > pageCacheMaxRows {
		return
	}
	c.pages.Add(key, cachedPage{version: version,
		page: &mosaic.Page{Items: slices.Clone(page.Items), Next: page.Next}})
}

// dataVersion reads the data version.
func (db *DB) dataVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.read().queryRow(ctx, sqlDataVersion).Scan(&v); err != nil {
		return 0, db.fail("read data version", err, nil)
	}
	return v, nil
}
