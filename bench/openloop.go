package bench

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// LateAfter is how far behind its schedule an open-loop request may be
// sent before it counts as late.
const LateAfter = time.Millisecond

// schedule is the fixed send schedule of one client of an open-loop load:
// its k-th request is due at start + offset + k × interval.
type schedule struct {
	start    time.Time
	offset   time.Duration
	interval time.Duration
}

// newSchedules spreads rate requests per second evenly over clients
// schedules starting at start: each client sends one request every
// clients/rate seconds, client i due i/rate seconds after client 0, so
// that together they send one request every 1/rate seconds.
func newSchedules(start time.Time, rate float64, clients int) []schedule {
	out := make([]schedule, clients)
	interval := time.Duration(float64(clients) / rate * float64(time.Second))
	for i := range out {
		out[i] = schedule{
			start:    start,
			offset:   time.Duration(float64(i) / rate * float64(time.Second)),
			interval: interval,
		}
	}
	return out
}

// at returns when the k-th request is due.
func (s schedule) at(k int) time.Time {
	return s.start.Add(s.offset + time.Duration(k)*s.interval)
}

// dueIn counts the requests from the k-th on that are due in [from, to).
func (s schedule) dueIn(k int, from, to time.Time) int {
	n := 0
	for ; s.at(k).Before(to); k++ {
		if !s.at(k).Before(from) {
			n++
		}
	}
	return n
}

// addOpen records an open-loop request due at due, sent at sent and
// answered (or failed) at done. Its latency counts from when it was due,
// so that a request held back by a slow answer before it pays for the
// wait, as it would with a client that does not wait for the server.
func (t *tally) addOpen(due, sent, done time.Time, o outcome) {
	if sent.Sub(due) > LateAfter {
		t.late++
	}
	if done.After(t.last) {
		t.last = done
	}
	o.latency = done.Sub(due)
	t.add(o)
}

// notSent is the error of the requests a client had not sent when the
// phase's grace ran out.
const notSent = "not sent: the client was still behind schedule when the phase ended"

// openPhase runs an open-loop read load: every client follows its
// schedule for cfg.Warmup (not counted) and then cfg.Duration. A client
// whose answer comes after its next request was due sends that one at
// once, late. Requests still unanswered readGrace after the end, and
// those not sent by then, count as failed. The rate is that of the
// requests due in the measured phase, over the time from its start to the
// end or to their last answer, whichever is later.
func openPhase(ctx context.Context, clients []*http.Client, cfg ReadConfig,
	do func(context.Context, *http.Client) outcome) *Result {
	start := time.Now()
	from := start.Add(cfg.Warmup)
	end := from.Add(cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, end.Add(readGrace))
	defer cancel()

	// The processor time of the measured phase starts at from.
	var cpuMu sync.Mutex
	cpu := processCPU()
	cpuAt := time.AfterFunc(time.Until(from), func() {
		cpuMu.Lock()
		cpu = processCPU()
		cpuMu.Unlock()
	})
	defer cpuAt.Stop()

	scheds := newSchedules(start, cfg.Rate, len(clients))
	tallies := make([]*tally, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		t := &tally{lat: make([]time.Duration, 0, 4096)}
		tallies[i] = t
		wg.Go(func() { follow(ctx, c, scheds[i], from, end, t, do) })
	}
	wg.Wait()

	last := end
	for _, t := range tallies {
		if t.last.After(last) {
			last = t.last
		}
	}
	r := summarize(tallies, last.Sub(from))
	cpuMu.Lock()
	r.CPUSeconds = processCPU() - cpu
	cpuMu.Unlock()
	r.TargetRPS = cfg.Rate
	return r
}

// follow sends c's requests on schedule s until the first one due at or
// after end, recording those due from from on in t.
func follow(ctx context.Context, c *http.Client, s schedule, from, end time.Time, t *tally,
	do func(context.Context, *http.Client) outcome) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for k := 0; s.at(k).Before(end); k++ {
		due := s.at(k)
		if !waitUntil(ctx, timer, due) {
			if n := s.dueIn(k, from, end); n > 0 {
				t.errs += n
				if t.first == "" {
					t.first = notSent
				}
			}
			return
		}
		sent := time.Now()
		o := do(ctx, c)
		if !due.Before(from) {
			t.addOpen(due, sent, time.Now(), o)
		}
	}
}

// waitUntil waits on timer until at, and reports false if ctx ended
// first (or had ended already).
func waitUntil(ctx context.Context, timer *time.Timer, at time.Time) bool {
	if ctx.Err() != nil {
		return false
	}
	d := time.Until(at)
	if d <= 0 {
		return true
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
