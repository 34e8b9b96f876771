package gateway_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/gateway"
)

// load keeps gateways busy through their admin APIs: one client reads from
// the fixture's peer (which opens the sealed peer key on every request),
// another stores a credential every 100 ms (which seals a new value). Each
// request goes to the next of the gateways aimed at. Every request must
// succeed.
type load struct {
	f    *rotationFixture
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	targets  []*gateway.AdminInfo
	next     int
	inFlight map[*gateway.AdminInfo]int
	failures []string
	reads    int
	writes   int
}

// startLoad starts the two clients on targets.
func startLoad(f *rotationFixture, targets ...*gateway.AdminInfo) *load {
	l := &load{f: f, stop: make(chan struct{}), targets: targets,
		inFlight: map[*gateway.AdminInfo]int{}}
	l.wg.Go(func() { l.loop(f.tryQuery, &l.reads, 0) })
	l.wg.Go(func() {
		l.loop(func(info *gateway.AdminInfo) error {
			id, secret, err := f.tryCredential(info)
			if err == nil {
				l.mu.Lock()
				f.creds[id] = secret
				l.mu.Unlock()
			}
			return err
		}, &l.writes, 100*time.Millisecond)
	})
	return l
}

// loop sends requests with do until the load stops, counting successes.
func (l *load) loop(do func(*gateway.AdminInfo) error, count *int, pause time.Duration) {
	for {
		select {
		case <-l.stop:
			return
		case <-time.After(pause):
		}
		l.mu.Lock()
		info := l.targets[l.next%len(l.targets)]
		l.next++
		l.inFlight[info]++
		l.mu.Unlock()

		err := do(info)

		l.mu.Lock()
		l.inFlight[info]--
		if err != nil {
			l.failures = append(l.failures, fmt.Sprintf("%s: %v", info.AdminURL, err))
		} else {
			*count++
		}
		l.mu.Unlock()
	}
}

// aim sends the next requests to targets only, and returns once no
// request to another gateway is in flight, so that it may be stopped.
func (l *load) aim(targets ...*gateway.AdminInfo) {
	l.mu.Lock()
	l.targets = targets
	l.mu.Unlock()
	for {
		busy := false
		l.mu.Lock()
		for info, n := range l.inFlight {
			busy = busy || (n > 0 && !contains(targets, info))
		}
		l.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// contains reports whether info is one of infos.
func contains(infos []*gateway.AdminInfo, info *gateway.AdminInfo) bool {
	for _, i := range infos {
		if i == info {
			return true
		}
	}
	return false
}

// counts returns the successful reads and writes so far.
func (l *load) counts() (int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads, l.writes
}

// waitBusy waits until a few more reads and a write have succeeded.
func (l *load) waitBusy(t *testing.T) {
	t.Helper()
	reads, writes := l.counts()
	waitFor(t, "requests to succeed", func() bool {
		r, w := l.counts()
		return r >= reads+5 && w >= writes+1
	})
}

// during runs action under the load and checks that the gateways were
// busy meanwhile: at least 10 reads and 3 writes.
func (l *load) during(t *testing.T, action func() rotateReport) rotateReport {
	t.Helper()
	reads, writes := l.counts()
	rep := action()
	r, w := l.counts()
	if r-reads < 10 || w-writes < 3 {
		t.Errorf("%d reads and %d writes during the rotation: too few to show anything",
			r-reads, w-writes)
	}
	t.Logf("during the rotation: %d reads, %d credentials stored; report %+v", r-reads,
		w-writes, rep.RotateReport)
	return rep
}

// finish lets the load run a little longer, stops it and fails the test if
// any request failed.
func (l *load) finish(t *testing.T) {
	t.Helper()
	l.waitBusy(t)
	close(l.stop)
	l.wg.Wait()
	if len(l.failures) > 0 {
		t.Errorf("%d requests failed under load, first: %s", len(l.failures), l.failures[0])
	}
}
