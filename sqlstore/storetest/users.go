package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func testUsers(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	u := &mosaic.User{Name: "Alice", Email: "alice@example.test", EmailVerified: true}
	must(t, s.CreateUser(ctx, u))
	if err := mosaic.ValidateID("id", u.ID); err != nil {
		t.Fatalf("CreateUser gave id %q: %v", u.ID, err)
	}
	recent(t, "CreatedAt", u.CreatedAt)
	sameTime(t, "UpdatedAt", u.UpdatedAt, u.CreatedAt)

	got, err := s.FindUser(ctx, u.ID)
	must(t, err)
	if *got != *u {
		t.Fatalf("FindUser = %+v, want %+v", got, u)
	}

	t.Run("given times kept", func(t *testing.T) {
		at := time.Date(2024, 2, 3, 4, 5, 6, 789_999_999, time.FixedZone("X", 3600))
		v := &mosaic.User{Name: "Vic", Email: unique("vic") + "@example.test", CreatedAt: at}
		must(t, s.CreateUser(ctx, v))
		sameTime(t, "CreatedAt", v.CreatedAt, at)
		sameTime(t, "UpdatedAt", v.UpdatedAt, at)
		got, err := s.FindUser(ctx, v.ID)
		must(t, err)
		sameTime(t, "stored CreatedAt", got.CreatedAt, at)
	})

	t.Run("duplicate email", func(t *testing.T) {
		err := s.CreateUser(ctx, &mosaic.User{Name: "Other", Email: "alice@example.test"})
		wantErr(t, err, mosaic.KindConflict, "email_taken")
		if msg := mosaic.ErrorMessage(err); msg != "email is already in use" {
			t.Fatalf("message %q carries detail", msg)
		}
	})

	t.Run("duplicate email in another case", func(t *testing.T) {
		err := s.CreateUser(ctx, &mosaic.User{Name: "Other", Email: "Alice@Example.TEST"})
		wantErr(t, err, mosaic.KindConflict, "email_taken")
	})

	t.Run("duplicate id", func(t *testing.T) {
		err := s.CreateUser(ctx, &mosaic.User{ID: u.ID, Name: "X", Email: unique("x") + "@e.test"})
		if err == nil {
			t.Fatal("a second user with the same id was inserted")
		}
	})

	t.Run("not found", func(t *testing.T) {
		_, err := s.FindUser(ctx, mosaic.NewID())
		wantErr(t, err, mosaic.KindNotFound, "user_not_found")
	})

	t.Run("list in id order", func(t *testing.T) {
		b := newUser(t, s)
		users, err := s.ListUsers(ctx)
		must(t, err)
		ids := make([]string, len(users))
		for i, x := range users {
			ids[i] = x.ID
		}
		if !slices.IsSorted(ids) || !slices.Contains(ids, u.ID) || !slices.Contains(ids, b.ID) {
			t.Fatalf("ListUsers ids %v: want sorted, with %s and %s", ids, u.ID, b.ID)
		}
	})
}

func testTeams(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	alice, bob, carol := newUser(t, s), newUser(t, s), newUser(t, s)

	team := &mosaic.Team{Name: "Ops", MemberIDs: []string{bob.ID, alice.ID, bob.ID}}
	must(t, s.CreateTeam(ctx, team))
	recent(t, "CreatedAt", team.CreatedAt)
	wantMembers(t, s, team.ID, sorted(alice.ID, bob.ID))

	t.Run("unknown member inserts nothing", func(t *testing.T) {
		bad := &mosaic.Team{Name: "Bad", MemberIDs: []string{alice.ID, mosaic.NewID()}}
		wantErr(t, s.CreateTeam(ctx, bad), mosaic.KindNotFound, "user_not_found")
		if findTeam(t, s, bad.ID) != nil {
			t.Fatal("team with an unknown member was inserted")
		}
	})

	t.Run("add member", func(t *testing.T) {
		// Membership changes what readers of the team see: it counts as
		// an update.
		time.Sleep(5 * time.Millisecond)
		must(t, s.AddTeamMember(ctx, team.ID, carol.ID))
		must(t, s.AddTeamMember(ctx, team.ID, carol.ID))
		wantMembers(t, s, team.ID, sorted(alice.ID, bob.ID, carol.ID))
		if tm := findTeam(t, s, team.ID); !tm.UpdatedAt.After(team.UpdatedAt) {
			t.Fatalf("UpdatedAt %v not after %v", tm.UpdatedAt, team.UpdatedAt)
		}
	})

	t.Run("add member errors", func(t *testing.T) {
		tests := []struct {
			name, teamID, userID, code string
		}{
			{"unknown team", mosaic.NewID(), alice.ID, "team_not_found"},
			{"unknown user", team.ID, mosaic.NewID(), "user_not_found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.AddTeamMember(ctx, tt.teamID, tt.userID)
				wantErr(t, err, mosaic.KindNotFound, tt.code)
			})
		}
		wantMembers(t, s, team.ID, sorted(alice.ID, bob.ID, carol.ID))
	})

	t.Run("empty team", func(t *testing.T) {
		empty := &mosaic.Team{Name: "Empty"}
		must(t, s.CreateTeam(ctx, empty))
		wantMembers(t, s, empty.ID, []string{})
	})
}

// findTeam returns the team with that id from ListTeams, or nil.
func findTeam(t *testing.T, s mosaic.Store, id string) *mosaic.Team {
	t.Helper()
	teams, err := s.ListTeams(t.Context())
	must(t, err)
	for i, tm := range teams {
		if i > 0 && teams[i-1].ID >= tm.ID {
			t.Fatalf("ListTeams not in id order: %s then %s", teams[i-1].ID, tm.ID)
		}
		if tm.ID == id {
			return tm
		}
	}
	return nil
}

// wantMembers fails the test unless the team lists exactly those members.
func wantMembers(t *testing.T, s mosaic.Store, teamID string, want []string) {
	t.Helper()
	tm := findTeam(t, s, teamID)
	if tm == nil {
		t.Fatalf("team %s not listed", teamID)
	}
	if tm.MemberIDs == nil || !slices.Equal(tm.MemberIDs, want) {
		t.Fatalf("team members %v, want %v", tm.MemberIDs, want)
	}
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// testConcurrentWritesSomeRefused creates users and tasks from many
// callers at once, some refused (a taken email, an unknown owner): the
// refused ones fail alone with their own error, and every other write is
// there, as it would be had each run on its own.
func testConcurrentWritesSomeRefused(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	owner := newUser(t, s)
	const n = 60
	errs := make([]error, n)
	users := make([]*mosaic.User, n)
	tasks := make([]*mosaic.Task, n)
	var wg sync.WaitGroup
	for i := range n {
		switch i % 3 {
		case 0: // refused: the owner's email is taken
			users[i] = &mosaic.User{Name: "Dup", Email: owner.Email}
			wg.Go(func() { errs[i] = s.CreateUser(ctx, users[i]) })
		case 1:
			users[i] = &mosaic.User{Name: "New", Email: unique("new") + "@example.test"}
			wg.Go(func() { errs[i] = s.CreateUser(ctx, users[i]) })
		default: // every fourth task refused: its owner does not exist
			userID := owner.ID
			if i%4 == 0 {
				userID = mosaic.NewID()
			}
			tasks[i] = &mosaic.Task{UserID: userID, Title: unique("task")}
			wg.Go(func() { errs[i] = s.CreateTask(ctx, tasks[i]) })
		}
	}
	wg.Wait()

	var wantTasks []string
	for i := range n {
		switch {
		case i%3 == 0:
			wantErr(t, errs[i], mosaic.KindConflict, "email_taken")
		case i%3 == 1:
			must(t, errs[i])
			got, err := s.FindUser(ctx, users[i].ID)
			must(t, err)
			if got.Email != users[i].Email {
				t.Fatalf("user %d: stored %+v", i, got)
			}
		case i%4 == 0:
			wantErr(t, errs[i], mosaic.KindNotFound, "user_not_found")
		default:
			must(t, errs[i])
			wantTasks = append(wantTasks, tasks[i].ID)
		}
	}
	q := mosaic.PageQuery{Resource: mosaic.ResourceTasks, UserID: owner.ID}
	wantIDs(t, pageAll(t, s, q, 100), wantTasks)
	concurrentGrantsSomeRefused(t, s, owner)
}

// concurrentGrantsSomeRefused creates grants with new peers from many
// callers at once, every other one with the id of a grant that exists: a
// refused grant leaves no peer behind, though its peer was inserted
// before the grant in its transaction.
func concurrentGrantsSomeRefused(t *testing.T, s mosaic.Store, owner *mosaic.User) {
	ctx := t.Context()
	taken := &mosaic.Grant{UserID: owner.ID, Scope: testScope()}
	must(t, s.CreateGrant(ctx, taken, &mosaic.Peer{CommonName: unique("cn"), DisplayName: "x"}))
	const n = 30
	names := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		names[i] = unique("peer")
		g := &mosaic.Grant{UserID: owner.ID, Scope: testScope()}
		if i%2 == 0 {
			g.ID = taken.ID
		}
		p := &mosaic.Peer{CommonName: names[i], DisplayName: names[i]}
		wg.Go(func() { errs[i] = s.CreateGrant(ctx, g, p) })
	}
	wg.Wait()
	peers, err := s.ListPeers(ctx, mosaic.PeerFilter{})
	must(t, err)
	stored := map[string]bool{}
	for _, p := range peers {
		stored[p.CommonName] = true
	}
	for i := range n {
		if i%2 == 0 {
			wantErr(t, errs[i], mosaic.KindConflict, "grant_exists")
		} else {
			must(t, errs[i])
		}
		if stored[names[i]] != (i%2 == 1) {
			t.Fatalf("grant %d (error %v): its peer stored = %v", i, errs[i], stored[names[i]])
		}
	}
}
