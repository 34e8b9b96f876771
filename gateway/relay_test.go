package gateway_test

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// relay forwards TCP connections to a target, so that a test can cut a
// gateway off from its database and reconnect it. While down it closes
// every connection it relays and every new one at once.
type relay struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startRelay listens on a loopback port and forwards to target until the
// test ends.
func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		ln.Close()
		r.setDown(true)
		r.wg.Wait()
	})
	return r
}

// relayedURL starts a relay to the server of the PostgreSQL URL dbURL and
// returns the URL that reaches the same database through the relay.
func relayedURL(t *testing.T, dbURL string) (*relay, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil || u.Hostname() == "" {
		t.Skip("the test PostgreSQL URL names no TCP host to relay to")
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	r := startRelay(t, net.JoinHostPort(u.Hostname(), port))
	u.Host = r.ln.Addr().String()
	return r, u.String()
}

// setDown cuts every relayed connection and refuses new ones (true), or
// relays again (false).
func (r *relay) setDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
	if down {
		for c := range r.conns {
			c.Close()
		}
	}
}

// accept relays each connection until the listener is closed.
func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			c.Close()
			continue
		}
		r.wg.Add(1)
		go r.pipe(c)
	}
}

// track remembers c so that setDown can cut it; it reports false while the
// relay is down.
func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

// untrack forgets c.
func (r *relay) untrack(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
}

// pipe connects client to the target and copies both ways until either
// side ends.
func (r *relay) pipe(client net.Conn) {
	defer r.wg.Done()
	defer r.untrack(client)
	defer client.Close()
	server, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	if !r.track(server) {
		server.Close()
		return
	}
	defer r.untrack(server)
	defer server.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(server, client)
		server.Close()
		close(done)
	}()
	io.Copy(client, server)
	client.Close()
	<-done
}
