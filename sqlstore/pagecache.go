package sqlstore

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/mosaicgw/mosaic"
)

// Bounds of the page cache: how many pages it keeps, how many bytes of
// their values and memos at most, and the largest page it keeps (larger
// ones are read every time). A peer chooses its cursors, since and limit,
// so it is the bytes that bound what it can make the gateway hold.
const (
	pageCacheEntries  = 512
	pageCacheBytes    = 32 << 20
	pageCacheMaxBytes = 1 << 20
)

// pageCache keeps pages read by ReadPage, each with the data version it
// was read at (migration 6: a counter that every change to users, teams,
// memberships, tasks, notes and credentials moves on, in the changing
// transaction). A page is served from the cache only when the counter,
// read first by the request, still holds the page's version, so no
// change committed before a read began is ever missing from its answer,
// on any replica; a change to any row drops every cached page at once.
//
// Each cached page comes with a memo (mosaic.Page.Memo) that every reader
// of the page shares, for the forms the layers above derive from it, such
// as its items encoded for an answer. A memo lives and goes with its page,
// and its budget counts among the cache's bytes.
type pageCache struct {
	mu    sync.Mutex
	pages *simplelru.LRU[string, cachedPage]
	// bytes is what the cached pages' values take, by pageBytes, and
	// the budgets of their memos.
	bytes int
}

// cachedPage is a page, the data version it was read at, its memo and
// its size, memo budget included.
type cachedPage struct {
	version versionStamp
	page    *mosaic.Page
	memo    *mosaic.PageMemo
	bytes   int
}

// pageMemoBudget is the budget of the memo of a page whose values take n
// bytes by pageBytes: room for its items encoded as JSON, which take
// about n, twice over for escaping. A form that does not fit is derived
// again by every reader.
func pageMemoBudget(n int) int { return 2 * n }

func newPageCache() *pageCache {
	c := &pageCache{}
	pages, err := simplelru.NewLRU(pageCacheEntries, func(_ string, e cachedPage) {
		c.bytes -= e.bytes
	})
	if err != nil {
		panic(err) // only for a size below 1
	}
	c.pages = pages
	return c
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

// get returns the page cached under key at version, with its memo, or
// nil. The page's items are shared with other readers: the slice is a
// copy, the values it points to must not be changed.
func (c *pageCache) get(key string, version versionStamp) *mosaic.Page {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.pages.Get(key)
	c.mu.Unlock()
	if !ok || e.version != version {
		return nil
	}
	return &mosaic.Page{Items: slices.Clone(e.page.Items), Next: e.page.Next, Memo: e.memo}
}

// put caches page under key as read at version, unless it is too large,
// dropping the least recently used pages while the cache holds too many
// bytes. A page it caches gets the memo its later readers will share, so
// that its first reader fills it too.
func (c *pageCache) put(key string, version versionStamp, page *mosaic.Page) {
	if c == nil {
		return
	}
	n := pageBytes(page)
	if n > pageCacheMaxBytes {
		return
	}
	memo := pageMemoBudget(n)
	e := cachedPage{version: version, bytes: n + memo, memo: mosaic.NewPageMemo(memo),
		page: &mosaic.Page{Items: slices.Clone(page.Items), Next: page.Next}}
	page.Memo = e.memo
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pages.Remove(key)
	c.pages.Add(key, e)
	c.bytes += e.bytes
	for c.bytes > pageCacheBytes {
		c.pages.RemoveOldest()
	}
}

// pageBytes estimates the memory a page's values take: their strings
// and a fixed amount for each value.
func pageBytes(p *mosaic.Page) int {
	const perItem = 128
	n := len(p.Next)
	for _, it := range p.Items {
		n += perItem
		switch v := it.(type) {
		case *mosaic.Task:
			n += len(v.ID) + len(v.UserID) + len(v.Title) + len(v.Status)
		case *mosaic.Note:
			n += len(v.ID) + len(v.UserID) + len(v.Title) + len(v.Body)
		case *mosaic.Credential:
			n += len(v.ID) + len(v.UserID) + len(v.Name) + len(v.Kind) + len(v.SealedSecret)
		case *mosaic.User:
			n += len(v.ID) + len(v.Name) + len(v.Email)
		case *mosaic.Team:
			n += len(v.ID) + len(v.Name)
			for _, m := range v.MemberIDs {
				n += 16 + len(m)
			}
		}
	}
	return n
}
