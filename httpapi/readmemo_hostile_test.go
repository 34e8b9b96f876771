package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestHostileMemoAcrossGrantsAndUsers reads, at once and many times,
// pages that share a cached page (two grants of Ada's tasks with other
// row caps, asking for the same page size) and one that must not (Bob's):
// each answer holds its own user's items only and its own grant's limit
// fields, and the two grants of Ada get the same items, to the byte.
func TestHostileMemoAcrossGrantsAndUsers(t *testing.T) {
	g := startGateway(t)
	ada, bob := g.createUser(t, "Ada"), g.createUser(t, "Bob")
	for i := range 6 {
		for _, u := range []string{ada.ID, bob.ID} {
			g.adminDo(t, "POST", "/api/admin/tasks", map[string]any{"userId": u,
				"title": fmt.Sprintf("t%d", i)}).wantStatus(t, http.StatusCreated)
		}
	}
	client := func(userID string, maxRows int) *http.Client {
		gr := g.createGrant(t, userID, map[string]any{"resources": []string{"tasks"},
			"max_rows_per_query": maxRows})
		return g.fedClient(t, g.enroll(t, g.issueToken(t, gr.ID).Token))
	}
	type reader struct {
		c       *http.Client
		path    string
		userID  string
		applied int
		capped  bool
	}
	readers := []reader{
		{client(ada.ID, 3), "/api/federation/v1/tasks?limit=5", ada.ID, 3, true},
		{client(ada.ID, 10), "/api/federation/v1/tasks?limit=3", ada.ID, 3, false},
		{client(bob.ID, 3), "/api/federation/v1/tasks?limit=3", bob.ID, 3, false},
	}

	var mu sync.Mutex
	itemsOf := map[string][]byte{} // user id → the items of the first answer
	check := func(r reader) error {
		req, err := http.NewRequest("GET", g.fed.URL+r.path, nil)
		if err != nil {
			return err
		}
		a, err := trySend(r.c, req)
		if err != nil {
			return err
		}
		if a.status != http.StatusOK {
			return fmt.Errorf("status %d: %s", a.status, a.body)
		}
		var page struct {
			Items        []map[string]any `json:"items"`
			LimitApplied int              `json:"limitApplied"`
			LimitCapped  bool             `json:"limitCapped"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			return fmt.Errorf("%v: %s", err, a.body)
		}
		if page.LimitApplied != r.applied || page.LimitCapped != r.capped || len(page.Items) != 3 {
			return fmt.Errorf("answer for %s: %s", r.path, a.body)
		}
		for _, it := range page.Items {
			if it["userId"] != r.userID {
				return fmt.Errorf("an item of another user in %s", a.body)
			}
		}
		var raw struct {
			Items json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(a.body, &raw); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if first, ok := itemsOf[r.userID]; !ok {
			itemsOf[r.userID] = bytes.Clone(raw.Items)
		} else if !bytes.Equal(first, raw.Items) {
			return fmt.Errorf("items %s, want %s", raw.Items, first)
		}
		return nil
	}

	var wg sync.WaitGroup
	errs := make(chan error, 3*4*10)
	for _, r := range readers {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					if err := check(r); err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if bytes.Equal(itemsOf[ada.ID], itemsOf[bob.ID]) ||
		!strings.Contains(string(itemsOf[bob.ID]), bob.ID) {
		t.Fatalf("Ada's and Bob's items: %s, %s", itemsOf[ada.ID], itemsOf[bob.ID])
	}
}
