package sqlstore

import "strings"

// Every statement of the store, written once for all dialects: ? marks a
// parameter and {{now}} the database's current time in unix milliseconds
// (see dialect.rebind). COALESCE(?, {{now}}) takes a time the caller gave,
// or the database clock when the caller passed nil.

// Users and teams.
const (
	userCols = `id, name, email, email_verified, created_at, updated_at`

	sqlInsertUser = `INSERT INTO users (` + userCols + `)
		VALUES (?, ?, ?, ?, COALESCE(?, {{now}}), COALESCE(?, {{now}}))
		RETURNING created_at, updated_at`
	sqlFindUser   = `SELECT ` + userCols + ` FROM users WHERE id = ?`
	sqlListUsers  = `SELECT ` + userCols + ` FROM users ORDER BY id`
	sqlUserExists = `SELECT 1 FROM users WHERE id = ?`

	sqlInsertTeam = `INSERT INTO teams (id, name, created_at, updated_at)
		VALUES (?, ?, COALESCE(?, {{now}}), COALESCE(?, {{now}}))
		RETURNING created_at, updated_at`
	sqlTeamExists       = `SELECT 1 FROM teams WHERE id = ?`
	sqlInsertTeamMember = `INSERT INTO team_members (team_id, user_id, created_at)
		VALUES (?, ?, {{now}}) ON CONFLICT (team_id, user_id) DO NOTHING`
	sqlTouchTeam = `UPDATE teams SET updated_at = {{now}} WHERE id = ?`

	// Teams with their members, one row per member (or one row with a NULL
	// member for an empty team), in team then member order.
	teamRowsHead = `SELECT t.id, t.name, t.created_at, t.updated_at, m.user_id FROM (`
	teamRowsTail = `) t LEFT JOIN team_members m ON m.team_id = t.id ORDER BY t.id, m.user_id`
	sqlListTeams = teamRowsHead + `SELECT id, name, created_at, updated_at FROM teams` +
		teamRowsTail
)

// Tasks, notes and credentials.
const (
	taskCols = `id, user_id, title, status, created_at, updated_at`
	noteCols = `id, user_id, title, body, created_at, updated_at`
	credCols = `id, user_id, name, kind, created_at, updated_at`

	sqlInsertTask = `INSERT INTO tasks (` + taskCols + `)
		VALUES (?, ?, ?, ?, COALESCE(?, {{now}}), COALESCE(?, {{now}}))
		RETURNING created_at, updated_at`
	sqlInsertNote = `INSERT INTO notes (` + noteCols + `)
		VALUES (?, ?, ?, ?, COALESCE(?, {{now}}), COALESCE(?, {{now}}))
		RETURNING created_at, updated_at`
	sqlInsertCredential = `INSERT INTO credentials (` + credCols + `, sealed_secret)
		VALUES (?, ?, ?, ?, COALESCE(?, {{now}}), COALESCE(?, {{now}}), ?)
		RETURNING created_at, updated_at`
)

// The statements of one job of a write batch (see runSavepoint).
const (
	savepointJob  = `SAVEPOINT job`
	releaseJob    = `RELEASE job`
	rollbackToJob = `ROLLBACK TO job`
)

// The access version (migration 7) and the data version (migration 6),
// which grant access and pages read from the caches must still be at.
const sqlVersions = `SELECT a.version, a.stamp, d.version, d.stamp
	FROM access_version a, data_version d WHERE a.id = 1 AND d.id = 1`

// Pages: keyset pagination by id. The "all" statements take (after, since,
// limit); the "of" statements take the user id(s) first. since is unix
// milliseconds, math.MinInt64 when the caller set none.
const (
	pageTail = ` id > ? AND updated_at >= ? ORDER BY id LIMIT ?`

	sqlTaskPageAll = `SELECT ` + taskCols + ` FROM tasks WHERE` + pageTail
	sqlTaskPageOf  = `SELECT ` + taskCols + ` FROM tasks WHERE user_id = ? AND` + pageTail
	sqlNotePageAll = `SELECT ` + noteCols + ` FROM notes WHERE` + pageTail
	sqlNotePageOf  = `SELECT ` + noteCols + ` FROM notes WHERE user_id = ? AND` + pageTail
	sqlCredPageAll = `SELECT ` + credCols + ` FROM credentials WHERE` + pageTail
	sqlCredPageOf  = `SELECT ` + credCols + ` FROM credentials WHERE user_id = ? AND` + pageTail

	sqlUserPageAll = `SELECT ` + userCols + ` FROM users WHERE` + pageTail
	// The user and everyone who shares a team with them: (user, user, …).
	sqlUserPageOf = `SELECT ` + userCols + ` FROM users WHERE (id = ? OR id IN (
		SELECT o.user_id FROM team_members s
		JOIN team_members o ON o.team_id = s.team_id WHERE s.user_id = ?)) AND` + pageTail

	sqlTeamPageAll = teamRowsHead + `SELECT id, name, created_at, updated_at FROM teams
		WHERE` + pageTail + teamRowsTail
	// Teams the user belongs to: (user, …).
	sqlTeamPageOf = teamRowsHead + `SELECT id, name, created_at, updated_at FROM teams
		WHERE id IN (SELECT team_id FROM team_members WHERE user_id = ?) AND` + pageTail +
		teamRowsTail
)

// Peers.
const (
	peerCols = `id, role, common_name, display_name, state, cert_pem, cert_serial,
		cert_fingerprint, cert_not_after, endpoint_url, cert_chain_pem, ca_pem, ca_pin,
		created_at, updated_at`

	sqlInsertPeer = `INSERT INTO peers (` + peerCols + `, sealed_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
			COALESCE(?, {{now}}), COALESCE(?, {{now}}), ?)
		RETURNING created_at, updated_at`
	sqlFindPeer = `SELECT ` + peerCols + `, ` + peerRenewCols +
		`, sealed_key FROM peers WHERE id = ?`
	sqlPeerRole     = `SELECT role FROM peers WHERE id = ?`
	sqlListPeers    = `SELECT ` + peerCols + `, ` + peerRenewCols + ` FROM peers`
	condPeerRole    = `role = ?`
	condPeerState   = `state = ?`
	sqlListPeersEnd = ` ORDER BY id`

	sqlActivateOutboundPeer = `UPDATE peers SET state = 'active', cert_pem = ?,
		cert_chain_pem = ?, cert_serial = ?, cert_fingerprint = ?, cert_not_after = ?,
		ca_pem = ?, renew_next_at = ?, updated_at = COALESCE(?, {{now}})
		WHERE id = ? AND role = 'outbound' AND state = 'pending'`
)

// Grants.
const (
	grantCols = `id, user_id, peer_id, scope, status, created_at, updated_at,
		activated_at, expires_at, revoked_at, revoked_reason`

	sqlInsertGrant = `INSERT INTO grants (id, user_id, peer_id, scope, status,
		created_at, updated_at, expires_at)
		VALUES (?, ?, ?, ?, 'pending', COALESCE(?, {{now}}), COALESCE(?, {{now}}), ?)
		RETURNING created_at, updated_at`
	sqlFindGrant       = `SELECT ` + grantCols + ` FROM grants WHERE id = ?`
	sqlGrantCertSerial = `SELECT cert_serial FROM grants WHERE id = ?`
	sqlListGrants      = `SELECT ` + grantCols + ` FROM grants`
	condGrantPeer      = `peer_id = ?`
	condGrantStatus    = `status = ?`
	sqlListGrantsEnd   = ` ORDER BY id LIMIT ?`

	// A pending or active grant past its expiry counts as expired, by the
	// database clock, until a sweep marks it so. condGrantLive takes the
	// status (pending or active); condGrantExpired takes nothing.
	condGrantLive    = `status = ? AND (expires_at IS NULL OR expires_at > {{now}})`
	condGrantExpired = `(status = 'expired' OR
		(status IN ('pending', 'active') AND expires_at <= {{now}}))`

	// (at, reason, at, id): only a pending or active grant not past its
	// expiry; an expired grant stays expired.
	sqlRevokeGrant = `UPDATE grants SET status = 'revoked', revoked_at = COALESCE(?, {{now}}),
		revoked_reason = ?, updated_at = COALESCE(?, {{now}})
		WHERE id = ? AND status IN ('pending', 'active')
			AND (expires_at IS NULL OR expires_at > {{now}})`

	// Marks every pending or active grant past its expiry, by the database
	// clock, as expired.
	sqlExpireGrants = `UPDATE grants SET status = 'expired', updated_at = {{now}}
		WHERE status IN ('pending', 'active')
			AND expires_at IS NOT NULL AND expires_at <= {{now}}`
)

// Enrollment tokens and activation.
const (
	tokenCols = `hash, grant_id, peer_id, created_at, expires_at, claim_id, claimed_at,
		used_at, issued_key_hash, issued_serial, replaces_serial`

	// (hash, ttl ms, grant id, peer id): only for a pending, unexpired grant
	// of that peer.
	sqlInsertToken = `INSERT INTO enrollment_tokens (hash, grant_id, peer_id, created_at,
		expires_at)
		SELECT ?, id, peer_id, {{now}}, {{now}} + ? FROM grants
		WHERE id = ? AND peer_id = ? AND status = 'pending'
			AND (expires_at IS NULL OR expires_at > {{now}})
		RETURNING created_at, expires_at`
	sqlFindToken = `SELECT ` + tokenCols + `,
		CASE WHEN expires_at <= {{now}} THEN 1 ELSE 0 END
		FROM enrollment_tokens WHERE hash = ?`
	// (claim id, hash, stale after ms)
	sqlClaimToken = `UPDATE enrollment_tokens SET claim_id = ?, claimed_at = {{now}}
		WHERE hash = ? AND used_at IS NULL AND expires_at > {{now}}
			AND (claim_id IS NULL OR claimed_at < {{now}} - ?)`
	sqlReleaseClaim = `UPDATE enrollment_tokens SET claim_id = NULL, claimed_at = NULL
		WHERE hash = ? AND claim_id = ? AND used_at IS NULL`

	// (at, at, serial, not after, grant id, peer id)
	sqlActivateGrant = `UPDATE grants SET status = 'active',
		activated_at = COALESCE(?, {{now}}), updated_at = COALESCE(?, {{now}}), cert_serial = ?,
		cert_not_after = ?
		WHERE id = ? AND peer_id = ? AND status = 'pending'
			AND (expires_at IS NULL OR expires_at > {{now}})`
	// (cert pem, serial, fingerprint, not after, at, peer id)
	sqlActivateInboundPeer = `UPDATE peers SET state = 'active', cert_pem = ?,
		cert_serial = ?, cert_fingerprint = ?, cert_not_after = ?,
		updated_at = COALESCE(?, {{now}})
		WHERE id = ? AND role = 'inbound' AND state IN ('pending', 'active')`
	// (at, key hash, serial, hash, claim id, grant id, peer id)
	sqlUseToken = `UPDATE enrollment_tokens SET used_at = COALESCE(?, {{now}}),
		issued_key_hash = ?, issued_serial = ?
		WHERE hash = ? AND claim_id = ? AND used_at IS NULL AND grant_id = ? AND peer_id = ?`
)

// Certificate renewal: a grant's certificate replaced on the grantor's
// side, an outbound peer's certificate renewed on the peer's side.
const (
	peerRenewCols = `renew_next_at, renew_failures, renew_last_error`

	grantCertCols = `cert_serial, cert_not_after, prev_cert_serial, prev_serial_until`
	sqlGrantCert  = `SELECT ` + grantCertCols + ` FROM grants WHERE id = ?`

	// (serial, not after, presented, presented, overlap until, at, grant id,
	// peer id, current, presented, presented, at). SET reads the row as it
	// was: the presented serial becomes the previous one only when it was
	// the current one, so a renewal with the previous serial does not
	// extend its overlap.
	sqlRenewGrantCert = `UPDATE grants SET cert_serial = ?, cert_not_after = ?,
		prev_cert_serial = CASE WHEN cert_serial = ? THEN cert_serial ELSE prev_cert_serial END,
		prev_serial_until = CASE WHEN cert_serial = ? THEN ? ELSE prev_serial_until END,
		updated_at = ?
		WHERE id = ? AND peer_id = ? AND status = 'active'
			AND (expires_at IS NULL OR expires_at > {{now}}) AND cert_serial = ?
			AND (cert_serial = ? OR (prev_cert_serial = ? AND prev_serial_until > ?))`
	// (cert pem, serial, fingerprint, not after, at, peer id)
	sqlRenewInboundPeer = `UPDATE peers SET cert_pem = ?, cert_serial = ?,
		cert_fingerprint = ?, cert_not_after = ?, updated_at = ?
		WHERE id = ? AND role = 'inbound' AND state = 'active'`

	// (at, serial, not after, grant id, peer id, replaced serial, token
	// hash): a re-enrollment replaces the expired certificate of an active
	// grant, the one its token was issued to replace.
	sqlReenrollGrant = `UPDATE grants SET updated_at = COALESCE(?, {{now}}), cert_serial = ?,
		cert_not_after = ?, prev_cert_serial = '', prev_serial_until = NULL
		WHERE id = ? AND peer_id = ? AND status = 'active' AND cert_serial = ?
			AND (expires_at IS NULL OR expires_at > {{now}})
			AND EXISTS (SELECT 1 FROM enrollment_tokens t
				WHERE t.hash = ? AND t.replaces_serial = grants.cert_serial)`
	// (hash, serial, ttl ms, grant id, peer id, serial): the token records
	// the serial it replaces.
	sqlInsertReenrollToken = `INSERT INTO enrollment_tokens (hash, replaces_serial, grant_id,
		peer_id, created_at, expires_at)
		SELECT ?, ?, id, peer_id, {{now}}, {{now}} + ? FROM grants
		WHERE id = ? AND peer_id = ? AND status = 'active' AND cert_serial = ?
			AND (expires_at IS NULL OR expires_at > {{now}})
		RETURNING created_at, expires_at`

	// (lease ms, peer id, serial, failures): by the database clock.
	sqlLeaseRenewal = `UPDATE peers SET renew_lease_until = {{now}} + ?
		WHERE id = ? AND role = 'outbound' AND state = 'active' AND cert_serial = ?
			AND renew_failures = ?
			AND (renew_lease_until IS NULL OR renew_lease_until <= {{now}})`
	// (cert pem, chain, serial, fingerprint, not after, sealed key, next at,
	// at, peer id, old serial)
	sqlRenewOutboundPeer = `UPDATE peers SET cert_pem = ?, cert_chain_pem = ?,
		cert_serial = ?, cert_fingerprint = ?, cert_not_after = ?, sealed_key = ?,
		renew_next_at = ?, renew_failures = 0, renew_last_error = '',
		renew_lease_until = NULL, updated_at = COALESCE(?, {{now}})
		WHERE id = ? AND role = 'outbound' AND state = 'active' AND cert_serial = ?`
	// (error, next at, at, peer id, serial)
	sqlRenewalFailed = `UPDATE peers SET renew_failures = renew_failures + 1,
		renew_last_error = ?, renew_next_at = ?, renew_lease_until = NULL,
		updated_at = COALESCE(?, {{now}})
		WHERE id = ? AND role = 'outbound' AND state = 'active' AND cert_serial = ?`
)

// Audit events. Rows form a hash chain (package auditchain): an append
// takes the chain lock, inserts the row linked to the newest row's hash,
// then stores the row's own hash, all in one transaction.
const (
	auditCols = `id, occurred_at, request_id, peer_id, grant_id, subject_user_id, verb,
		resource, status, outcome, reason, row_count, source_addr, token_hash_prefix,
		cert_serial`
	chainCols = auditCols + `, prev_hash, hash`

	// What an append needs before it inserts (see insertAuditBatch): the
	// last id handed out, the database clock and the newest row's hash
	// ('' for none).
	newestAuditHash   = `COALESCE((SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1), '')`
	sqlSQLiteAuditIDs = `SELECT COALESCE((SELECT seq FROM sqlite_sequence
		WHERE name = 'audit_events'), 0), {{now}}, ` + newestAuditHash
	// (n): n new ids of the identity sequence, in order.
	sqlPostgresAuditIDs = `SELECT nextval(pg_get_serial_sequence('audit_events', 'id')),
		{{now}}, ` + newestAuditHash + ` FROM generate_series(1, ?) ORDER BY 1`
	sqlListAudit     = `SELECT ` + auditCols + ` FROM audit_events`
	condAuditPeer    = `peer_id = ?`
	condAuditGrant   = `grant_id = ?`
	condAuditOutcome = `outcome = ?`
	sqlListAuditEnd  = ` ORDER BY id DESC LIMIT ?`

	// (after id, since ms, limit): math.MinInt64 for no since.
	sqlScanAudit = `SELECT ` + chainCols + ` FROM audit_events
		WHERE id > ? AND occurred_at >= ? ORDER BY id LIMIT ?`

	// Chaining the rows written before the chain existed.
	sqlNewestAuditHash = `SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1`
	sqlAuditChained    = `SELECT COUNT(*) FROM (
		SELECT 1 FROM audit_events WHERE hash IS NOT NULL LIMIT 1) chained`
	// (prev hash, hash, id)
	sqlLinkAudit = `UPDATE audit_events SET prev_hash = ?, hash = ? WHERE id = ?`
)

// Keys and settings.
const (
	keyCols = `name, cert_pem, sealed_key, created_at`

	sqlPutKeyIfAbsent = `INSERT INTO keys (` + keyCols + `)
		VALUES (?, ?, ?, COALESCE(?, {{now}}))
		ON CONFLICT (name) DO NOTHING RETURNING created_at`
	sqlPutKey = `INSERT INTO keys (` + keyCols + `)
		VALUES (?, ?, ?, COALESCE(?, {{now}}))
		ON CONFLICT (name) DO UPDATE SET cert_pem = excluded.cert_pem,
			sealed_key = excluded.sealed_key, created_at = excluded.created_at
		RETURNING created_at`
	sqlGetKey     = `SELECT ` + keyCols + ` FROM keys WHERE name = ?`
	sqlGetSetting = `SELECT value FROM settings WHERE name = ?`
	sqlPutSetting = `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`
)

// filtered returns base with the conditions that apply joined into a WHERE
// clause, then tail. Conditions come from the constants above only.
func filtered(base string, conds []string, tail string) string {
	if len(conds) == 0 {
		return base + tail
	}
	return base + " WHERE " + strings.Join(conds, " AND ") + tail
}

// Sealed values, for rotating the sealing secret: one sealed column per
// table, rows in id order (keys by name). The replace statements are
// conditional on the value read, so that a concurrent writer is never
// overwritten. (sealed, id, old) for replace; (n) for count.
const (
	sqlListSealedKeys = `SELECT name, sealed_key FROM keys
		WHERE name > ? ORDER BY name LIMIT ?`
	sqlGetSealedKey     = `SELECT sealed_key FROM keys WHERE name = ?`
	sqlReplaceSealedKey = `UPDATE keys SET sealed_key = ? WHERE name = ? AND sealed_key = ?`
	sqlCountSealedKeys  = `SELECT substr(sealed_key, 1, ?), COUNT(*) FROM keys
		GROUP BY 1 ORDER BY 1`

	sqlListSealedPeers = `SELECT id, sealed_key FROM peers
		WHERE sealed_key IS NOT NULL AND id > ? ORDER BY id LIMIT ?`
	sqlGetSealedPeer = `SELECT sealed_key FROM peers
		WHERE id = ? AND sealed_key IS NOT NULL`
	sqlReplaceSealedPeer = `UPDATE peers SET sealed_key = ? WHERE id = ? AND sealed_key = ?`
	sqlCountSealedPeers  = `SELECT substr(sealed_key, 1, ?), COUNT(*) FROM peers
		WHERE sealed_key IS NOT NULL GROUP BY 1 ORDER BY 1`

	sqlListSealedCredentials = `SELECT id, sealed_secret FROM credentials
		WHERE id > ? ORDER BY id LIMIT ?`
	sqlGetSealedCredential     = `SELECT sealed_secret FROM credentials WHERE id = ?`
	sqlReplaceSealedCredential = `UPDATE credentials SET sealed_secret = ?
		WHERE id = ? AND sealed_secret = ?`
	sqlCountSealedCredentials = `SELECT substr(sealed_secret, 1, ?), COUNT(*) FROM credentials
		GROUP BY 1 ORDER BY 1`
)

// Settings changed by compare-and-swap, such as the registry of sealing
// keys that every replica must agree on.
const (
	sqlInsertSetting = `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO NOTHING`
	// (value, name, old)
	sqlReplaceSetting = `UPDATE settings SET value = ? WHERE name = ? AND value = ?`
)

// sqlGrantAccess reads a grant, its certificate state and its peer's
// state and common name in one statement: (grant id).
var sqlGrantAccess = `SELECT ` + prefixCols("g.", grantCols+`, `+grantCertCols) +
	`, p.state, p.common_name FROM grants g JOIN peers p ON p.id = g.peer_id WHERE g.id = ?`

// prefixCols qualifies each column of a comma-separated list with prefix.
func prefixCols(prefix, cols string) string {
	names := strings.Split(cols, ",")
	for i, n := range names {
		names[i] = prefix + strings.TrimSpace(n)
	}
	return strings.Join(names, ", ")
}

// The statements a dialect that prepares (see dialect.prepare) prepares
// once when the store opens: those of federated reads, enrollment,
// renewal and every audit write, on the pool each runs on. Others run
// unprepared.
var (
	preparedReads = []string{
		sqlFindGrant, sqlGrantCertSerial, sqlGrantCert, sqlGrantAccess, sqlFindPeer, sqlPeerRole,
		sqlFindToken, sqlTokenReplaces, sqlFindUser, sqlGetKey, sqlGetSetting,
		sqlTaskPageAll, sqlTaskPageOf, sqlNotePageAll, sqlNotePageOf,
		sqlCredPageAll, sqlCredPageOf, sqlUserPageAll, sqlUserPageOf,
		sqlTeamPageAll, sqlTeamPageOf, sqlVersions,
	}
	preparedWrites = []string{
		sqlFindGrant, sqlGrantCert, sqlFindPeer,
		sqlSQLiteAuditIDs, savepointJob, releaseJob, rollbackToJob,
		sqlInsertToken, sqlClaimToken, sqlReleaseClaim,
		sqlActivateGrant, sqlActivateInboundPeer, sqlUseToken,
		sqlRenewGrantCert, sqlRenewInboundPeer, sqlReenrollGrant, sqlInsertReenrollToken,
		sqlLeaseRenewal, sqlRenewOutboundPeer, sqlRenewalFailed,
		sqlInsertGrant, sqlRevokeGrant, sqlExpireGrants, sqlInsertPeer,
	}
)
