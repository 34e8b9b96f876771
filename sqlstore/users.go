package sqlstore

import (
	"context"
	"database/sql"
	"slices"

	"github.com/mosaicgw/mosaic"
)

// CreateUser inserts u, giving it a new id when it has none and the
// database's time when CreatedAt is zero. A duplicate email is KindConflict
// "email_taken".
//
// TODO(errors): a caller-chosen id that is already taken is reported as
// "email_taken" too: the dialects classify unique violations without the
// constraint's name. Ids the store generates never collide.
func (db *DB) CreateUser(ctx context.Context, u *mosaic.User) error {
	u.ID = orNewID(u.ID)
	created, updated := stamps(u.CreatedAt, u.UpdatedAt)
	err := db.writeOne(ctx, "create user", func(r runner) error {
		return r.queryRow(ctx, sqlInsertUser,
			u.ID, u.Name, u.Email, u.EmailVerified, created, updated,
		).Scan(msTime{&u.CreatedAt}, msTime{&u.UpdatedAt})
	})
	return db.fail("create user", err, &violations{
		unique: mosaic.Errorf(mosaic.KindConflict, "email_taken", "email is already in use"),
	})
}

// FindUser returns the user with that id, or KindNotFound "user_not_found".
func (db *DB) FindUser(ctx context.Context, id string) (*mosaic.User, error) {
	u, err := scanUser(db.read().queryRow(ctx, sqlFindUser, id))
	if err != nil {
		return nil, db.notFound("find user", err, errUserNotFound)
	}
	return u, nil
}

// ListUsers returns every user in id order.
func (db *DB) ListUsers(ctx context.Context) ([]*mosaic.User, error) {
	rows, err := db.read().query(ctx, sqlListUsers)
	if err != nil {
		return nil, db.fail("list users", err, nil)
	}
	users, err := collect(rows, scanUser)
	return users, db.fail("list users", err, nil)
}

func scanUser(s scanner) (*mosaic.User, error) {
	var u mosaic.User
	err := s.Scan(&u.ID, &u.Name, &u.Email, &u.EmailVerified,
		msTime{&u.CreatedAt}, msTime{&u.UpdatedAt})
	return &u, err
}

// CreateTeam inserts t and its members in one transaction. An unknown
// member is KindNotFound "user_not_found" and nothing is inserted; a member
// listed twice is added once. MemberIDs come back sorted.
func (db *DB) CreateTeam(ctx context.Context, t *mosaic.Team) error {
	t.ID = orNewID(t.ID)
	created, updated := stamps(t.CreatedAt, t.UpdatedAt)
	return db.inTx(ctx, "create team", func(r runner) error {
		err := r.queryRow(ctx, sqlInsertTeam, t.ID, t.Name, created, updated).
			Scan(msTime{&t.CreatedAt}, msTime{&t.UpdatedAt})
		if err != nil {
			return db.fail("create team", err, &violations{
				unique: mosaic.Errorf(mosaic.KindConflict, "team_exists", "team already exists"),
			})
		}
		for _, userID := range t.MemberIDs {
			if _, err := db.addMember(ctx, r, t.ID, userID); err != nil {
				return err
			}
		}
		t.MemberIDs = sortedUnique(t.MemberIDs)
		return nil
	})
}

// AddTeamMember adds a user to a team. An unknown team is KindNotFound
// "team_not_found", an unknown user "user_not_found"; adding an existing
// member changes nothing.
func (db *DB) AddTeamMember(ctx context.Context, teamID, userID string) error {
	return db.inTx(ctx, "add team member", func(r runner) error {
		if err := db.exists(ctx, r, sqlTeamExists, teamID, errTeamNotFound); err != nil {
			return err
		}
		added, err := db.addMember(ctx, r, teamID, userID)
		if err != nil || !added {
			return err
		}
		// A new member changes what the team looks like to readers.
		_, err = r.exec(ctx, sqlTouchTeam, teamID)
		return db.fail("add team member", err, nil)
	})
}

// addMember inserts one membership of an existing team and reports whether
// it was new.
func (db *DB) addMember(ctx context.Context, r runner, teamID, userID string) (bool, error) {
	if err := db.exists(ctx, r, sqlUserExists, userID, errUserNotFound); err != nil {
		return false, err
	}
	n, err := rowsAffected(r.exec(ctx, sqlInsertTeamMember, teamID, userID))
	if err != nil {
		return false, db.fail("add team member", err, nil)
	}
	return n == 1, nil
}

// exists runs a "SELECT 1 … WHERE id = ?" statement and returns missing()
// when it finds no row.
func (db *DB) exists(ctx context.Context, r runner, stmt, id string,
	missing func() *mosaic.Error) error {
	var one int
	err := r.queryRow(ctx, stmt, id).Scan(&one)
	if err != nil {
		return db.notFound("check row", err, missing)
	}
	return nil
}

// ListTeams returns all teams in id order, with their members.
func (db *DB) ListTeams(ctx context.Context) ([]*mosaic.Team, error) {
	rows, err := db.read().query(ctx, sqlListTeams)
	if err != nil {
		return nil, db.fail("list teams", err, nil)
	}
	teams, err := collectTeams(rows)
	return teams, db.fail("list teams", err, nil)
}

// collectTeams reads team rows with one member each (see teamRowsHead)
// into teams with all their members, and closes rows.
func collectTeams(rows *sql.Rows) ([]*mosaic.Team, error) {
	defer rows.Close()
	teams := []*mosaic.Team{}
	for rows.Next() {
		var t mosaic.Team
		var member sql.NullString
		err := rows.Scan(&t.ID, &t.Name, msTime{&t.CreatedAt}, msTime{&t.UpdatedAt}, &member)
		if err != nil {
			return nil, err
		}
		if n := len(teams); n == 0 || teams[n-1].ID != t.ID {
			t.MemberIDs = []string{}
			teams = append(teams, &t)
		}
		if member.Valid {
			last := teams[len(teams)-1]
			last.MemberIDs = append(last.MemberIDs, member.String)
		}
	}
	return teams, rows.Err()
}

// collect reads every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// sortedUnique returns ids sorted, without repeats, never nil.
func sortedUnique(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
