package mosaic

import (
	"context"
	"time"
)

// DefaultListLimit and MaxListLimit bound admin listings.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Store is the gateway's persistent state. Every method takes a context and
// opens its own transaction where it needs one; a method that returns an
// error has changed nothing. Errors are *Error values with the kinds named
// below, or internal errors for faults of the database itself
// (KindUnavailable when the database is unreachable or locked).
type Store interface {
	UserStore
	ResourceStore
	PeerStore
	GrantStore
	TokenStore
	AuditStore
	KeyStore
	RenewalStore

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// UserStore holds users and teams.
type UserStore interface {
	// CreateUser inserts u. A duplicate email is KindConflict.
	CreateUser(ctx context.Context, u *User) error
	// FindUser returns the user with that id, or KindNotFound.
	FindUser(ctx context.Context, id string) (*User, error)
	// ListUsers returns users in id order.
	ListUsers(ctx context.Context) ([]*User, error)

	// CreateTeam inserts t with its members. An unknown member is
	// KindNotFound.
	CreateTeam(ctx context.Context, t *Team) error
	// AddTeamMember adds a user to a team. Unknown team or user is
	// KindNotFound; adding an existing member changes nothing.
	AddTeamMember(ctx context.Context, teamID, userID string) error
	// ListTeams returns all teams in id order, with their members.
	ListTeams(ctx context.Context) ([]*Team, error)
}

// ResourceStore holds the data a user owns.
type ResourceStore interface {
	// CreateTask, CreateNote and CreateCredential insert a row owned by
	// an existing user; an unknown user is KindNotFound.
	CreateTask(ctx context.Context, t *Task) error
	CreateNote(ctx context.Context, n *Note) error
	CreateCredential(ctx context.Context, c *Credential) error

	// ReadPage returns one page of a resource as seen by one user, in id
	// order, for the admin listings and federated reads alike. The page
	// reflects every change committed before the call; the values its
	// items point to may be shared with other callers and must not be
	// changed (the slice itself is the caller's).
	ReadPage(ctx context.Context, q PageQuery) (*Page, error)
}

// PageQuery asks for one page of a resource as one user sees it: tasks,
// notes and credentials they own, teams they belong to, and the users they
// share a team with (themselves included). An empty UserID reads every row
// (admin listings only).
type PageQuery struct {
	Resource Resource
	UserID   string
	// After is the id of the last row of the previous page; empty starts
	// at the beginning.
	After string
	// Since, when set, keeps only rows updated at or after it.
	Since *time.Time
	// Limit is the page size, at least 1.
	Limit int
}

// Page is one page of rows. Items hold *User, *Team, *Task, *Note or
// *Credential values. Next is the id to pass as After for the next page, or
// empty when this is the last page.
type Page struct {
	Items []any
	Next  string
	// Memo is where the layers above the store may keep forms derived
	// from this exact page while the store shares it with other readers:
	// every reader of the same cached page, the one that read it into the
	// cache included, gets the same Memo, and a page read after a change
	// comes with another one. A form kept in it must be a function of
	// Items and Next as the store returned them, under a key naming the
	// transform. Nil for a page the store does not keep in a cache.
	Memo *PageMemo
}

// PeerStore holds inbound and outbound peers.
type PeerStore interface {
	// CreatePeer inserts p.
	CreatePeer(ctx context.Context, p *Peer) error
	// FindPeer returns the peer with that id, or KindNotFound.
	FindPeer(ctx context.Context, id string) (*Peer, error)
	// ListPeers returns peers matching f in id order.
	ListPeers(ctx context.Context, f PeerFilter) ([]*Peer, error)
	// RemovePeer ends a peer for good, in one transaction. An inbound
	// peer's pending and active grants are revoked with the reason, each
	// with its own audit event; an outbound peer loses its sealed key and
	// certificates. The peer moves to revoked and the removal's own event
	// is written. An unknown peer is KindNotFound; a peer already removed
	// is KindConflict "peer_removed", and nothing changes.
	RemovePeer(ctx context.Context, rm PeerRemoval) (*PeerRemoved, error)
	// ActivateOutboundPeer stores the certificate a remote gateway issued
	// to us and moves the outbound peer from pending to active. A peer that
	// is not a pending outbound peer is KindConflict and is left as it was.
	ActivateOutboundPeer(ctx context.Context, a OutboundActivation) error
}

// OutboundActivation is what ActivateOutboundPeer stores.
type OutboundActivation struct {
	PeerID          string
	CertPEM         string
	CertChainPEM    string
	CertSerial      string
	CertFingerprint string
	CertNotAfter    time.Time
	CAPEM           string
	// RenewAt is when the certificate is due for renewal; zero leaves it
	// to the rule applied to certificates stored before renewal existed.
	RenewAt time.Time
	At      time.Time
}

// GrantStore holds grants.
type GrantStore interface {
	// CreateGrant inserts g for an existing user and inbound peer (else
	// KindNotFound). When peer is non-nil it is inserted in the same
	// transaction first, as a new pending inbound peer. An existing peer
	// that was removed (revoked) becomes pending again, without its old
	// certificate, in the same transaction.
	CreateGrant(ctx context.Context, g *Grant, peer *Peer) error
	// FindGrant returns the grant with that id, or KindNotFound.
	FindGrant(ctx context.Context, id string) (*Grant, error)
	// ListGrants returns grants matching f in id order.
	ListGrants(ctx context.Context, f GrantFilter) ([]*Grant, error)
	// RevokeGrant moves a pending or active grant to revoked with the
	// reason, and appends ev to the audit log in the same transaction. A
	// grant already revoked or expired is KindConflict.
	RevokeGrant(ctx context.Context, id, reason string, at time.Time, ev *AuditEvent) (*Grant, error)
	// GrantCertSerial returns the serial of the certificate the grant was
	// activated with (empty while pending).
	GrantCertSerial(ctx context.Context, grantID string) (string, error)
	// ExpireGrants marks every pending or active grant past its expiry, by
	// the database clock, as expired, and returns how many it marked.
	ExpireGrants(ctx context.Context) (int64, error)
}

// TokenStore holds enrollment tokens, by hash only. Expiry uses the
// database clock.
type TokenStore interface {
	// CreateToken inserts a token that expires ttl after the database's
	// current time, and returns it as stored (with ExpiresAt set).
	CreateToken(ctx context.Context, hash, grantID, peerID string, ttl time.Duration) (*EnrollmentToken, error)
	// FindToken returns the token with that hash, or KindNotFound.
	FindToken(ctx context.Context, hash string) (*EnrollmentToken, error)
	// ClaimToken takes the token for one redeem with a single conditional
	// update: it succeeds only if the token is unused, unexpired and not
	// held by another claim younger than staleAfter. Otherwise KindGone.
	ClaimToken(ctx context.Context, hash, claimID string, staleAfter time.Duration) error
	// ReleaseClaim gives back a claim that did not lead to activation, so
	// the token can be retried. It does nothing if claimID no longer holds
	// the token.
	ReleaseClaim(ctx context.Context, hash, claimID string) error
	// ActivateGrant is the last step of a redeem, in one transaction: the
	// grant moves pending → active, its inbound peer takes the certificate
	// and becomes active, the token is marked used by the claim, and the
	// allowed audit event is written. If the grant is no longer pending
	// (revoked meanwhile) or the claim was lost, it is KindConflict and
	// nothing changes. With a.ReplacesSerial set it is a re-enrollment:
	// the grant must instead be active with that current serial, which
	// the new certificate replaces.
	ActivateGrant(ctx context.Context, a Activation) error
}

// Activation is what ActivateGrant stores.
type Activation struct {
	GrantID         string
	PeerID          string
	TokenHash       string
	ClaimID         string
	CertPEM         string
	CertSerial      string
	CertFingerprint string
	CertNotAfter    time.Time
	KeyHash         string // SHA-256 of the certificate's public key, hex
	At              time.Time
	Event           *AuditEvent
	// ReplacesSerial, when set, is the serial of the expired certificate
	// of an active grant that this re-enrollment replaces.
	ReplacesSerial string
}

// AuditStore holds the audit log.
type AuditStore interface {
	// AppendAudit writes ev and sets its ID.
	AppendAudit(ctx context.Context, ev *AuditEvent) error
	// ListAudit returns events matching f, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
}

// StoredKey is a certificate and its sealed private key kept by name, such
// as the CA's root and intermediate or the TLS server certificate.
type StoredKey struct {
	Name      string
	CertPEM   string
	SealedKey []byte
	CreatedAt time.Time
}

// KeyRotation is one step of a rotation of named keys: a new key goes in,
// keys no longer needed go, and a setting naming the key in use moves from
// one value to another, all at once.
type KeyRotation struct {
	New     *StoredKey
	Drop    []string
	Setting string
	From    string
	To      string
}

// KeyStore holds named keys and small settings.
type KeyStore interface {
	// PutKeyIfAbsent inserts k unless a key of that name exists. It
	// reports whether k was inserted; either way the caller should read
	// the key back with GetKey so that concurrent starters agree.
	PutKeyIfAbsent(ctx context.Context, k *StoredKey) (bool, error)
	// GetKey returns the key with that name, or KindNotFound.
	GetKey(ctx context.Context, name string) (*StoredKey, error)
	// PutKey inserts or replaces a key.
	PutKey(ctx context.Context, k *StoredKey) error
	// ListKeysWithPrefix returns the keys whose name starts with prefix,
	// in name order, such as every intermediate a CA has had.
	ListKeysWithPrefix(ctx context.Context, prefix string) ([]*StoredKey, error)
	// RotateKey does one step of a rotation of named keys in one
	// transaction: it inserts r.New, deletes the keys named in r.Drop, and
	// moves the setting r.Setting from r.From ("" for a setting that does
	// not exist yet) to r.To. A setting that no longer holds r.From is
	// KindConflict "setting_changed" and a new key whose name is in use
	// KindConflict "key_exists"; then nothing is written. Of concurrent
	// rotations from one value, exactly one succeeds.
	RotateKey(ctx context.Context, r KeyRotation) error

	// GetSetting returns a setting's value, or KindNotFound.
	GetSetting(ctx context.Context, name string) (string, error)
	// PutSetting inserts or replaces a setting.
	PutSetting(ctx context.Context, name, value string) error
}
