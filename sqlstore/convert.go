package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mosaicgw/mosaic"
)

// Timestamps are stored as unix milliseconds in UTC.

// millis returns t in unix milliseconds, or nil for the zero time so that
// the statement's COALESCE falls back to the database clock.
func millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// stamps returns the creation and update times of a new row as statement
// arguments: a zero update time means the creation time, and a zero
// creation time means the database clock for both.
func stamps(created, updated time.Time) (any, any) {
	if updated.IsZero() {
		updated = created
	}
	return millis(created), millis(updated)
}

// nullMillis returns *t in unix milliseconds, or nil for a nil pointer.
func nullMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis returns the UTC time of a unix millisecond count.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// msTime scans an INTEGER of unix milliseconds into a time.Time.
type msTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (m msTime) Scan(v any) error {
	ms, ok := v.(int64)
	if !ok {
		return fmt.Errorf("sqlstore: timestamp: want int64, got %T", v)
	}
	*m.t = fromMillis(ms)
	return nil
}

// nullTime scans a nullable INTEGER of unix milliseconds into a *time.Time.
type nullTime struct{ t **time.Time }

// Scan implements sql.Scanner.
func (n nullTime) Scan(v any) error {
	if v == nil {
		*n.t = nil
		return nil
	}
	var t time.Time
	if err := (msTime{&t}).Scan(v); err != nil {
		return err
	}
	*n.t = &t
	return nil
}

// nullText scans a nullable TEXT into a string, NULL becoming "".
type nullText struct{ s *string }

// Scan implements sql.Scanner.
func (n nullText) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*n.s = ""
	case string:
		*n.s = x
	case []byte:
		*n.s = string(x)
	default:
		return fmt.Errorf("sqlstore: text: want string, got %T", v)
	}
	return nil
}

// scopeJSON scans a grant's scope from its JSON text.
type scopeJSON struct{ s *mosaic.Scope }

// Scan implements sql.Scanner.
func (j scopeJSON) Scan(v any) error {
	var text string
	if err := (nullText{&text}).Scan(v); err != nil {
		return err
	}
	var s mosaic.Scope
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return fmt.Errorf("sqlstore: scope: %w", err)
	}
	*j.s = s
	return nil
}

// limit bounds a listing's limit: zero or less means the default, more
// than the maximum means the maximum.
func limit(n int) int {
	switch {
	case n <= 0:
		return mosaic.DefaultListLimit
	case n > mosaic.MaxListLimit:
		return mosaic.MaxListLimit
	}
	return n
}

// orNewID returns id, or a new id when it is empty.
func orNewID(id string) string {
	if id == "" {
		return mosaic.NewID()
	}
	return id
}
