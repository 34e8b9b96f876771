package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mosaicgw/mosaic"
)

// versions are the access and data versions, read together: the versions
// the grant access and page caches must still be at (see accessCache and
// pageCache).
type versions struct {
	access, data versionStamp
}

// versionsKey keeps a store's versions in a read scope.
type versionsKey struct{ db *DB }

// accessVersion reads the access version (see versions).
func (db *DB) accessVersion(ctx context.Context) (versionStamp, error) {
	v, err := db.versions(ctx)
	return v.access, err
}

// dataVersion reads the data version (see versions).
func (db *DB) dataVersion(ctx context.Context) (versionStamp, error) {
	v, err := db.versions(ctx)
	return v.data, err
}

// versions reads both versions, once per read scope (see
// mosaic.WithReadScope): a federated read checks both caches, and reads
// them before either.
func (db *DB) versions(ctx context.Context) (versions, error) {
	return mosaic.ScopedOnce(ctx, versionsKey{db}, func() (versions, error) {
		if db.d.shareVersionReads {
			return db.sharedVersions(ctx, sharedVersionsWait, db.readVersions)
		}
		return db.readVersions(ctx)
	})
}

// versionsRead is one caller's wait for the versions, and what it got.
type versionsRead struct {
	v    versions
	err  error
	done bool
}

func (r *versionsRead) fail(err error) {
	if !r.done {
		r.err, r.done = err, true
	}
}

// maxVersionsShared bounds the callers one query of the versions answers.
const maxVersionsShared = 256

// sharedVersionsWait bounds a shared query of the versions. It answers
// several callers, so no one caller's context can end it: a server that
// takes this long to answer it is as good as unavailable.
const sharedVersionsWait = 10 * time.Second

// sharedVersions reads both versions with one query for every caller that
// asked while the previous query ran. A caller never takes the answer of
// a query sent before it asked, which could predate a change committed
// before it asked: it waits for the next query instead, which it may run
// itself. So each caller sees at least what it would have seen alone,
// and a burst of requests costs the server one query per round trip,
// not one each.
//
// A caller whose ctx ends returns at once, whether its query was sent or
// not; the query goes on for the others. read reads the versions; a query
// that runs past wait fails as the database being unavailable.
func (db *DB) sharedVersions(ctx context.Context, wait time.Duration,
	read func(context.Context) (versions, error)) (versions, error) {
	me := &versionsRead{}
	answered := make(chan error, 1)
	go func() {
		answered <- db.versionReads.do(ctx, time.Time{}, me, maxVersionsShared,
			func(batch []*versionsRead) { readShared(ctx, wait, read, batch) })
	}()
	var err error
	select {
	case err = <-answered:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return versions{}, db.fail("read versions", err, nil)
	}
	return me.v, me.err
}

// readShared runs one query of the versions for batch.
func readShared(ctx context.Context, wait time.Duration,
	read func(context.Context) (versions, error), batch []*versionsRead) {
	// The query answers every caller of the batch: the one running it
	// giving up must not fail the others.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	defer cancel()
	v, err := read(qctx)
	if err != nil && qctx.Err() != nil {
		err = errUnavailableDB(fmt.Errorf("sqlstore: read versions: no answer in %v", wait))
	}
	for _, r := range batch {
		if err != nil {
			r.fail(err)
			continue
		}
		r.v, r.done = v, true
	}
}

// readVersions reads both versions in one statement.
func (db *DB) readVersions(ctx context.Context) (versions, error) {
	var v versions
	err := db.read().queryRow(ctx, sqlVersions).Scan(&v.access.n, &v.access.stamp,
		&v.data.n, &v.data.stamp)
	if err != nil {
		return versions{}, db.fail("read versions", err, nil)
	}
	return v, nil
}
