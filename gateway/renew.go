package gateway

import (
	"context"
	"log/slog"
	"time"
)

// DefaultRenewInterval is how often the gateway looks for outbound
// certificates due for renewal when Config.RenewInterval is zero.
const DefaultRenewInterval = time.Minute

// startRenewer renews, every interval until ctx ends, our certificates
// from outbound peers whose renewal is due, and returns a function that
// stops it and waits for it to finish. Replicas may all run it: a lease in
// the database lets one at a time renew a given peer.
func (g *gw) startRenewer(ctx context.Context, interval time.Duration) (stop func()) {
	return every(ctx, interval, g.renewDue)
}

// renewDue runs one renewal pass. Each peer's failure is recorded and
// logged by the pass itself; a pass that cannot list the peers is logged
// here.
func (g *gw) renewDue(ctx context.Context) {
	if _, err := g.svc.RenewDue(ctx); err != nil && ctx.Err() == nil {
		g.log.Warn("certificate renewal pass failed", slog.String("error", err.Error()))
	}
}
