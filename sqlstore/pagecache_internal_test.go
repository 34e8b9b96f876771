package sqlstore

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// notesPage is a page of n notes whose bodies hold size bytes each.
func notesPage(n, size int) *mosaic.Page {
	p := &mosaic.Page{}
	for i := range n {
		p.Items = append(p.Items, &mosaic.Note{ID: strconv.Itoa(i), Body: strings.Repeat("x", size)})
	}
	return p
}

// TestPageCacheBoundedByBytes fills the cache with large pages under keys
// a peer could choose: it never holds more than its byte budget, keeps
// the newest pages, and leaves a page over the per-page bound out.
func TestPageCacheBoundedByBytes(t *testing.T) {
	c := newPageCache()
	page := notesPage(250, 4<<10) // trimmed below to nearly the largest page kept
	for pageBytes(page) > pageCacheMaxBytes {
		page.Items = page.Items[:len(page.Items)-10]
	}
	for i := range 200 {
		c.put("since="+strconv.Itoa(i), 1, page)
		if c.bytes > pageCacheBytes {
			t.Fatalf("after %d pages the cache holds %d bytes, over %d", i+1, c.bytes,
				pageCacheBytes)
		}
	}
	if c.get("since=199", 1) == nil {
		t.Fatal("the newest page is not kept")
	}
	if c.get("since=0", 1) != nil {
		t.Fatal("the oldest page is still kept past the byte budget")
	}

	huge := notesPage(100, pageCacheMaxBytes/50)
	c.put("huge", 1, huge)
	if c.get("huge", 1) != nil {
		t.Fatal("a page over the per-page bound was kept")
	}
}

// TestPageCacheReplaceCountsOnce caches the same key again: its bytes are
// counted once.
func TestPageCacheReplaceCountsOnce(t *testing.T) {
	c := newPageCache()
	page := notesPage(10, 100)
	for v := range 5 {
		c.put("k", int64(v), page)
	}
	if want := pageBytes(page); c.bytes != want {
		t.Fatalf("cache counts %d bytes for one page of %d", c.bytes, want)
	}
	if c.get("k", 3) != nil || c.get("k", 4) == nil {
		t.Fatal("the page under k is not the last one put")
	}
}
