package httpapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/federation"
)

// fakeLimiter is a limiter on a clock the test moves, whose flushes the
// test runs by hand.
type fakeLimiter struct {
	*limiter
	clock     time.Time
	scheduled []time.Duration
}

// newFakeLimiter returns a limiter of l on a fake clock.
func newFakeLimiter(t *testing.T, l EnrollmentLimit) *fakeLimiter {
	t.Helper()
	f := &fakeLimiter{clock: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	f.limiter = newLimiter(l, func(federation.RateLimited) {
		t.Error("a window was reported through the timer; the test flushes by hand")
	})
	f.now = func() time.Time { return f.clock }
	f.after = func(d time.Duration, _ func()) { f.scheduled = append(f.scheduled, d) }
	return f
}

// due closes the windows that ended by now, as a flush would.
func (f *fakeLimiter) closeWindows() []federation.RateLimited {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushing = false
	out := f.due(f.clock)
	f.schedule(f.clock)
	return out
}

func TestLimiterBucket(t *testing.T) {
	l := newFakeLimiter(t, EnrollmentLimit{PerMinute: 60, Burst: 2})
	steps := []struct {
		name    string
		advance time.Duration
		ok      bool
		wait    time.Duration
	}{
		{"burst 1", 0, true, 0},
		{"burst 2", 0, true, 0},
		{"burst spent", 0, false, time.Second},
		{"half a token back", 500 * time.Millisecond, false, 500 * time.Millisecond},
		{"a token back", 500 * time.Millisecond, true, 0},
		{"spent again", 0, false, time.Second},
		{"long pause refills the burst only", time.Hour, true, 0},
		{"second of the burst", 0, true, 0},
		{"no more than the burst", 0, false, time.Second},
	}
	for _, st := range steps {
		l.clock = l.clock.Add(st.advance)
		ok, wait := l.allow("192.0.2.1", "r")
		if ok != st.ok || wait != st.wait {
			t.Errorf("%s: allow = %v, wait %s; want %v, %s", st.name, ok, wait, st.ok, st.wait)
		}
	}
	if ok, _ := l.allow("192.0.2.2", "r"); !ok {
		t.Error("another source shares the spent bucket")
	}
}

func TestLimiterDefaults(t *testing.T) {
	l := newFakeLimiter(t, EnrollmentLimit{})
	for i := range DefaultEnrollBurst {
		if ok, _ := l.allow("192.0.2.1", "r"); !ok {
			t.Fatalf("request %d of the default burst refused", i+1)
		}
	}
	ok, wait := l.allow("192.0.2.1", "r")
	if want := time.Minute / DefaultEnrollPerMinute; ok || wait != want {
		t.Errorf("after the burst: allow = %v, wait %s; want refused, %s", ok, wait, want)
	}
	if off := newLimiter(EnrollmentLimit{PerMinute: -1}, nil); off != nil {
		t.Error("a negative rate did not turn the limit off")
	}
}

func TestLimiterAuditWindows(t *testing.T) {
	l := newFakeLimiter(t, EnrollmentLimit{PerMinute: 1, Burst: 1, AuditWindow: time.Minute})
	l.allow("192.0.2.1", "first")
	for i := range 40 {
		l.clock = l.clock.Add(time.Second / 2)
		l.allow("192.0.2.1", fmt.Sprint("refused-", i))
	}
	if len(l.scheduled) != 1 || l.scheduled[0] != time.Minute {
		t.Fatalf("flushes scheduled: %v, want one in 1m", l.scheduled)
	}
	// A flush before the window's end closes nothing and comes back when
	// it ends.
	if got := l.closeWindows(); len(got) != 0 {
		t.Fatalf("windows closed before their end: %+v", got)
	}
	if len(l.scheduled) != 2 || l.scheduled[1] != time.Minute-39*time.Second/2 {
		t.Fatalf("flushes scheduled: %v, want a second one at the window's end", l.scheduled)
	}

	l.clock = l.clock.Add(time.Minute)
	got := l.closeWindows()
	want := federation.RateLimited{Source: "192.0.2.1", RequestID: "refused-0",
		Since: l.clock.Add(-time.Minute - 39*time.Second/2), Refused: 40}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("closed windows = %+v, want [%+v]", got, want)
	}
	if len(l.scheduled) != 2 {
		t.Errorf("a flush was scheduled with no window open: %v", l.scheduled)
	}

	// The next refusal opens the next window.
	if ok, _ := l.allow("192.0.2.1", "spend"); !ok {
		t.Fatal("no token back after a minute")
	}
	l.allow("192.0.2.1", "later")
	l.clock = l.clock.Add(time.Minute)
	if got := l.closeWindows(); len(got) != 1 || got[0].Refused != 1 ||
		got[0].RequestID != "later" {
		t.Errorf("second window = %+v, want one refusal of request later", got)
	}
}

func TestLimiterBoundedSources(t *testing.T) {
	const maxSources = 3
	l := newFakeLimiter(t, EnrollmentLimit{PerMinute: 1, Burst: 1, MaxSources: maxSources})
	// Ten sources each spend their burst and get refused twice.
	for i := range 10 {
		src := fmt.Sprintf("192.0.2.%d", i)
		for range 3 {
			l.allow(src, src)
		}
		if len(l.sources) > maxSources || l.lru.Len() > maxSources || l.open.Len() > maxSources {
			t.Fatalf("after %d sources: %d tracked, %d in order, %d open windows",
				i+1, len(l.sources), l.lru.Len(), l.open.Len())
		}
	}

	// Every refusal is reported: the forgotten sources' together.
	l.clock = l.clock.Add(time.Hour)
	got := l.closeWindows()
	total, perSource := 0, 0
	for _, rl := range got {
		total += rl.Refused
		if rl.Source != "" {
			perSource++
		}
	}
	if total != 20 || perSource != maxSources || len(got) != maxSources+1 {
		t.Errorf("reports = %+v; want %d refusals, %d sources and one overflow", got, 20,
			maxSources)
	}
	if got[0].Source != "" || got[0].RequestID != "192.0.2.0" {
		t.Errorf("overflow report = %+v, want the first forgotten request", got[0])
	}
}

func TestSourceKey(t *testing.T) {
	tests := []struct{ name, addr, want string }{
		{"IPv4", "192.0.2.1:443", "192.0.2.1"},
		{"IPv4 without port", "192.0.2.1", "192.0.2.1"},
		{"IPv4-mapped IPv6", "[::ffff:192.0.2.1]:443", "192.0.2.1"},
		{"IPv6", "[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"IPv6 same block", "[2001:db8:1:2:ffff::1]:1", "2001:db8:1:2::/64"},
		{"IPv6 with zone", "[fe80::1%eth0]:443", "fe80::/64"},
		{"not an address", "pipe", "pipe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sourceKey(tc.addr); got != tc.want {
				t.Errorf("sourceKey(%q) = %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
}

func TestRetrySeconds(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want int
	}{
		{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2},
		{6 * time.Second, 6},
	}
	for _, tc := range tests {
		if got := retrySeconds(tc.wait); got != tc.want {
			t.Errorf("retrySeconds(%s) = %d, want %d", tc.wait, got, tc.want)
		}
	}
}
