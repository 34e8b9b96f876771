package sqlstore

import (
	"context"
	"database/sql"
	"math"

	"github.com/mosaicgw/mosaic"
)

// ownerMissing is the violation of a resource row's foreign key to its
// owner, the only foreign key those tables have.
func ownerMissing() *violations {
	return &violations{foreignKey: errUserNotFound()}
}

// CreateTask inserts t, owned by an existing user (else KindNotFound
// "user_not_found"). An empty status means open.
func (db *DB) CreateTask(ctx context.Context, t *mosaic.Task) error {
	t.ID = orNewID(t.ID)
	if t.Status == "" {
		t.Status = mosaic.TaskOpen
	}
	created, updated := stamps(t.CreatedAt, t.UpdatedAt)
	err := db.writeOne(ctx, "create task", func(r runner) error {
		return r.queryRow(ctx, sqlInsertTask,
			t.ID, t.UserID, t.Title, t.Status, created, updated,
		).Scan(msTime{&t.CreatedAt}, msTime{&t.UpdatedAt})
	})
	return db.fail("create task", err, ownerMissing())
}

// CreateNote inserts n, owned by an existing user (else KindNotFound
// "user_not_found").
func (db *DB) CreateNote(ctx context.Context, n *mosaic.Note) error {
	n.ID = orNewID(n.ID)
	created, updated := stamps(n.CreatedAt, n.UpdatedAt)
	err := db.writeOne(ctx, "create note", func(r runner) error {
		return r.queryRow(ctx, sqlInsertNote,
			n.ID, n.UserID, n.Title, n.Body, created, updated,
		).Scan(msTime{&n.CreatedAt}, msTime{&n.UpdatedAt})
	})
	return db.fail("create note", err, ownerMissing())
}

// CreateCredential inserts c, owned by an existing user (else KindNotFound
// "user_not_found"). SealedSecret is stored exactly as given and must not
// be nil: the store never sees the secret in the clear.
func (db *DB) CreateCredential(ctx context.Context, c *mosaic.Credential) error {
	if c.SealedSecret == nil {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_secret", "secret: required")
	}
	c.ID = orNewID(c.ID)
	created, updated := stamps(c.CreatedAt, c.UpdatedAt)
	err := db.writeOne(ctx, "create credential", func(r runner) error {
		return r.queryRow(ctx, sqlInsertCredential,
			c.ID, c.UserID, c.Name, c.Kind, created, updated, c.SealedSecret,
		).Scan(msTime{&c.CreatedAt}, msTime{&c.UpdatedAt})
	})
	return db.fail("create credential", err, ownerMissing())
}

// pageReader is how one resource is paged: the statements for all rows
// and for one user's view, and how its rows are read.
type pageReader struct {
	all, of string
	// ofArgs is how many times the of statement takes the user id.
	ofArgs int
	read   func(rows *sql.Rows) ([]any, error)
}

var pageReaders = map[mosaic.Resource]pageReader{
	mosaic.ResourceTasks:       {sqlTaskPageAll, sqlTaskPageOf, 1, readAll(scanTask)},
	mosaic.ResourceNotes:       {sqlNotePageAll, sqlNotePageOf, 1, readAll(scanNote)},
	mosaic.ResourceCredentials: {sqlCredPageAll, sqlCredPageOf, 1, readAll(scanCredential)},
	mosaic.ResourceUsers:       {sqlUserPageAll, sqlUserPageOf, 2, readAll(scanUser)},
	mosaic.ResourceTeams:       {sqlTeamPageAll, sqlTeamPageOf, 1, readTeams},
}

// ReadPage returns one page of a resource as q.UserID sees it, in id order:
// the tasks, notes and credentials they own, the teams they belong to and
// the users who share a team with them (themselves included). An empty
// UserID reads every row. Credentials carry metadata only. A page holds at
// most mosaic.MaxRowsPerQuery rows. Pages come from a cache while the data
// has not changed since they were read (see pageCache): the values their
// items point to are shared and must not be changed. An unknown resource
// is KindNotFound "unknown_resource"; a limit below 1 is KindInvalid.
func (db *DB) ReadPage(ctx context.Context, q mosaic.PageQuery) (*mosaic.Page, error) {
	pr, ok := pageReaders[q.Resource]
	if !ok {
		return nil, mosaic.Errorf(mosaic.KindNotFound, "unknown_resource", "unknown resource %q",
			q.Resource)
	}
	if q.Limit < 1 {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_limit", "limit: must be at least 1")
	}
	size := min(q.Limit, mosaic.MaxRowsPerQuery)
	since := int64(math.MinInt64)
	if q.Since != nil {
		since = q.Since.UnixMilli()
	}

	// A page cached at the current data version is the page.
	version, err := db.dataVersion(ctx)
	if err != nil {
		return nil, err
	}
	key := pageKey(q, size)
	if page := db.pages.get(key, version); page != nil {
		return page, nil
	}

	// Ask for one row more than the page holds: its presence says there is
	// a next page.
	stmt, args := pr.all, []any{q.After, since, size + 1}
	if q.UserID != "" {
		stmt, args = pr.of, []any{}
		for range pr.ofArgs {
			args = append(args, q.UserID)
		}
		args = append(args, q.After, since, size+1)
	}
	rows, err := db.read().query(ctx, stmt, args...)
	if err != nil {
		return nil, db.fail("read page", err, nil)
	}
	items, err := pr.read(rows)
	if err != nil {
		return nil, db.fail("read page", err, nil)
	}

	page := &mosaic.Page{Items: items}
	if len(items) > size {
		page.Items = items[:size]
		page.Next = itemID(items[size-1])
	}
	db.pages.put(key, version, page)
	return page, nil
}

// readAll adapts a row scanner to a pageReader.
func readAll[T any](scan func(scanner) (T, error)) func(*sql.Rows) ([]any, error) {
	return func(rows *sql.Rows) ([]any, error) {
		vs, err := collect(rows, scan)
		if err != nil {
			return nil, err
		}
		items := make([]any, len(vs))
		for i, v := range vs {
			items[i] = v
		}
		return items, nil
	}
}

// readTeams reads team rows (see teamRowsHead) into teams with members.
func readTeams(rows *sql.Rows) ([]any, error) {
	teams, err := collectTeams(rows)
	if err != nil {
		return nil, err
	}
	items := make([]any, len(teams))
	for i, t := range teams {
		items[i] = t
	}
	return items, nil
}

// itemID returns the id of a page item.
func itemID(item any) string {
	switch v := item.(type) {
	case *mosaic.Task:
		return v.ID
	case *mosaic.Note:
		return v.ID
	case *mosaic.Credential:
		return v.ID
	case *mosaic.User:
		return v.ID
	case *mosaic.Team:
		return v.ID
	}
	return ""
}

func scanTask(s scanner) (*mosaic.Task, error) {
	var t mosaic.Task
	err := s.Scan(&t.ID, &t.UserID, &t.Title, &t.Status, msTime{&t.CreatedAt}, msTime{&t.UpdatedAt})
	return &t, err
}

func scanNote(s scanner) (*mosaic.Note, error) {
	var n mosaic.Note
	err := s.Scan(&n.ID, &n.UserID, &n.Title, &n.Body, msTime{&n.CreatedAt}, msTime{&n.UpdatedAt})
	return &n, err
}

// scanCredential reads credential metadata; SealedSecret stays nil.
func scanCredential(s scanner) (*mosaic.Credential, error) {
	var c mosaic.Credential
	err := s.Scan(&c.ID, &c.UserID, &c.Name, &c.Kind, msTime{&c.CreatedAt}, msTime{&c.UpdatedAt})
	return &c, err
}
