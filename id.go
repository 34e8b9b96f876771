package mosaic

import "github.com/google/uuid"

// NewID returns a new random, time-ordered identifier (UUID version 7). Ordering
// by id orders rows by creation, which keeps cursor pages stable.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// ValidateID checks that s is a canonical lower-case UUID, naming field in the
// error.
func ValidateID(field, s string) error {
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return Errorf(KindInvalid, "invalid_"+field, "%s: not a valid id", field)
	}
	return nil
}
