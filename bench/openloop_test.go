package bench

import (
	"context"
	"crypto/tls"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewSchedules(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		rate    float64
		clients int
		// want are the first due times of all clients together, as
		// offsets from start.
		want []time.Duration
	}{
		{"one client", 100, 1, []time.Duration{0, 10, 20, 30}},
		{"four clients share the rate", 1000, 4, []time.Duration{0, 1, 2, 3, 4, 5, 6, 7}},
		{"slow rate over two", 2, 2, []time.Duration{0, 500, 1000, 1500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scheds := newSchedules(start, tt.rate, tt.clients)
			var got []time.Duration
			for _, s := range scheds {
				for k := range len(tt.want) / tt.clients {
					got = append(got, s.at(k).Sub(start)/time.Millisecond)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("due times %v ms, want %v ms", got, tt.want)
			}
			// Each client keeps its own place in the schedule.
			step := scheds[0].interval / time.Duration(tt.clients)
			for i, s := range scheds {
				if want := time.Duration(i) * step; s.offset != want {
					t.Errorf("client %d starts %s after client 0, want %s", i, s.offset, want)
				}
			}
		})
	}
}

func TestScheduleDueIn(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newSchedules(start, 100, 1)[0] // every 10 ms
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name     string
		k        int
		from, to time.Time
		want     int
	}{
		{"the whole window", 0, at(0), at(100), 10},
		{"after a warm-up", 0, at(30), at(100), 7},
		{"from the 5th request on", 5, at(30), at(100), 5},
		{"past the window", 11, at(30), at(100), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.dueIn(tt.k, tt.from, tt.to); got != tt.want {
				t.Errorf("dueIn = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTallyAddOpen(t *testing.T) {
	due := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(n float64) time.Time { return due.Add(time.Duration(n * float64(time.Millisecond))) }
	tests := []struct {
		name        string
		sent, done  time.Time
		o           outcome
		wantLatency time.Duration
		wantLate    int
		wantErrs    int
	}{
		{"on time", ms(0.2), ms(3), outcome{ok: true}, 3 * time.Millisecond, 0, 0},
		{"just within a millisecond", ms(1), ms(2), outcome{ok: true}, 2 * time.Millisecond, 0, 0},
		// Held back 40 ms by the answer before: the wait counts.
		{"late", ms(40), ms(42), outcome{ok: true}, 42 * time.Millisecond, 1, 0},
		{"late and failed", ms(5), ms(6), outcome{err: "status 503"}, 0, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl tally
			// The outcome's own latency, counted from the send, is replaced.
			tt.o.latency = tt.done.Sub(tt.sent)
			tl.addOpen(due, tt.sent, tt.done, tt.o)
			if tl.late != tt.wantLate || tl.errs != tt.wantErrs || !tl.last.Equal(tt.done) {
				t.Errorf("late %d, errors %d, last %s; want %d, %d, %s", tl.late, tl.errs,
					tl.last, tt.wantLate, tt.wantErrs, tt.done)
			}
			if tt.wantErrs == 0 && (len(tl.lat) != 1 || tl.lat[0] != tt.wantLatency) {
				t.Errorf("latencies %v, want [%s]", tl.lat, tt.wantLatency)
			}
		})
	}
}

// openLoad runs an open-loop read load against h and returns its result.
func openLoad(t *testing.T, h http.Handler, cfg ReadConfig) *Result {
	t.Helper()
	f := newTLSFiles(t, t.TempDir())
	url := serveTLS(t, f, tls.RequireAnyClientCert, h)
	tlsCfg, err := ClientTLS(f.serverCA, f.clientCert, f.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg.URL, cfg.TLS = url+"/page", tlsCfg
	res, err := RunReads(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunReadsOpenLoop(t *testing.T) {
	var served atomic.Int64
	res := openLoad(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Write([]byte(`{"items":[]}`))
	}), ReadConfig{Clients: 4, Rate: 400, Warmup: 100 * time.Millisecond,
		Duration: 500 * time.Millisecond})

	// 400/s for 0.5 s: 200 requests due in the measured phase, 40 before.
	if res.Requests < 196 || res.Requests > 204 || res.Errors != 0 {
		t.Errorf("%d requests (%d failed) measured, want 200", res.Requests, res.Errors)
	}
	if n := served.Load(); n < 236 || n > 244 {
		t.Errorf("server answered %d requests, want 240 with the warm-up", n)
	}
	if res.TargetRPS != 400 || res.RPS < 300 || res.RPS > 420 {
		t.Errorf("rate %.0f/s of %.0f/s asked, want about 400", res.RPS, res.TargetRPS)
	}
	if res.P50Ms <= 0 || res.P99Ms < res.P50Ms {
		t.Errorf("p50 %.2f ms, p99 %.2f ms: want ordered latencies", res.P50Ms, res.P99Ms)
	}
}

func TestRunReadsOpenLoopCountsTheWait(t *testing.T) {
	// One client at 100/s; the 30th answer takes 300 ms. The 30 or so
	// requests due meanwhile wait for it: a closed-loop client would
	// report one slow request, an open-loop one all those that waited.
	var served atomic.Int64
	res := openLoad(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == 30 {
			time.Sleep(300 * time.Millisecond)
		}
		w.Write([]byte(`{"items":[]}`))
	}), ReadConfig{Clients: 1, Rate: 100, Duration: time.Second})

	if res.Requests != 100 || res.Errors != 0 {
		t.Errorf("%d requests (%d failed), want the 100 due", res.Requests, res.Errors)
	}
	if res.Late < 20 {
		t.Errorf("%d requests sent late, want the 20 or more held back by the slow answer",
			res.Late)
	}
	if res.P99Ms < 250 {
		t.Errorf("p99 %.1f ms, want at least 250 ms: the wait behind the slow answer counts",
			res.P99Ms)
	}
	if res.P50Ms > 150 {
		t.Errorf("p50 %.1f ms, want the unaffected half fast", res.P50Ms)
	}
}

func TestRunReadsOpenLoopBehindSchedule(t *testing.T) {
	// Answers take 40 ms; one client is asked for 100/s for 300 ms. It
	// falls further behind with every request, and what it has not sent
	// 2 s after the end counts as failed.
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	var served atomic.Int64
	res := openLoad(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) > 5 {
			<-block
		}
		time.Sleep(40 * time.Millisecond)
		w.Write([]byte(`{"items":[]}`))
	}), ReadConfig{Clients: 1, Rate: 100, Duration: 300 * time.Millisecond})

	if res.Requests != 30 || res.Errors != 25 || res.FirstError == "" {
		t.Errorf("%d requests, %d failed (%q): want 30, the 25 not answered failed",
			res.Requests, res.Errors, res.FirstError)
	}
	if res.RPS > 5/0.3 {
		t.Errorf("rate %.1f/s, want at most the 5 answered over the phase", res.RPS)
	}
}
