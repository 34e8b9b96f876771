package gateway

import (
	"context"
	"log/slog"
	"time"
)

// DefaultSweepInterval is how often the gateway marks grants past their
// expiry as expired when Config.SweepInterval is zero.
const DefaultSweepInterval = 30 * time.Second

// startSweeper marks expired grants every interval until ctx ends, and
// returns a function that stops it and waits for it to finish. Reads do not
// depend on it: a grant past its expiry is refused at once either way.
func (g *gw) startSweeper(ctx context.Context, interval time.Duration) (stop func()) {
	return every(ctx, interval, g.sweep)
}

// sweep marks grants past their expiry as expired, once.
func (g *gw) sweep(ctx context.Context) {
	n, err := g.store.ExpireGrants(ctx)
	if err != nil {
		if ctx.Err() == nil {
			g.log.Warn("grant expiry sweep failed", slog.String("error", err.Error()))
		}
		return
	}
	if n > 0 {
		g.log.Info("grants expired", slog.Int64("count", n))
	}
}

// every runs do every interval until ctx ends, and returns a function that
// stops it and waits for a run under way to finish. The background work of
// a gateway (the expiry sweeper, the renewer, the CA reloader) runs on it.
func every(ctx context.Context, interval time.Duration, do func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				do(ctx)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
