package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func testCreateResources(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	u := newUser(t, s)
	nobody := mosaic.NewID()

	task := &mosaic.Task{UserID: u.ID, Title: "Write"}
	must(t, s.CreateTask(ctx, task))
	if task.Status != mosaic.TaskOpen || task.ID == "" {
		t.Fatalf("task = %+v, want an id and status open", task)
	}
	recent(t, "task CreatedAt", task.CreatedAt)

	tests := []struct {
		name   string
		create func() error
	}{
		{"task", func() error { return s.CreateTask(ctx, &mosaic.Task{UserID: nobody, Title: "x"}) }},
		{"note", func() error { return s.CreateNote(ctx, &mosaic.Note{UserID: nobody, Title: "x"}) }},
		{"credential", func() error {
			c := &mosaic.Credential{UserID: nobody, Name: "x", Kind: "password",
				SealedSecret: []byte{1}}
			return s.CreateCredential(ctx, c)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" of unknown user", func(t *testing.T) {
			wantErr(t, tt.create(), mosaic.KindNotFound, "user_not_found")
		})
	}
	for _, r := range []mosaic.Resource{mosaic.ResourceTasks, mosaic.ResourceNotes,
		mosaic.ResourceCredentials} {
		if ids := pageAll(t, s, mosaic.PageQuery{Resource: r, UserID: nobody}, 10); len(ids) != 0 {
			t.Fatalf("%s of an unknown user were stored: %v", r, ids)
		}
	}
}

// testReadPageOwned pages tasks, notes and credentials of two users whose
// rows are interleaved: each sees exactly their own, page after page.
func testReadPageOwned(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	alice, bob := newUser(t, s), newUser(t, s)
	owned := map[mosaic.Resource]map[string][]string{}
	for _, r := range []mosaic.Resource{mosaic.ResourceTasks, mosaic.ResourceNotes,
		mosaic.ResourceCredentials} {
		owned[r] = map[string][]string{}
	}
	// Alice gets 7 of each, Bob 6: a partial last page and an exact one.
	for i := range 13 {
		u := alice
		if i%2 == 1 {
			u = bob
		}
		title := fmt.Sprintf("item %d", i)
		task := &mosaic.Task{UserID: u.ID, Title: title}
		note := &mosaic.Note{UserID: u.ID, Title: title, Body: "body"}
		cred := &mosaic.Credential{UserID: u.ID, Name: title, Kind: "api_key",
			SealedSecret: []byte("sealed")}
		must(t, s.CreateTask(ctx, task))
		must(t, s.CreateNote(ctx, note))
		must(t, s.CreateCredential(ctx, cred))
		owned[mosaic.ResourceTasks][u.ID] = append(owned[mosaic.ResourceTasks][u.ID], task.ID)
		owned[mosaic.ResourceNotes][u.ID] = append(owned[mosaic.ResourceNotes][u.ID], note.ID)
		owned[mosaic.ResourceCredentials][u.ID] = append(
			owned[mosaic.ResourceCredentials][u.ID], cred.ID)
	}

	names := map[*mosaic.User]string{alice: "alice", bob: "bob"}
	for r, byUser := range owned {
		for _, u := range []*mosaic.User{alice, bob} {
			for _, size := range []int{1, 3, 6, 100} {
				t.Run(fmt.Sprintf("%s/%s/limit %d", r, names[u], size), func(t *testing.T) {
					q := mosaic.PageQuery{Resource: r, UserID: u.ID}
					wantIDs(t, pageAll(t, s, q, size), byUser[u.ID])
				})
			}
		}
		t.Run(fmt.Sprintf("%s/all users", r), func(t *testing.T) {
			all := append(slices.Clone(byUser[alice.ID]), byUser[bob.ID]...)
			wantIDs(t, pageAll(t, s, mosaic.PageQuery{Resource: r}, 4), all)
		})
	}
}

// testReadPageUsersAndTeams checks visibility through teams: a user sees
// the teams they belong to and the users they share one with.
func testReadPageUsersAndTeams(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	alice, bob, carol, dave, eve := newUser(t, s), newUser(t, s), newUser(t, s),
		newUser(t, s), newUser(t, s)
	t1 := &mosaic.Team{Name: "t1", MemberIDs: []string{alice.ID, bob.ID}}
	t2 := &mosaic.Team{Name: "t2", MemberIDs: []string{carol.ID, dave.ID}}
	t3 := &mosaic.Team{Name: "t3", MemberIDs: []string{bob.ID, carol.ID}}
	for _, tm := range []*mosaic.Team{t1, t2, t3} {
		must(t, s.CreateTeam(ctx, tm))
	}

	tests := []struct {
		name  string
		user  *mosaic.User
		users []string
		teams []*mosaic.Team
	}{
		{"alice", alice, []string{alice.ID, bob.ID}, []*mosaic.Team{t1}},
		{"bob", bob, []string{alice.ID, bob.ID, carol.ID}, []*mosaic.Team{t1, t3}},
		{"dave", dave, []string{carol.ID, dave.ID}, []*mosaic.Team{t2}},
		{"eve without a team", eve, []string{eve.ID}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1, 2, 10} {
				q := mosaic.PageQuery{Resource: mosaic.ResourceUsers, UserID: tt.user.ID}
				wantIDs(t, pageAll(t, s, q, size), tt.users)

				q.Resource = mosaic.ResourceTeams
				var teamIDs []string
				for _, tm := range tt.teams {
					teamIDs = append(teamIDs, tm.ID)
				}
				wantIDs(t, pageAll(t, s, q, size), teamIDs)
			}
			wantTeamMembers(t, s, tt.user.ID, tt.teams)
		})
	}
	t.Run("all users", func(t *testing.T) {
		q := mosaic.PageQuery{Resource: mosaic.ResourceUsers}
		wantIDs(t, pageAll(t, s, q, 2), []string{alice.ID, bob.ID, carol.ID, dave.ID, eve.ID})
		q.Resource = mosaic.ResourceTeams
		wantIDs(t, pageAll(t, s, q, 2), []string{t1.ID, t2.ID, t3.ID})
	})
}

// wantTeamMembers checks that the teams a user reads carry all members.
func wantTeamMembers(t *testing.T, s mosaic.Store, userID string, teams []*mosaic.Team) {
	t.Helper()
	q := mosaic.PageQuery{Resource: mosaic.ResourceTeams, UserID: userID, Limit: 100}
	page, err := s.ReadPage(t.Context(), q)
	must(t, err)
	if len(page.Items) != len(teams) {
		t.Fatalf("%d teams, want %d", len(page.Items), len(teams))
	}
	for _, item := range page.Items {
		got, ok := item.(*mosaic.Team)
		if !ok {
			t.Fatalf("team page holds %T", item)
		}
		i := slices.IndexFunc(teams, func(tm *mosaic.Team) bool { return tm.ID == got.ID })
		if i < 0 || !slices.Equal(got.MemberIDs, sorted(slices.Clone(teams[i].MemberIDs)...)) {
			t.Fatalf("team %s members %v, want those of %+v", got.ID, got.MemberIDs, teams)
		}
	}
}

func testReadPageSince(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	u := newUser(t, s)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	cut := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	stale := &mosaic.Task{UserID: u.ID, Title: "old", CreatedAt: old, UpdatedAt: old}
	edge := &mosaic.Task{UserID: u.ID, Title: "edge", CreatedAt: old, UpdatedAt: cut}
	fresh := &mosaic.Task{UserID: u.ID, Title: "new"}
	for _, task := range []*mosaic.Task{stale, edge, fresh} {
		must(t, s.CreateTask(ctx, task))
	}
	q := mosaic.PageQuery{Resource: mosaic.ResourceTasks, UserID: u.ID, Since: &cut}
	wantIDs(t, pageAll(t, s, q, 1), []string{edge.ID, fresh.ID})
	q.Since = nil
	wantIDs(t, pageAll(t, s, q, 1), []string{stale.ID, edge.ID, fresh.ID})
}

func testReadPageErrors(t *testing.T, s mosaic.Store) {
	u := newUser(t, s)
	tests := []struct {
		name string
		q    mosaic.PageQuery
		kind mosaic.Kind
		code string
	}{
		{"unknown resource", mosaic.PageQuery{Resource: "secrets", UserID: u.ID, Limit: 1},
			mosaic.KindNotFound, "unknown_resource"},
		{"zero limit", mosaic.PageQuery{Resource: mosaic.ResourceTasks, UserID: u.ID},
			mosaic.KindInvalid, "invalid_limit"},
		{"negative limit", mosaic.PageQuery{Resource: mosaic.ResourceTasks, Limit: -1},
			mosaic.KindInvalid, "invalid_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ReadPage(t.Context(), tt.q)
			wantErr(t, err, tt.kind, tt.code)
		})
	}
}

// pageAll reads every page of q with the given page size and returns the
// ids in the order read. It fails the test on an oversized page, a
// repeated id, ids out of order, a foreign row, or a credential that
// carries its secret.
func pageAll(t *testing.T, s mosaic.Store, q mosaic.PageQuery, size int) []string {
	t.Helper()
	q.Limit = size
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		page, err := s.ReadPage(t.Context(), q)
		must(t, err)
		if len(page.Items) > size {
			t.Fatalf("page of %d items, limit %d", len(page.Items), size)
		}
		for _, item := range page.Items {
			id := checkItem(t, item, q.UserID)
			if len(ids) > 0 && id <= ids[len(ids)-1] {
				t.Fatalf("id %s after %s: repeated or out of order", id, ids[len(ids)-1])
			}
			ids = append(ids, id)
		}
		if page.Next == "" {
			return ids
		}
		if len(page.Items) == 0 || page.Next != ids[len(ids)-1] {
			t.Fatalf("Next %q is not the last id of a non-empty page", page.Next)
		}
		q.After = page.Next
	}
}

// checkItem returns an item's id after checking what it may carry.
func checkItem(t *testing.T, item any, userID string) string {
	t.Helper()
	owner := ""
	var id string
	switch v := item.(type) {
	case *mosaic.Task:
		id, owner = v.ID, v.UserID
	case *mosaic.Note:
		id, owner = v.ID, v.UserID
	case *mosaic.Credential:
		id, owner = v.ID, v.UserID
		if v.SealedSecret != nil {
			t.Fatalf("credential %s in a page carries its sealed secret", v.ID)
		}
	case *mosaic.User:
		id = v.ID
	case *mosaic.Team:
		id = v.ID
	default:
		t.Fatalf("page holds %T", item)
	}
	if userID != "" && owner != "" && owner != userID {
		t.Fatalf("page for user %s holds %s of user %s", userID, id, owner)
	}
	return id
}

// wantIDs fails the test unless got holds exactly the ids of want, in id
// order.
func wantIDs(t *testing.T, got, want []string) {
	t.Helper()
	want = sorted(slices.Clone(want)...)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
}
