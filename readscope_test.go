package mosaic_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// loader counts its loads and returns the count, or err.
type loader struct {
	mu    sync.Mutex
	loads int
	err   error
}

func (l *loader) load() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loads++
	if l.err != nil {
		return 0, l.err
	}
	return l.loads, nil
}

func TestScopedOnceWithoutScopeLoadsEveryTime(t *testing.T) {
	var l loader
	ctx := context.Background()
	for want := 1; want <= 3; want++ {
		got, err := mosaic.ScopedOnce(ctx, "k", l.load)
		if err != nil || got != want {
			t.Fatalf("call %d: got %d, %v; want %d", want, got, err, want)
		}
	}
}

func TestScopedOnceLoadsOncePerScope(t *testing.T) {
	var l loader
	ctx := mosaic.WithReadScope(context.Background())
	for range 3 {
		if got, err := mosaic.ScopedOnce(ctx, "k", l.load); err != nil || got != 1 {
			t.Fatalf("got %d, %v; want the first load, 1", got, err)
		}
	}
	// Another key loads on its own; another scope starts afresh.
	if got, _ := mosaic.ScopedOnce(ctx, "other", l.load); got != 2 {
		t.Fatalf("another key: got %d, want a new load, 2", got)
	}
	if got, _ := mosaic.ScopedOnce(mosaic.WithReadScope(context.Background()), "k", l.load); got != 3 {
		t.Fatalf("another scope: got %d, want a new load, 3", got)
	}
	// A scope opened inside another is a new one too.
	if got, _ := mosaic.ScopedOnce(mosaic.WithReadScope(ctx), "k", l.load); got != 4 {
		t.Fatalf("nested scope: got %d, want a new load, 4", got)
	}
}

func TestScopedOnceKeepsNoFailure(t *testing.T) {
	l := loader{err: errors.New("down")}
	ctx := mosaic.WithReadScope(context.Background())
	if _, err := mosaic.ScopedOnce(ctx, "k", l.load); err == nil {
		t.Fatal("a failed load returned no error")
	}
	l.err = nil
	got, err := mosaic.ScopedOnce(ctx, "k", l.load)
	if err != nil || got != 2 {
		t.Fatalf("after a failure: got %d, %v; want a new load, 2", got, err)
	}
}

func TestScopedOnceTellsTypesApart(t *testing.T) {
	ctx := mosaic.WithReadScope(context.Background())
	if _, err := mosaic.ScopedOnce(ctx, "k", func() (int, error) { return 7, nil }); err != nil {
		t.Fatal(err)
	}
	s, err := mosaic.ScopedOnce(ctx, "k", func() (string, error) { return "loaded", nil })
	if err != nil || s != "loaded" {
		t.Fatalf("a value of another type under the same key: got %q, %v", s, err)
	}
}

func TestScopedOnceConcurrent(t *testing.T) {
	var l loader
	ctx := mosaic.WithReadScope(context.Background())
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if got, err := mosaic.ScopedOnce(ctx, "k", l.load); err != nil || got != 1 {
				t.Errorf("got %d, %v; want the one load, 1", got, err)
			}
		})
	}
	wg.Wait()
}
