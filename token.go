package mosaic

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// Enrollment token lifetimes. A requested TTL above MaxTokenTTL is clamped,
// not refused; zero or negative means DefaultTokenTTL.
const (
	MaxTokenTTL     = 900 * time.Second
	DefaultTokenTTL = 900 * time.Second
)

// ClampTokenTTL returns the TTL a token actually gets for a requested one.
func ClampTokenTTL(requested time.Duration) time.Duration {
	if requested <= 0 {
		return DefaultTokenTTL
	}
	if requested > MaxTokenTTL {
		return MaxTokenTTL
	}
	if requested < time.Second {
		return time.Second
	}
	return requested.Truncate(time.Second)
}

// tokenBytes is the entropy of a token: 256 bits.
const tokenBytes = 32

// TokenLen is the length of a token's text form: 32 bytes in unpadded
// base64url.
const TokenLen = 43

// TokenSecret is the text of an enrollment token. It is shown once to the
// admin who created it and otherwise never printed: String and Format redact.
type TokenSecret string

// NewTokenSecret draws a token from r (crypto/rand.Reader in production).
func NewTokenSecret(r io.Reader) (TokenSecret, error) {
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("token: read random: %w", err)
	}
	return TokenSecret(base64.RawURLEncoding.EncodeToString(b)), nil
}

// ParseTokenSecret checks the shape of a token taken from a request before
// anything else touches it: exactly TokenLen characters of the base64url
// alphabet.
func ParseTokenSecret(s string) (TokenSecret, error) {
	if len(s) != TokenLen {
		return "", Errorf(KindInvalid, "invalid_token", "token: malformed")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return "", Errorf(KindInvalid, "invalid_token", "token: malformed")
		}
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(s); err != nil {
		return "", Errorf(KindInvalid, "invalid_token", "token: malformed")
	}
	return TokenSecret(s), nil
}

// Reveal returns the token text. Call it only where the token must leave the
// process: the one answer to the admin who created it, or the request that
// redeems it.
func (t TokenSecret) Reveal() string { return string(t) }

// Hash returns the lower-case hex SHA-256 of the token, the only form stored.
func (t TokenSecret) Hash() string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// String redacts the token.
func (t TokenSecret) String() string { return "[redacted token]" }

// Format redacts the token for every fmt verb.
func (t TokenSecret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }

// HashPrefix returns the first 12 hex digits of a token hash, the only part
// of it written to logs and the audit trail.
func HashPrefix(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// EnrollmentToken is the stored form of a token: its hash and what it is
// bound to. Expiry is judged by the database clock; Expired reports it as of
// the read.
type EnrollmentToken struct {
	Hash      string
	GrantID   string
	PeerID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	Expired   bool
	// ReplacesSerial is, for a token issued to re-enroll an active grant
	// whose certificate expired, that certificate's serial: the only one
	// its redeem may replace. Empty for a token of a pending grant, which
	// can only activate it.
	ReplacesSerial string

	// ClaimID and ClaimedAt are set while one redeem holds the token.
	ClaimID   string
	ClaimedAt *time.Time

	// UsedAt is set when the redeem that held the claim activated the grant.
	// IssuedKeyHash (SHA-256 of the CSR's public key, hex) and IssuedSerial
	// identify the certificate it produced, so a retry with the same key
	// gets that certificate back.
	UsedAt        *time.Time
	IssuedKeyHash string
	IssuedSerial  string
}
