package httpapi

import (
	"container/list"
	"context"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/mosaicgw/mosaic/federation"
)

// Defaults of the enrollment rate limit: a source may send a burst of 5
// enrollment requests, then one every 6 seconds (10 a minute). A peer
// enrolls with one request, or a few after lost answers.
const (
	DefaultEnrollPerMinute   = 10
	DefaultEnrollBurst       = 5
	DefaultEnrollSources     = 10000
	DefaultEnrollAuditWindow = time.Minute
)

// auditReportTimeout bounds the write of one rate-limit audit event.
const auditReportTimeout = 10 * time.Second

// EnrollmentLimit is the per-source rate limit of the enrollment endpoint:
// a token bucket per client address (per /64 block for IPv6). A request
// over the limit is answered 429 "rate_limited" with a Retry-After before
// its body is read or the database is touched. The refusals of one source
// are audited together, one event per source per window.
type EnrollmentLimit struct {
	// PerMinute is how many requests a source may send per minute once its
	// burst is spent. Zero means DefaultEnrollPerMinute; a negative value
	// turns the limit off (for a gateway behind a proxy that limits).
	PerMinute int
	// Burst is how many requests a source may send at once. Zero means
	// DefaultEnrollBurst.
	Burst int
	// MaxSources bounds the sources remembered at once; when it is reached
	// the one seen least recently is forgotten. Zero means
	// DefaultEnrollSources.
	MaxSources int
	// AuditWindow is how long the refusals of one source are counted into
	// one audit event. Zero means DefaultEnrollAuditWindow.
	AuditWindow time.Duration
}

// withDefaults returns l with its zero fields set to the defaults.
func (l EnrollmentLimit) withDefaults() EnrollmentLimit {
	if l.PerMinute == 0 {
		l.PerMinute = DefaultEnrollPerMinute
	}
	if l.Burst <= 0 {
		l.Burst = DefaultEnrollBurst
	}
	if l.MaxSources <= 0 {
		l.MaxSources = DefaultEnrollSources
	}
	if l.AuditWindow <= 0 {
		l.AuditWindow = DefaultEnrollAuditWindow
	}
	return l
}

// limiter keeps a token bucket per source, and the refusals of each source
// in its current audit window. Its memory is bounded by MaxSources: a
// forgotten source's refusals are carried in one overflow count, reported
// with the next windows.
type limiter struct {
	rate   float64 // tokens per second
	burst  float64
	max    int
	window time.Duration
	now    func() time.Time
	// after runs f after d (time.AfterFunc); report writes one closed
	// window, without the lock held.
	after  func(d time.Duration, f func())
	report func(federation.RateLimited)

	mu       sync.Mutex
	sources  map[string]*source
	lru      *list.List // of *source, most recently seen first
	open     *list.List // of *source with an open window, oldest first
	overflow federation.RateLimited
	flushing bool // a flush is scheduled
}

// source is what the limiter knows of one client address.
type source struct {
	key    string
	tokens float64
	seen   time.Time // when tokens was last brought up to date
	lruEl  *list.Element
	// The open audit window, if refused > 0.
	refused int
	firstID string
	since   time.Time
	openEl  *list.Element
}

// newLimiter returns the limiter of l, or nil when l turns it off. Closed
// windows are passed to report.
func newLimiter(l EnrollmentLimit, report func(federation.RateLimited)) *limiter {
	if l.PerMinute < 0 {
		return nil
	}
	l = l.withDefaults()
	return &limiter{
		rate:    float64(l.PerMinute) / 60,
		burst:   float64(l.Burst),
		max:     l.MaxSources,
		window:  l.AuditWindow,
		now:     time.Now,
		after:   func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		report:  report,
		sources: map[string]*source{},
		lru:     list.New(),
		open:    list.New(),
	}
}

// allow takes a token from the bucket of key. When there is none it counts
// the refusal of request id in the source's audit window and returns how
// long until a token is back.
func (l *limiter) allow(key, id string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	src := l.lookup(key, now)

	// Refill for the time since the source was last seen.
	if elapsed := now.Sub(src.seen); elapsed > 0 {
		src.tokens = math.Min(l.burst, src.tokens+elapsed.Seconds()*l.rate)
	}
	src.seen = now
	if src.tokens >= 1 {
		src.tokens--
		return true, 0
	}

	if src.refused == 0 {
		src.since, src.firstID = now, id
		src.openEl = l.open.PushBack(src)
		l.schedule(now)
	}
	src.refused++
	wait := time.Duration((1 - src.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// lookup returns the source of key, most recently seen from now on. A new
// source starts with a full bucket; if the limiter is full, the source
// seen least recently is forgotten first.
func (l *limiter) lookup(key string, now time.Time) *source {
	if src, ok := l.sources[key]; ok {
		l.lru.MoveToFront(src.lruEl)
		return src
	}
	if len(l.sources) >= l.max {
		l.forget(l.lru.Back().Value.(*source))
	}
	src := &source{key: key, tokens: l.burst, seen: now}
	src.lruEl = l.lru.PushFront(src)
	l.sources[key] = src
	return src
}

// forget drops src. Refusals of its open window move to the overflow
// count, so that they are still reported.
func (l *limiter) forget(src *source) {
	delete(l.sources, src.key)
	l.lru.Remove(src.lruEl)
	if src.refused == 0 {
		return
	}
	l.open.Remove(src.openEl)
	if l.overflow.Refused == 0 {
		l.overflow.RequestID, l.overflow.Since = src.firstID, src.since
	}
	l.overflow.Refused += src.refused
	src.refused = 0
}

// schedule makes sure a flush runs when the oldest open window closes. An
// open window always has a flush scheduled; the caller holds the lock.
func (l *limiter) schedule(now time.Time) {
	front := l.open.Front()
	if l.flushing || front == nil {
		return
	}
	l.flushing = true
	l.after(max(front.Value.(*source).since.Add(l.window).Sub(now), 0), l.flush)
}

// flush reports the windows that have closed and schedules the next flush.
func (l *limiter) flush() {
	l.mu.Lock()
	now := l.now()
	l.flushing = false
	due := l.due(now)
	l.schedule(now)
	l.mu.Unlock()
	for _, rl := range due {
		l.report(rl)
	}
}

// due closes the windows that ended by now and returns them, with the
// overflow count if there is one. The caller holds the lock.
func (l *limiter) due(now time.Time) []federation.RateLimited {
	var out []federation.RateLimited
	if l.overflow.Refused > 0 {
		out = append(out, l.overflow)
		l.overflow = federation.RateLimited{}
	}
	for e := l.open.Front(); e != nil; e = l.open.Front() {
		src := e.Value.(*source)
		if now.Before(src.since.Add(l.window)) {
			break
		}
		out = append(out, federation.RateLimited{
			Source: src.key, RequestID: src.firstID, Since: src.since, Refused: src.refused,
		})
		l.open.Remove(e)
		src.refused, src.firstID, src.openEl = 0, "", nil
	}
	return out
}

// sourceKey returns what a client address counts against: the IPv4
// address itself, or the /64 block of an IPv6 address, since one IPv6
// host commonly has a whole /64 to pick addresses from. An address that
// does not parse counts as itself.
func sourceKey(remoteAddr string) string {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(remoteAddr); err == nil {
		addr = a
	} else {
		return remoteAddr
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	block, err := addr.Prefix(64)
	if err != nil {
		return addr.String()
	}
	return block.String()
}

// TODO(audit-flood): requests to unknown federation paths and reads
// without a valid client certificate are audited one event each and not
// rate limited; they would need the same per-source counting.
//
// TODO(rate-limit-replicas): each replica counts on its own, so N replicas
// allow N times the rate, and the refusals counted in a window still open
// when the process stops are not audited.

// limitEnrollment refuses an enrollment request of a source over its rate
// limit with 429 "rate_limited" and a Retry-After in seconds, before
// anything else looks at it: no body is read, no database touched, and no
// audit event written for it alone (the limiter writes one per source per
// window). Every request under the enrollment path counts, whatever its
// method or form.
func (s *server) limitEnrollment(l *limiter, next http.Handler) http.Handler {
	return s.limitPath(l, federation.IsEnrollmentPath, endpointEnrollment, next)
}

// limitRenewal refuses a renewal request of a source over its rate limit,
// as limitEnrollment does for enrollments, with a limiter of its own so
// that renewals and enrollments do not use up each other's allowance.
// Every request to the renewal path counts, whatever its method.
func (s *server) limitRenewal(l *limiter, next http.Handler) http.Handler {
	isRenewal := func(p string) bool { return p == federation.RenewPath }
	return s.limitPath(l, isRenewal, endpointRenewal, next)
}

// limitPath refuses a request whose path matches, from a source over its
// rate limit in l, with 429 "rate_limited" and a Retry-After, and counts
// each refusal in the rate-limit metric under endpoint, which also names
// the requests in the answer. A nil l limits nothing.
func (s *server) limitPath(l *limiter, match func(string) bool, endpoint string,
	next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		ok, wait := l.allow(sourceKey(r.RemoteAddr), federation.RequestID(r.Context()))
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		s.metrics.rateLimitHit(endpoint)
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(wait)))
		writeErrorBody(w, r, http.StatusTooManyRequests, "rate_limited",
			"too many "+endpoint+" requests from this address, try again later")
	})
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// reportRateLimited returns the function that audits a closed window
// through svc, under the audited verb of the requests it limits. It runs
// outside any request, so it has its own deadline.
func reportRateLimited(svc *federation.Service, verb string) func(federation.RateLimited) {
	return func(rl federation.RateLimited) {
		ctx, cancel := context.WithTimeout(context.Background(), auditReportTimeout)
		defer cancel()
		rl.Verb = verb
		svc.RecordRateLimited(ctx, rl)
	}
}
