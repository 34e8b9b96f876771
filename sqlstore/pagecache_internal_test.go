package sqlstore

import (
	"errors"
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
		c.put("since="+strconv.Itoa(i), at(1), page)
		if c.bytes > pageCacheBytes {
			t.Fatalf("after %d pages the cache holds %d bytes, over %d", i+1, c.bytes,
				pageCacheBytes)
		}
	}
	if c.get("since=199", at(1)) == nil {
		t.Fatal("the newest page is not kept")
	}
	if c.get("since=0", at(1)) != nil {
		t.Fatal("the oldest page is still kept past the byte budget")
	}

	huge := notesPage(100, pageCacheMaxBytes/50)
	c.put("huge", at(1), huge)
	if c.get("huge", at(1)) != nil {
		t.Fatal("a page over the per-page bound was kept")
	}
}

// TestPageCacheReplaceCountsOnce caches the same key again: its bytes,
// memo budget included, are counted once.
func TestPageCacheReplaceCountsOnce(t *testing.T) {
	c := newPageCache()
	page := notesPage(10, 100)
	for v := range 5 {
		c.put("k", at(v), page)
	}
	n := pageBytes(page)
	if want := n + pageMemoBudget(n); c.bytes != want {
		t.Fatalf("cache counts %d bytes for one page of %d and its memo", c.bytes, want)
	}
	if c.get("k", at(3)) != nil || c.get("k", at(4)) == nil {
		t.Fatal("the page under k is not the last one put")
	}
}

// TestPageCacheMemo follows the memo of a cached page: the page put gets
// it, every hit shares it, a value over its budget or one that failed is
// not kept, and a page too large for the cache comes without one.
func TestPageCacheMemo(t *testing.T) {
	c := newPageCache()
	page := notesPage(10, 100)
	c.put("k", at(1), page)
	if page.Memo == nil || c.get("k", at(1)).Memo != page.Memo {
		t.Fatal("the page put and the page got do not share one memo")
	}
	budget := pageMemoBudget(pageBytes(page))

	calls := 0
	derive := func(v any, size int, err error) func() (any, int, error) {
		return func() (any, int, error) { calls++; return v, size, err }
	}
	steps := []struct {
		name      string
		key       string
		size      int
		err       error
		wantCalls int
	}{
		{"over the budget", "big", budget + 1, nil, 1},
		{"over the budget, again", "big", budget + 1, nil, 2},
		{"failed", "fail", 1, errors.New("no"), 3},
		{"failed, again", "fail", 1, errors.New("no"), 4},
		{"within the budget", "fits", budget, nil, 5},
		{"within the budget, again", "fits", budget, nil, 5},
		{"with the budget spent", "more", 1, nil, 6},
		{"with the budget spent, again", "more", 1, nil, 7},
	}
	for _, st := range steps {
		v, err := c.get("k", at(1)).Memo.Derive(st.key, derive(st.key, st.size, st.err))
		if err != st.err || (err == nil && v != st.key) || calls != st.wantCalls {
			t.Fatalf("%s: got %v, %v after %d derivations, want %d", st.name, v, err, calls,
				st.wantCalls)
		}
	}

	huge := notesPage(100, pageCacheMaxBytes/50)
	c.put("huge", at(1), huge)
	if huge.Memo != nil {
		t.Fatal("a page too large to keep got a memo")
	}
}

// TestPageMemoPanic derives a value that panics: the value is not kept,
// and the next caller derives it again.
func TestPageMemoPanic(t *testing.T) {
	m := mosaic.NewPageMemo(100)
	func() {
		defer func() { _ = recover() }()
		_, _ = m.Derive("k", func() (any, int, error) { panic("derive") })
	}()
	v, err := m.Derive("k", func() (any, int, error) { return "v", 1, nil })
	if err != nil || v != "v" {
		t.Fatalf("after a panic: %v, %v", v, err)
	}
}

// at is the version stamp of count n in the tests' one history.
func at(n int) versionStamp { return versionStamp{n: int64(n), stamp: "test"} }
