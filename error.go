package mosaic

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it. The HTTP layer
// maps each kind to one status code.
type Kind int

// Error kinds. The zero value is KindInternal.
const (
	KindInternal     Kind = iota // a fault of ours: 500, message hidden
	KindInvalid                  // malformed or unacceptable input: 400
	KindUnauthorized             // missing or wrong credentials: 401
	KindForbidden                // authenticated but not allowed: 403
	KindNotFound                 // no such thing: 404
	KindConflict                 // state forbids the change: 409
	KindGone                     // existed but no longer usable: 410
	KindTooLarge                 // request body too large: 413
	KindUnsupported              // unsupported media type: 415
	KindRateLimited              // too many requests: 429
	KindUpstream                 // a service we depend on failed: 502
	KindUnavailable              // temporarily unable to serve: 503
)

// Error is the one error type of the gateway. Code is a stable machine-readable
// reason such as "token_used"; Message is safe to show a client. Err carries
// detail for the log only and is never sent to a client.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Err     error
}

// Error implements the error interface. It includes the wrapped detail, so it
// is for logs; clients get Message through ErrorMessage.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the wrapped detail.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind and code with a formatted,
// client-safe message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error that carries err as log-only detail.
func WrapError(kind Kind, code, message string, err error) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Err: err}
}

// ErrorKind returns the kind of the first *Error in err's chain, or
// KindInternal when there is none.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ErrorCode returns the code of the first *Error in err's chain, or
// "internal" when there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return "internal"
}

// ErrorMessage returns the client-safe message of the first *Error in err's
// chain, or "internal error" when there is none or it is an internal error.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal {
		return e.Message
	}
	return "internal error"
}

// IsKind reports whether err is an *Error of the given kind.
func IsKind(err error, kind Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}
