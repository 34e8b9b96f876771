package mosaic

import "context"

// SealedTable names a table that keeps sealed values, one column of it.
type SealedTable string

// The tables that keep sealed values.
const (
	// SealedKeys is keys.sealed_key: the private keys of the embedded CA
	// and of the TLS server certificate, by key name.
	SealedKeys SealedTable = "keys"
	// SealedPeerKeys is peers.sealed_key: our private key for each outbound
	// peer (inbound peers have none).
	SealedPeerKeys SealedTable = "peers"
	// SealedCredentials is credentials.sealed_secret: the secret value of
	// each credential.
	SealedCredentials SealedTable = "credentials"
)

// SealedTables returns every table that keeps sealed values, in the order a
// rotation walks them.
func SealedTables() []SealedTable {
	return []SealedTable{SealedKeys, SealedPeerKeys, SealedCredentials}
}

// SealedRef names one sealed value: its table and its row, a key's name in
// SealedKeys and the row id elsewhere.
type SealedRef struct {
	Table SealedTable
	ID    string
}

// String returns "table/id", for messages and logs.
func (r SealedRef) String() string { return string(r.Table) + "/" + r.ID }

// AAD returns the additional data the value is sealed with, which binds it
// to its row: opening it under another row's AAD fails. Every sealer of a
// value and every rotation use it.
func (r SealedRef) AAD() []byte {
	switch r.Table {
	case SealedKeys:
		return []byte("mosaic/key/" + r.ID)
	case SealedPeerKeys:
		return []byte("mosaic/peer-key/" + r.ID)
	case SealedCredentials:
		return []byte("mosaic/credential/" + r.ID)
	}
	return []byte("mosaic/unknown/" + string(r.Table) + "/" + r.ID)
}

// SealedValue is one sealed value as stored.
type SealedValue struct {
	Ref    SealedRef
	Sealed []byte
}

// SealedPrefixCount is how many values of a table begin with Prefix.
type SealedPrefixCount struct {
	Table  SealedTable
	Prefix []byte
	Count  int64
}

// SealedStore finds and rewrites the sealed values of every table, and
// keeps the registry of sealing keys in a setting, for rotating the sealing
// secret. A table other than those of SealedTables is KindInvalid
// "unknown_sealed_table".
type SealedStore interface {
	// ListSealed returns up to limit values of table whose row id (key
	// name) sorts after afterID, in id order; an empty afterID starts at
	// the beginning. Rows without a sealed value are left out.
	ListSealed(ctx context.Context, table SealedTable, afterID string,
		limit int) ([]SealedValue, error)
	// GetSealed returns the sealed value of one row, or KindNotFound
	// "sealed_value_not_found" when the row is gone or holds none.
	GetSealed(ctx context.Context, ref SealedRef) ([]byte, error)
	// ReplaceSealed stores sealed in place of old with one conditional
	// update: only if the row still holds exactly old. It reports whether
	// it replaced it; false means the row changed or is gone, and nothing
	// was written.
	ReplaceSealed(ctx context.Context, ref SealedRef, old, sealed []byte) (bool, error)
	// CountSealed counts the values of table by their first n bytes.
	CountSealed(ctx context.Context, table SealedTable, n int) ([]SealedPrefixCount, error)

	// GetSetting returns a setting's value, or KindNotFound.
	GetSetting(ctx context.Context, name string) (string, error)
	// InsertSetting creates a setting unless it exists, and reports
	// whether it did.
	InsertSetting(ctx context.Context, name, value string) (bool, error)
	// ReplaceSetting sets a setting to value only if it holds old now, and
	// reports whether it did.
	ReplaceSetting(ctx context.Context, name, old, value string) (bool, error)
}
