package mosaic

import (
	"errors"
	"sync"
)

// PageMemo keeps values derived from one shared page, each computed once
// under a key that names how it was derived, within a budget of bytes its
// maker sets. It is safe for concurrent use; a nil PageMemo keeps nothing.
type PageMemo struct {
	mu sync.Mutex
	// free is what remains of the budget.
	free   int
	values map[string]*memoValue
}

// memoValue is one derived value; done is closed once it is computed.
type memoValue struct {
	done chan struct{}
	v    any
	err  error
}

// errDerivePanicked is what the callers waiting for a derivation that
// panicked get.
var errDerivePanicked = errors.New("page memo: derivation panicked")

// NewPageMemo returns an empty memo that keeps values of at most budget
// bytes in all.
func NewPageMemo(budget int) *PageMemo {
	return &PageMemo{free: budget, values: map[string]*memoValue{}}
}

// Derive returns the value kept under key, or computes it with derive,
// which returns it with its size in bytes. Callers that ask for a key
// while it is being computed wait for that one computation and share its
// result. A value that fails, or that does not fit in what remains of the
// budget, is not kept: the next call computes it again. On a nil memo,
// derive runs on every call.
func (m *PageMemo) Derive(key string, derive func() (any, int, error)) (any, error) {
	if m == nil {
		v, _, err := derive()
		return v, err
	}
	m.mu.Lock()
	e, ok := m.values[key]
	if !ok {
		e = &memoValue{done: make(chan struct{}), err: errDerivePanicked}
		m.values[key] = e
	}
	m.mu.Unlock()
	if ok {
		<-e.done
		return e.v, e.err
	}

	// This caller computes; the value stays if it fits.
	kept := false
	defer func() {
		if !kept {
			m.mu.Lock()
			delete(m.values, key)
			m.mu.Unlock()
		}
		close(e.done)
	}()
	v, size, err := derive()
	e.v, e.err = v, err
	if err == nil {
		m.mu.Lock()
		if kept = size <= m.free; kept {
			m.free -= size
		}
		m.mu.Unlock()
	}
	return v, err
}
