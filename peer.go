package mosaic

import "time"

// PeerRole says which side of a federation a peer record describes.
type PeerRole string

// Peer roles.
const (
	// PeerInbound is a gateway we issued a certificate to; it reads our data.
	PeerInbound PeerRole = "inbound"
	// PeerOutbound is a gateway whose data we read with a certificate it
	// issued to us.
	PeerOutbound PeerRole = "outbound"
)

// PeerState is where a peer is in its life.
type PeerState string

// Peer states.
const (
	PeerPending   PeerState = "pending" // no certificate yet
	PeerActive    PeerState = "active"
	PeerSuspended PeerState = "suspended"
	PeerRevoked   PeerState = "revoked"
)

// Peer is a remote gateway as this gateway knows it. Inbound and outbound
// peers share one type; fields that apply to one role only say so.
type Peer struct {
	ID          string    `json:"id"`
	Role        PeerRole  `json:"role"`
	CommonName  string    `json:"commonName"`
	DisplayName string    `json:"displayName"`
	State       PeerState `json:"state"`

	// CertPEM is the current certificate: for an inbound peer the one we
	// issued, for an outbound peer the one it issued to us. Empty while
	// pending. CertSerial is its serial in lower-case hex, CertFingerprint
	// the SHA-256 of its DER in lower-case hex.
	CertPEM         string     `json:"certPem,omitempty"`
	CertSerial      string     `json:"certSerial,omitempty"`
	CertFingerprint string     `json:"certFingerprint,omitempty"`
	CertNotAfter    *time.Time `json:"certNotAfter,omitempty"`

	// Outbound only: the remote gateway's base URL (scheme, host, port), the
	// chain that came with our certificate, the remote CA we pinned at
	// enrollment (PEM) and its pin ("sha256:<hex>").
	EndpointURL  string `json:"endpointUrl,omitempty"`
	CertChainPEM string `json:"certChainPem,omitempty"`
	CAPEM        string `json:"caPem,omitempty"`
	CAPin        string `json:"caPin,omitempty"`

	// SealedKey is our private key for an outbound peer, sealed with the
	// gateway secret and bound to the peer id. Never serialised.
	SealedKey []byte `json:"-"`

	// Outbound only: the renewal of our certificate. RenewNextAt is when
	// the next attempt is due (nil: two thirds into the certificate's
	// life); RenewFailures counts the attempts that failed since the last
	// success and RenewLastError says why the last one failed. Renewal is
	// the state derived from them (RenewalOK and the other Renewal
	// constants), set by the federation service for active outbound
	// peers.
	RenewNextAt    *time.Time `json:"renewNextAt,omitempty"`
	RenewFailures  int        `json:"renewFailures,omitempty"`
	RenewLastError string     `json:"renewLastError,omitempty"`
	Renewal        string     `json:"renewal,omitempty"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// PeerFilter selects peers in a listing. Empty fields match everything.
type PeerFilter struct {
	Role  PeerRole
	State PeerState
}

// ValidatePeerName checks a display or common name given by an admin.
func ValidatePeerName(field, name string) error {
	return validateText(field, name, 200)
}
