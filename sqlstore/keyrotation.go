package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mosaicgw/mosaic"
)

// ListKeysWithPrefix returns the keys whose name starts with prefix, in
// byte order of their names (whatever the database's collation). The
// prefix is compared as text, with no pattern characters.
func (db *DB) ListKeysWithPrefix(ctx context.Context, prefix string) ([]*mosaic.StoredKey, error) {
	if prefix == "" {
		return nil, errors.New("sqlstore: list keys: empty prefix")
	}
	rows, err := db.read().query(ctx, sqlListKeysWithPrefix, utf8.RuneCountInString(prefix), prefix)
	if err != nil {
		return nil, db.fail("list keys", err, nil)
	}
	keys, err := collect(rows, func(s scanner) (*mosaic.StoredKey, error) {
		var k mosaic.StoredKey
		return &k, s.Scan(&k.Name, &k.CertPEM, &k.SealedKey, msTime{&k.CreatedAt})
	})
	if err != nil {
		return nil, db.fail("list keys", err, nil)
	}
	slices.SortFunc(keys, func(a, b *mosaic.StoredKey) int { return strings.Compare(a.Name, b.Name) })
	return keys, nil
}

// RotateKey does one step of a rotation of named keys in one transaction:
// the setting is moved from r.From ("" for a setting that does not exist
// yet) to r.To first, by a conditional statement that holds the setting's
// row to the end, so that of concurrent rotations from one value exactly
// one succeeds; then the keys of r.Drop are deleted and r.New is inserted.
// A setting that no longer holds r.From is KindConflict
// "setting_changed", a new key whose name is in use KindConflict
// "key_exists"; then nothing is written.
func (db *DB) RotateKey(ctx context.Context, r mosaic.KeyRotation) error {
	k := r.New
	if k == nil || k.SealedKey == nil || r.Setting == "" || r.To == "" {
		return errors.New("sqlstore: rotate key: no key, sealed key, setting or value")
	}
	var created int64
	err := db.inTx(ctx, "rotate key", func(run runner) error {
		if err := db.swapSetting(ctx, run, r.Setting, r.From, r.To); err != nil {
			return err
		}
		for _, name := range r.Drop {
			if _, err := run.exec(ctx, sqlDeleteKey, name); err != nil {
				return db.fail("rotate key: delete", err, nil)
			}
		}
		err := run.queryRow(ctx, sqlInsertKey, k.Name, k.CertPEM, k.SealedKey,
			millis(k.CreatedAt)).Scan(&created)
		return db.fail("rotate key: insert", err, &violations{
			unique: mosaic.Errorf(mosaic.KindConflict, "key_exists", "a key of that name exists"),
		})
	})
	if err != nil {
		return err
	}
	k.CreatedAt = fromMillis(created)
	return nil
}

// swapSetting moves a setting from one value ("": none yet) to another,
// or fails with KindConflict "setting_changed".
func (db *DB) swapSetting(ctx context.Context, run runner, name, from, to string) error {
	var n int64
	var err error
	if from == "" {
		n, err = rowsAffected(run.exec(ctx, sqlCreateSetting, name, to))
	} else {
		n, err = rowsAffected(run.exec(ctx, sqlSwapSetting, to, name, from))
	}
	if err != nil {
		return db.fail("rotate key: swap setting", err, nil)
	}
	if n != 1 {
		return mosaic.Errorf(mosaic.KindConflict, "setting_changed", "the setting changed meanwhile")
	}
	return nil
}
