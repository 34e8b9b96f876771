package mosaic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// Row cap bounds for a grant's scope.
const (
	MinRowsPerQuery = 1
	MaxRowsPerQuery = 10000
)

// Scope says what a grant shares: which resources, which are explicitly
// excluded, and how many rows one request may return at most.
type Scope struct {
	Resources         []Resource `json:"resources"`
	ExcludedResources []Resource `json:"excluded_resources"`
	MaxRowsPerQuery   int        `json:"max_rows_per_query"`
}

// ParseScope decodes a scope from JSON strictly (unknown fields and trailing
// data are errors) and validates it.
func ParseScope(data []byte) (Scope, error) {
	var s Scope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Scope{}, WrapError(KindInvalid, "invalid_scope", "scope: not a valid scope object", err)
	}
	// Only the end of the input may follow the object. (Decoder.More would
	// report none after a stray "]" or "}".)
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Scope{}, Errorf(KindInvalid, "invalid_scope", "scope: trailing data after the object")
	}
	return s, s.Validate()
}

// Validate reports the first problem with the scope as a KindInvalid error
// naming the field. An empty resource list is invalid: a scope never means
// "everything".
func (s Scope) Validate() error {
	if len(s.Resources) == 0 {
		return Errorf(KindInvalid, "invalid_scope", "scope.resources: at least one resource is required")
	}
	allowed := map[Resource]bool{}
	for _, r := range s.Resources {
		if !r.Valid() {
			return Errorf(KindInvalid, "invalid_scope", "scope.resources: unknown resource %q", r)
		}
		if allowed[r] {
			return Errorf(KindInvalid, "invalid_scope", "scope.resources: %q listed twice", r)
		}
		allowed[r] = true
	}
	excluded := map[Resource]bool{}
	for _, r := range s.ExcludedResources {
		if !r.Valid() {
			return Errorf(KindInvalid, "invalid_scope", "scope.excluded_resources: unknown resource %q", r)
		}
		if allowed[r] {
			return Errorf(KindInvalid, "invalid_scope",
				"scope.excluded_resources: %q is also in scope.resources", r)
		}
		if excluded[r] {
			return Errorf(KindInvalid, "invalid_scope", "scope.excluded_resources: %q listed twice", r)
		}
		excluded[r] = true
	}
	if s.MaxRowsPerQuery < MinRowsPerQuery || s.MaxRowsPerQuery > MaxRowsPerQuery {
		return Errorf(KindInvalid, "invalid_scope", "scope.max_rows_per_query: must be between %d and %d",
			MinRowsPerQuery, MaxRowsPerQuery)
	}
	return nil
}

// Allows reports whether the scope shares resource r: listed in Resources and
// not in ExcludedResources.
func (s Scope) Allows(r Resource) bool {
	for _, x := range s.ExcludedResources {
		if x == r {
			return false
		}
	}
	for _, x := range s.Resources {
		if x == r {
			return true
		}
	}
	return false
}

// GrantStatus is where a grant is in its life. A grant moves only forward:
// pending → active → revoked or expired; pending may also go straight to
// revoked or expired. Revoked and expired are final.
type GrantStatus string

// Grant statuses.
const (
	GrantPending GrantStatus = "pending"
	GrantActive  GrantStatus = "active"
	GrantRevoked GrantStatus = "revoked"
	GrantExpired GrantStatus = "expired"
)

// Valid reports whether s is a known status.
func (s GrantStatus) Valid() bool {
	switch s {
	case GrantPending, GrantActive, GrantRevoked, GrantExpired:
		return true
	}
	return false
}

// Grant gives one inbound peer read access to one user's data within a scope.
type Grant struct {
	ID            string      `json:"id"`
	UserID        string      `json:"userId"`
	PeerID        string      `json:"peerId"`
	Scope         Scope       `json:"scope"`
	Status        GrantStatus `json:"status"`
	CreatedAt     time.Time   `json:"createdAt"`
	UpdatedAt     time.Time   `json:"updatedAt"`
	ActivatedAt   *time.Time  `json:"activatedAt,omitempty"`
	ExpiresAt     *time.Time  `json:"expiresAt,omitempty"`
	RevokedAt     *time.Time  `json:"revokedAt,omitempty"`
	RevokedReason string      `json:"revokedReason,omitempty"`
}

// GrantFilter selects grants in a listing. Empty fields match everything.
type GrantFilter struct {
	PeerID string
	Status GrantStatus
	Limit  int // zero means the store's default
}

// MaxRevokeReason bounds the length of a revocation reason.
const MaxRevokeReason = 500

// ValidateRevokeReason checks an optional revocation reason.
func ValidateRevokeReason(reason string) error {
	if reason == "" {
		return nil
	}
	return validateText("reason", reason, MaxRevokeReason)
}
