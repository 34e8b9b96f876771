package mosaic

import (
	"context"
	"sync"
)

// A read scope is one request's worth of reads. Within it a store may read
// once what every read of the request would otherwise read again, such as
// the versions its caches are checked against, and reuse it for the
// request's later reads: those then see every change committed before the
// request's first read, which is all a request may ask of them.
type readScope struct {
	mu   sync.Mutex
	vals map[any]any
}

// readScopeKey is the context key of a *readScope.
type readScopeKey struct{}

// WithReadScope returns ctx opening a read scope of its own: one request's
// reads, sharing what ScopedOnce keeps. A scope must not outlive its
// request, or its reads would be as old as its first.
func WithReadScope(ctx context.Context) context.Context {
	return context.WithValue(ctx, readScopeKey{}, &readScope{})
}

// ScopedOnce returns the value kept under key in ctx's read scope, or
// loads it, keeping it there when load succeeds. Without a read scope it
// loads on every call. A failed load is not kept.
func ScopedOnce[T any](ctx context.Context, key any, load func() (T, error)) (T, error) {
	s, ok := ctx.Value(readScopeKey{}).(*readScope)
	if !ok {
		return load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vals[key].(T); ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	if s.vals == nil {
		s.vals = map[any]any{}
	}
	s.vals[key] = v
	return v, nil
}
