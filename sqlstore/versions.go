package sqlstore

import (
	"context"

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
		return db.readVersions(ctx)
	})
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
