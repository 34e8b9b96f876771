package sqlstore

import (
	"context"
	"errors"

	"github.com/mosaicgw/mosaic"
)

var _ mosaic.SealedStore = (*DB)(nil)

// sealedStatements are the statements over one table's sealed column.
type sealedStatements struct {
	list, get, replace, count string
}

// sealedTables maps each table of mosaic.SealedTables to its statements.
var sealedTables = map[mosaic.SealedTable]sealedStatements{
	mosaic.SealedKeys: {sqlListSealedKeys, sqlGetSealedKey, sqlReplaceSealedKey,
		sqlCountSealedKeys},
	mosaic.SealedPeerKeys: {sqlListSealedPeers, sqlGetSealedPeer, sqlReplaceSealedPeer,
		sqlCountSealedPeers},
	mosaic.SealedCredentials: {sqlListSealedCredentials, sqlGetSealedCredential,
		sqlReplaceSealedCredential, sqlCountSealedCredentials},
}

// statementsOf returns the statements of table, or KindInvalid
// "unknown_sealed_table".
func statementsOf(table mosaic.SealedTable) (sealedStatements, error) {
	st, ok := sealedTables[table]
	if !ok {
		return st, mosaic.Errorf(mosaic.KindInvalid, "unknown_sealed_table",
			"table %q keeps no sealed values", string(table))
	}
	return st, nil
}

// ListSealed returns up to limit sealed values of table after afterID, in
// id order (key name order for keys). limit must be 1 to
// mosaic.MaxListLimit.
func (db *DB) ListSealed(ctx context.Context, table mosaic.SealedTable, afterID string,
	limit int) ([]mosaic.SealedValue, error) {
	st, err := statementsOf(table)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > mosaic.MaxListLimit {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_limit",
			"limit: must be 1 to %d", mosaic.MaxListLimit)
	}
	rows, err := db.read().query(ctx, st.list, afterID, limit)
	if err != nil {
		return nil, db.fail("list sealed "+string(table), err, nil)
	}
	defer rows.Close()
	var out []mosaic.SealedValue
	for rows.Next() {
		v := mosaic.SealedValue{Ref: mosaic.SealedRef{Table: table}}
		if err := rows.Scan(&v.Ref.ID, &v.Sealed); err != nil {
			return nil, db.fail("list sealed "+string(table), err, nil)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail("list sealed "+string(table), err, nil)
	}
	return out, nil
}

// GetSealed returns the sealed value of one row, or KindNotFound
// "sealed_value_not_found".
func (db *DB) GetSealed(ctx context.Context, ref mosaic.SealedRef) ([]byte, error) {
	st, err := statementsOf(ref.Table)
	if err != nil {
		return nil, err
	}
	var sealed []byte
	if err := db.read().queryRow(ctx, st.get, ref.ID).Scan(&sealed); err != nil {
		return nil, db.notFound("get sealed "+string(ref.Table), err, func() *mosaic.Error {
			return mosaic.Errorf(mosaic.KindNotFound, "sealed_value_not_found",
				"no sealed value at %s", ref)
		})
	}
	return sealed, nil
}

// ReplaceSealed stores sealed in place of old, only if the row still holds
// exactly old, and reports whether it did.
func (db *DB) ReplaceSealed(ctx context.Context, ref mosaic.SealedRef, old,
	sealed []byte) (bool, error) {
	st, err := statementsOf(ref.Table)
	if err != nil {
		return false, err
	}
	if len(old) == 0 || len(sealed) == 0 {
		return false, errors.New("sqlstore: replace sealed: empty value")
	}
	res, err := db.execOne(ctx, "replace sealed", st.replace, sealed, ref.ID, old)
	if err != nil {
		return false, db.fail("replace sealed "+string(ref.Table), err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, db.fail("replace sealed "+string(ref.Table), err, nil)
	}
	return n == 1, nil
}

// CountSealed counts the sealed values of table by their first n bytes, in
// prefix order. n must be 1 to 64.
func (db *DB) CountSealed(ctx context.Context, table mosaic.SealedTable,
	n int) ([]mosaic.SealedPrefixCount, error) {
	st, err := statementsOf(table)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > 64 {
		return nil, errors.New("sqlstore: count sealed: prefix length must be 1 to 64")
	}
	rows, err := db.read().query(ctx, st.count, n)
	if err != nil {
		return nil, db.fail("count sealed "+string(table), err, nil)
	}
	defer rows.Close()
	var out []mosaic.SealedPrefixCount
	for rows.Next() {
		c := mosaic.SealedPrefixCount{Table: table}
		if err := rows.Scan(&c.Prefix, &c.Count); err != nil {
			return nil, db.fail("count sealed "+string(table), err, nil)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail("count sealed "+string(table), err, nil)
	}
	return out, nil
}

// InsertSetting creates a setting unless one of that name exists, and
// reports whether it did.
func (db *DB) InsertSetting(ctx context.Context, name, value string) (bool, error) {
	res, err := db.execOne(ctx, "insert setting", sqlInsertSetting, name, value)
	if err != nil {
		return false, db.fail("insert setting", err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, db.fail("insert setting", err, nil)
	}
	return n == 1, nil
}

// ReplaceSetting sets a setting to value only if it holds old now, and
// reports whether it did.
func (db *DB) ReplaceSetting(ctx context.Context, name, old, value string) (bool, error) {
	res, err := db.execOne(ctx, "replace setting", sqlReplaceSetting, value, name, old)
	if err != nil {
		return false, db.fail("replace setting", err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, db.fail("replace setting", err, nil)
	}
	return n == 1, nil
}
