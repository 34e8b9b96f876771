package storetest

import (
	"testing"

	"github.com/mosaicgw/mosaic"
)

// RunPageCache checks that a page read once, and so possibly served from a
// cache afterwards, follows every change made after it: through the same
// store, through another store on the same database (a replica), and by
// statements the store did not make. open must return a new, empty
// database for the test it is given.
func RunPageCache(t *testing.T, open func(t *testing.T) *ChainEnv) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, env *ChainEnv)
	}{
		{"ThroughEachStore", testPageCacheThroughEachStore},
		{"OutsideTheStore", testPageCacheOutsideTheStore},
		{"Memberships", testPageCacheMemberships},
		{"ItemsNotShared", testPageCacheItemsNotShared},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// taskTitles reads one page of a user's tasks through s.
func taskTitles(t *testing.T, s mosaic.Store, userID string) []string {
	t.Helper()
	page, err := s.ReadPage(t.Context(), mosaic.PageQuery{
		Resource: mosaic.ResourceTasks, UserID: userID, Limit: 50})
	must(t, err)
	var titles []string
	for _, it := range page.Items {
		titles = append(titles, it.(*mosaic.Task).Title)
	}
	return titles
}

// wantTitles reads a user's tasks through every store and compares.
func wantTitles(t *testing.T, step, userID string, want []string, stores ...mosaic.Store) {
	t.Helper()
	for i, s := range stores {
		got := taskTitles(t, s, userID)
		if len(got) != len(want) {
			t.Fatalf("%s: store %d reads %q, want %q", step, i, got, want)
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("%s: store %d reads %q, want %q", step, i, got, want)
			}
		}
	}
}

func testPageCacheThroughEachStore(t *testing.T, env *ChainEnv) {
	a, b := env.Store, env.Open(t)
	u := newUser(t, a)
	wantTitles(t, "empty", u.ID, nil, a, b)
	must(t, a.CreateTask(t.Context(), &mosaic.Task{ID: "01", UserID: u.ID, Title: "one"}))
	wantTitles(t, "created through the first", u.ID, []string{"one"}, a, b)
	must(t, b.CreateTask(t.Context(), &mosaic.Task{ID: "02", UserID: u.ID, Title: "two"}))
	wantTitles(t, "created through the second", u.ID, []string{"one", "two"}, a, b)
}

func testPageCacheOutsideTheStore(t *testing.T, env *ChainEnv) {
	s := env.Store
	u := newUser(t, s)
	must(t, s.CreateTask(t.Context(), &mosaic.Task{ID: "01", UserID: u.ID, Title: "one"}))
	must(t, s.CreateTask(t.Context(), &mosaic.Task{ID: "02", UserID: u.ID, Title: "two"}))
	wantTitles(t, "created", u.ID, []string{"one", "two"}, s)

	env.Exec(t, `UPDATE tasks SET title = ? WHERE id = ?`, "uno", "01")
	wantTitles(t, "updated", u.ID, []string{"uno", "two"}, s)
	env.Exec(t, `DELETE FROM tasks WHERE id = ?`, "02")
	wantTitles(t, "deleted", u.ID, []string{"uno"}, s)
	other := newUser(t, s)
	wantTitles(t, "another user created", other.ID, nil, s)
	env.Exec(t, `UPDATE tasks SET user_id = ? WHERE id = ?`, other.ID, "01")
	wantTitles(t, "given to another user", u.ID, nil, s)
	wantTitles(t, "given to another user", other.ID, []string{"uno"}, s)
}

func testPageCacheMemberships(t *testing.T, env *ChainEnv) {
	s := env.Store
	alice, bob := newUser(t, s), newUser(t, s)
	team := &mosaic.Team{Name: unique("team"), MemberIDs: []string{alice.ID}}
	must(t, s.CreateTeam(t.Context(), team))
	q := mosaic.PageQuery{Resource: mosaic.ResourceUsers, UserID: alice.ID}
	wantIDs(t, pageAll(t, s, q, 10), []string{alice.ID})

	must(t, s.AddTeamMember(t.Context(), team.ID, bob.ID))
	wantIDs(t, pageAll(t, s, q, 10), []string{alice.ID, bob.ID})
	env.Exec(t, `DELETE FROM team_members WHERE user_id = ?`, bob.ID)
	wantIDs(t, pageAll(t, s, q, 10), []string{alice.ID})
}

// testPageCacheItemsNotShared changes the page a caller got: the next
// caller's page is as read.
func testPageCacheItemsNotShared(t *testing.T, env *ChainEnv) {
	s := env.Store
	u := newUser(t, s)
	must(t, s.CreateTask(t.Context(), &mosaic.Task{ID: "01", UserID: u.ID, Title: "one"}))
	q := mosaic.PageQuery{Resource: mosaic.ResourceTasks, UserID: u.ID, Limit: 10}
	first, err := s.ReadPage(t.Context(), q)
	must(t, err)
	first.Items[0] = &mosaic.Task{Title: "replaced"}
	first.Next = "changed"
	wantTitles(t, "after a caller changed its page", u.ID, []string{"one"}, s)
	again, err := s.ReadPage(t.Context(), q)
	must(t, err)
	if again.Next != "" {
		t.Fatalf("next cursor %q, want none", again.Next)
	}
}
