package sqlstore

// Statements of peer removal and of the re-use of a removed inbound peer,
// written as those of queries.go are: ? marks a parameter and {{now}} the
// database clock in unix milliseconds.
const (
	// (at, at, reason, peer id): revokes every pending or active grant of
	// the peer not past its expiry (an expired grant stays expired).
	sqlRevokePeerGrants = `UPDATE grants SET status = 'revoked',
		revoked_at = COALESCE(?, {{now}}), updated_at = COALESCE(?, {{now}}), revoked_reason = ?
		WHERE peer_id = ? AND status IN ('pending', 'active')
			AND (expires_at IS NULL OR expires_at > {{now}})
		RETURNING ` + grantCols

	// (at, peer id): moves a peer that is not revoked yet to revoked. An
	// outbound peer's sealed key and certificates are wiped; serial,
	// fingerprint and notAfter stay as the record of what it held.
	sqlRemovePeer = `UPDATE peers SET state = 'revoked',
		sealed_key = CASE WHEN role = 'outbound' THEN NULL ELSE sealed_key END,
		cert_pem = CASE WHEN role = 'outbound' THEN '' ELSE cert_pem END,
		cert_chain_pem = CASE WHEN role = 'outbound' THEN '' ELSE cert_chain_pem END,
		updated_at = COALESCE(?, {{now}})
		WHERE id = ? AND state <> 'revoked'
		RETURNING id`

	// (at, peer id): takes the row lock of an inbound peer about to get a
	// grant, and moves a removed one back to pending without its old
	// certificate. Every SET expression reads the row as it was.
	sqlReusePeer = `UPDATE peers SET
		state = CASE WHEN state = 'revoked' THEN 'pending' ELSE state END,
		cert_pem = CASE WHEN state = 'revoked' THEN '' ELSE cert_pem END,
		cert_serial = CASE WHEN state = 'revoked' THEN '' ELSE cert_serial END,
		cert_fingerprint = CASE WHEN state = 'revoked' THEN '' ELSE cert_fingerprint END,
		cert_not_after = CASE WHEN state = 'revoked' THEN NULL ELSE cert_not_after END,
		updated_at = CASE WHEN state = 'revoked' THEN COALESCE(?, {{now}}) ELSE updated_at END
		WHERE id = ? AND role = 'inbound'`
)

// Statements of CA rotation: keys listed by name prefix, and a key
// inserted, others deleted, with a compare-and-swap of a setting.
const (
	// (prefix length in characters, prefix)
	sqlListKeysWithPrefix = `SELECT ` + keyCols + ` FROM keys WHERE substr(name, 1, ?) = ?`
	sqlInsertKey          = `INSERT INTO keys (` + keyCols + `)
		VALUES (?, ?, ?, COALESCE(?, {{now}})) RETURNING created_at`
	sqlDeleteKey = `DELETE FROM keys WHERE name = ?`

	// (name, value): creates a setting that does not exist yet.
	sqlCreateSetting = `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO NOTHING`
	// (value, name, old value)
	sqlSwapSetting = `UPDATE settings SET value = ? WHERE name = ? AND value = ?`
)

// Statement of re-enrollment: what a token was issued to replace.
const (
	// (hash)
	sqlTokenReplaces = `SELECT replaces_serial FROM enrollment_tokens WHERE hash = ?`
)
