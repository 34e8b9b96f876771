package mosaic

import "time"

// VerbRemovePeer is the audited verb of a peer removal. The grants a
// removal revokes are audited under VerbRevoke, one event each.
const VerbRemovePeer = "remove_peer"

// DefaultRemovalReason is the revocation reason of the grants of a peer
// removed without a reason of its own.
const DefaultRemovalReason = "peer removed"

// PeerRemoval is what RemovePeer is asked to do: which peer, why and when,
// and the audit event of the removal itself. Each grant the removal
// revokes gets an event of its own, a copy of Event with verb revoke and
// the grant's and subject user's ids.
type PeerRemoval struct {
	PeerID string
	// Reason is recorded with every grant revoked and in the audit log;
	// it must pass ValidateRevokeReason.
	Reason string
	// At is when the removal happens; zero means the database clock.
	At    time.Time
	Event *AuditEvent
}

// PeerRemoved is the outcome of a removal: the peer as it is now (state
// revoked) and the grants the removal revoked, in id order. For an
// outbound peer Revoked is empty, and the peer comes back without its
// sealed key and certificates.
type PeerRemoved struct {
	Peer    *Peer    `json:"peer"`
	Revoked []*Grant `json:"revokedGrants"`
}
