package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mosaicgw/mosaic"
)

// PutKeyIfAbsent inserts k unless a key of that name exists, and reports
// whether it was inserted. SealedKey is stored exactly as given. Either way
// the caller should read the key back with GetKey, so that concurrent
// starters agree on one key.
func (db *DB) PutKeyIfAbsent(ctx context.Context, k *mosaic.StoredKey) (bool, error) {
	if k.SealedKey == nil {
		return false, errors.New("sqlstore: put key: nil sealed key")
	}
	var created int64
	err := db.writeOne(ctx, "put key", func(r runner) error {
		return r.queryRow(ctx, sqlPutKeyIfAbsent,
			k.Name, k.CertPEM, k.SealedKey, millis(k.CreatedAt)).Scan(&created)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, db.fail("put key", err, nil)
	}
	k.CreatedAt = fromMillis(created)
	return true, nil
}

// GetKey returns the key with that name, or KindNotFound "key_not_found".
func (db *DB) GetKey(ctx context.Context, name string) (*mosaic.StoredKey, error) {
	var k mosaic.StoredKey
	err := db.read().queryRow(ctx, sqlGetKey, name).
		Scan(&k.Name, &k.CertPEM, &k.SealedKey, msTime{&k.CreatedAt})
	if err != nil {
		return nil, db.notFound("get key", err, func() *mosaic.Error {
			return mosaic.Errorf(mosaic.KindNotFound, "key_not_found", "key not found")
		})
	}
	return &k, nil
}

// PutKey inserts or replaces a key. SealedKey is stored exactly as given.
func (db *DB) PutKey(ctx context.Context, k *mosaic.StoredKey) error {
	if k.SealedKey == nil {
		return errors.New("sqlstore: put key: nil sealed key")
	}
	var created int64
	err := db.writeOne(ctx, "put key", func(r runner) error {
		return r.queryRow(ctx, sqlPutKey,
			k.Name, k.CertPEM, k.SealedKey, millis(k.CreatedAt)).Scan(&created)
	})
	if err != nil {
		return db.fail("put key", err, nil)
	}
	k.CreatedAt = fromMillis(created)
	return nil
}

// GetSetting returns a setting's value, or KindNotFound
// "setting_not_found".
func (db *DB) GetSetting(ctx context.Context, name string) (string, error) {
	var value string
	if err := db.read().queryRow(ctx, sqlGetSetting, name).Scan(&value); err != nil {
		return "", db.notFound("get setting", err, func() *mosaic.Error {
			return mosaic.Errorf(mosaic.KindNotFound, "setting_not_found", "setting not found")
		})
	}
	return value, nil
}

// PutSetting inserts or replaces a setting.
func (db *DB) PutSetting(ctx context.Context, name, value string) error {
	_, err := db.execOne(ctx, "put setting", sqlPutSetting, name, value)
	return db.fail("put setting", err, nil)
}
