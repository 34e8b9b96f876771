package sqlstore

import (
	"testing"

	"github.com/mosaicgw/mosaic"
)

// dataCount reads the data version's counter on the raw connection.
func (h *hostileDB) dataCount(t *testing.T) int64 {
	t.Helper()
	var v int64
	if err := h.raw.QueryRowContext(t.Context(),
		`SELECT version FROM data_version WHERE id = 1`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHostileDataVersionGoesBackUnseen puts the data version back, as a
// restore of a backup would, deletes a task in the new history and counts
// up again to the version a page holding the task was cached at, with no
// read in between: the page read next is the new history's.
func TestHostileDataVersionGoesBackUnseen(t *testing.T) {
	runHostile(t, func(t *testing.T, h *hostileDB) {
		ctx := t.Context()
		u := &mosaic.User{Name: "Pages", Email: mosaic.NewID() + "@example.test"}
		hmust(t, h.a.CreateUser(ctx, u))
		keep := &mosaic.Task{UserID: u.ID, Title: "kept"}
		gone := &mosaic.Task{UserID: u.ID, Title: "gone"}
		hmust(t, h.a.CreateTask(ctx, keep))
		hmust(t, h.a.CreateTask(ctx, gone))
		q := mosaic.PageQuery{Resource: mosaic.ResourceTasks, UserID: u.ID, Limit: 10}
		titles := func() []string {
			page, err := h.b.ReadPage(ctx, q)
			hmust(t, err)
			var out []string
			for _, it := range page.Items {
				out = append(out, it.(*mosaic.Task).Title)
			}
			return out
		}
		if got := titles(); len(got) != 2 {
			t.Fatalf("first read: %q", got)
		}
		cachedAt := h.dataCount(t)

		h.exec(t, `UPDATE data_version SET version = version - 20 WHERE id = 1`)
		h.exec(t, `DELETE FROM tasks WHERE id = ?`, gone.ID)
		for h.dataCount(t) < cachedAt {
			h.exec(t, `UPDATE tasks SET title = title WHERE id = ?`, keep.ID)
		}
		if v := h.dataCount(t); v != cachedAt {
			t.Fatalf("data version %d, want %d", v, cachedAt)
		}
		if got := titles(); len(got) != 1 || got[0] != "kept" {
			t.Fatalf("read %q at a count a page of the lost history was cached at", got)
		}
	})
}
