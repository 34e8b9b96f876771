package mosaic

import "time"

// Outcome says whether an audited request was allowed.
type Outcome string

// Outcomes.
const (
	OutcomeAllowed Outcome = "allowed"
	OutcomeDenied  Outcome = "denied"
)

// Audited verbs.
const (
	VerbEnroll = "enroll"
	VerbRead   = "read"
	VerbRevoke = "revoke"
)

// AuditEvent records one enrollment attempt, federated request or grant
// revocation. It never holds a token, key or secret: tokens appear only as
// the first digits of their hash.
type AuditEvent struct {
	ID              int64     `json:"id"`
	Time            time.Time `json:"time"`
	RequestID       string    `json:"requestId"`
	PeerID          string    `json:"peerId,omitempty"`
	GrantID         string    `json:"grantId,omitempty"`
	SubjectUserID   string    `json:"subjectUserId,omitempty"`
	Verb            string    `json:"verb"`
	Resource        string    `json:"resource,omitempty"`
	Status          int       `json:"status"`
	Outcome         Outcome   `json:"outcome"`
	Reason          string    `json:"reason,omitempty"`
	Rows            int       `json:"rows"`
	SourceAddr      string    `json:"sourceAddr,omitempty"`
	TokenHashPrefix string    `json:"tokenHashPrefix,omitempty"`
	CertSerial      string    `json:"certSerial,omitempty"`
}

// AuditFilter selects audit events, newest first. Empty fields match
// everything.
type AuditFilter struct {
	PeerID  string
	GrantID string
	Outcome Outcome
	Limit   int // zero means the store's default
}
