package httpapi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// maxCorked is how many bytes a corked connection holds back before it
// writes them anyway.
const maxCorked = 64 << 10

// A corkConn is a connection, under TLS, that can hold back what is written
// to it while an answer is being written, then send it with one write:
// net/http writes an answer's headers and body, and TLS each record of
// them, as writes of their own, each a system call and a packet of its
// own. Corked, a 25 KB answer leaves in one write instead of three.
//
// It is corked only from the moment a handler starts answering until the
// handler returns (see corkAnswer), so nothing waits in it while the
// server waits for the client. CloseWrite sends what it holds first;
// reads go straight through.
//
// What it held is written without its lock, so that a write arriving
// meanwhile, such as the alert TLS sends as it closes, queues behind it
// rather than wait for a client that may never read. Close never writes:
// it closes at once, which ends any write under way.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    []byte // held bytes
	// writing, while held bytes are written without the lock, is closed
	// when that write ends; nil when none is under way.
	writing chan struct{}
	err     error // the error of a failed write, returned by every later one
}

// CorkListener returns ln with its connections able to hold back their
// writes while an answer is written. Give the server ConnContext too.
func CorkListener(ln net.Listener) net.Listener { return &corkListener{ln} }

type corkListener struct{ net.Listener }

func (l *corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &corkConn{Conn: c}, nil
}

// Write holds b back while the connection is corked, else writes it.
// While held bytes are being written, b is held behind them, or, when it
// does not fit, waits for them.
func (c *corkConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && c.writing != nil && len(c.buf)+len(b) > maxCorked {
		c.waitWrite()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.writing != nil {
		c.buf = append(c.buf, b...)
		return len(b), nil
	}
	if !c.corked {
		return c.write(b)
	}
	if len(c.buf)+len(b) > maxCorked {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(b) > maxCorked {
			return c.write(b)
		}
	}
	c.buf = append(c.buf, b...)
	return len(b), nil
}

// write writes b to the connection, keeping a failure for later writes.
func (c *corkConn) write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		c.err = err
	}
	return n, err
}

// waitWrite waits, without the lock, for the write of held bytes under
// way to end.
func (c *corkConn) waitWrite() {
	ended := c.writing
	c.mu.Unlock()
	<-ended
	c.mu.Lock()
}

// flushLocked writes what the connection holds back, and what is held
// behind it meanwhile. It lets go of the lock while it writes; a caller
// that finds another write of held bytes under way waits for it.
func (c *corkConn) flushLocked() error {
	for c.writing != nil && c.err == nil {
		c.waitWrite()
	}
	for len(c.buf) > 0 && c.err == nil {
		out, ended := c.buf, make(chan struct{})
		c.buf, c.writing = nil, ended
		c.mu.Unlock()
		_, err := c.Conn.Write(out)
		c.mu.Lock()
		c.writing = nil
		close(ended)
		if err != nil {
			c.err = err
		}
		// One buffer kept for the next answer, unless it grew past the
		// bound (a write larger than it) or bytes were held meanwhile.
		if len(c.buf) == 0 && cap(out) <= maxCorked {
			c.buf = out[:0]
		}
	}
	c.buf = c.buf[:0]
	return c.err
}

// flush writes what is held back, still corked.
func (c *corkConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

// cork starts holding writes back.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was held back and stops holding writes back.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

// Close closes the connection. What it still holds is part of an answer
// that closing abandons (an answer that ended was sent as it ended):
// writing it to a client that may not read would only hold Close up.
func (c *corkConn) Close() error { return c.Conn.Close() }

// CloseWrite sends what is held back, then shuts the writing side, when
// the connection can.
func (c *corkConn) CloseWrite() error {
	if err := c.uncork(); err != nil {
		return err
	}
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn returns the connection underneath.
func (c *corkConn) NetConn() net.Conn { return c.Conn }

// corkKey is the context key of a connection's *corkConn.
type corkKey struct{}

// ConnContext is the http.Server ConnContext that lets handlers cork the
// connections of a CorkListener under TLS.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if cc, ok := c.(*corkConn); ok {
		return context.WithValue(ctx, corkKey{}, cc)
	}
	return ctx
}

// corkedAnswer is a ResponseWriter that corks the connection when the
// answer starts, so that its headers and body leave together when the
// handler returns (see finish). Only HTTP/1 answers are corked: an HTTP/2
// connection carries other streams, and the window updates of their
// uploads, that must not wait for this one.
type corkedAnswer struct {
	http.ResponseWriter
	conn   *corkConn
	corked bool
}

// corkAnswer wraps w to cork r's connection while the answer is written,
// or returns w itself when r's connection cannot be corked.
func corkAnswer(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *corkedAnswer) {
	c, ok := r.Context().Value(corkKey{}).(*corkConn)
	if !ok || r.ProtoMajor != 1 {
		return w, nil
	}
	a := &corkedAnswer{ResponseWriter: w, conn: c}
	return a, a
}

// WriteHeader corks the connection, unless status is informational (1xx:
// "100 Continue", "103 Early Hints"), which must leave at once, and passes
// it on.
func (a *corkedAnswer) WriteHeader(status int) {
	if status >= 200 {
		a.start()
	}
	a.ResponseWriter.WriteHeader(status)
}

// Write corks the connection and passes b on.
func (a *corkedAnswer) Write(b []byte) (int, error) {
	a.start()
	return a.ResponseWriter.Write(b)
}

// start corks the connection at the answer's first header or byte: by
// then the handler has read what it needed of the request (an
// "Expect: 100-continue" answer was sent when it did).
func (a *corkedAnswer) start() {
	if !a.corked {
		a.corked = true
		a.conn.cork()
	}
}

// FlushError sends what the answer holds so far, corked or not, as
// http.ResponseController's Flush asks.
func (a *corkedAnswer) FlushError() error {
	if err := http.NewResponseController(a.ResponseWriter).Flush(); err != nil {
		return err
	}
	return a.conn.flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (a *corkedAnswer) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// finish sends the answer written so far and uncorks the connection. An
// answer of known length is pushed out of net/http's buffers first; one of
// unknown length is left for net/http to end (its length or last chunk),
// written uncorked.
func (a *corkedAnswer) finish() {
	if a == nil || !a.corked {
		return
	}
	if a.Header().Get("Content-Length") != "" {
		_ = http.NewResponseController(a.ResponseWriter).Flush()
	}
	_ = a.conn.uncork()
}
