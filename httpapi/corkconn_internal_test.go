package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (near, far *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dialed.Close(); _ = accepted.Close() })
	return accepted.(*net.TCPConn), dialed.(*net.TCPConn)
}

// readAll reads far to its end in the background.
func readAll(far net.Conn) <-chan []byte {
	got := make(chan []byte, 1)
	_ = far.SetReadDeadline(time.Now().Add(10 * time.Second))
	go func() {
		b, _ := io.ReadAll(far)
		got <- b
	}()
	return got
}

func TestCorkConnHoldsBack(t *testing.T) {
	k := 1 << 10
	tests := []struct {
		name   string
		writes []int // sizes written while corked
		held   []int // the writes made before uncorking
		after  []int // the writes made by uncorking
	}{
		{"small writes", []int{1, 2, 3}, nil, []int{6}},
		{"up to the bound", []int{32 * k, 32 * k}, nil, []int{64 * k}},
		{"over the bound", []int{30 * k, 30 * k, 30 * k}, []int{60 * k}, []int{30 * k}},
		{"one write over the bound", []int{10 * k, 100 * k}, []int{10 * k, 100 * k}, nil},
		{"nothing", nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			near, far := tcpPair(t)
			counted := &countingConn{Conn: near}
			c := &corkConn{Conn: counted}
			got := readAll(far)

			var want []byte
			c.cork()
			for i, n := range tc.writes {
				b := corkBody(n, i)
				want = append(want, b...)
				if m, err := c.Write(b); m != n || err != nil {
					t.Fatalf("Write = %d, %v", m, err)
				}
			}
			wantSizes(t, "corked", counted.writes(), tc.held)
			if err := c.uncork(); err != nil {
				t.Fatal(err)
			}
			wantSizes(t, "uncorked", counted.writes()[len(tc.held):], tc.after)

			// Uncorked, a write goes straight through.
			before := len(counted.writes())
			want = append(want, "end"...)
			if _, err := c.Write([]byte("end")); err != nil {
				t.Fatal(err)
			}
			wantSizes(t, "after", counted.writes()[before:], []int{3})
			_ = c.Close()
			if b := <-got; !bytes.Equal(b, want) {
				t.Errorf("%d bytes arrived, want the %d written", len(b), len(want))
			}
		})
	}
}

// wantSizes checks the sizes of writes.
func wantSizes(t *testing.T, when string, got, want []int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: writes of %v bytes, want %v", when, got, want)
	}
}

func TestCorkConnClose(t *testing.T) {
	t.Run("Close drops what is held, an answer it abandons", func(t *testing.T) {
		near, far := tcpPair(t)
		c := &corkConn{Conn: near}
		got := readAll(far)
		c.cork()
		_, _ = c.Write([]byte("held"))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if b := <-got; len(b) != 0 {
			t.Errorf("got %q", b)
		}
	})

	t.Run("Close does not wait on a peer that does not read", func(t *testing.T) {
		// As when tls.Conn.Close finds a TLS write under way: it then
		// closes the connection at once, with no deadline set.
		near, _ := tcpPair(t)
		fillPipe(t, near)
		c := &corkConn{Conn: near}
		c.cork()
		_, _ = c.Write(corkBody(48<<10, 4))
		returnsSoon(t, "Close writes what is held to a peer that does not read", c.Close)
	})

	t.Run("CloseWrite sends what is held and reads go on", func(t *testing.T) {
		near, far := tcpPair(t)
		c := &corkConn{Conn: near}
		got := readAll(far)
		c.cork()
		_, _ = c.Write([]byte("held"))
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if b := <-got; string(b) != "held" {
			t.Errorf("got %q", b)
		}
		if _, err := far.Write([]byte("more")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "more" {
			t.Errorf("read %q, %v", b, err)
		}
	})

	t.Run("a failed write fails the later ones", func(t *testing.T) {
		near, _ := tcpPair(t)
		c := &corkConn{Conn: near}
		_ = near.Close()
		c.cork()
		if n, err := c.Write([]byte("held")); n != 4 || err != nil {
			t.Fatalf("corked Write = %d, %v", n, err)
		}
		err := c.uncork()
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("uncork: %v", err)
		}
		if _, err2 := c.Write([]byte("x")); err2 != err {
			t.Errorf("Write after failure: %v, want %v", err2, err)
		}
		if err2 := c.CloseWrite(); err2 != err {
			t.Errorf("CloseWrite after failure: %v, want %v", err2, err)
		}
	})
}

// TestCorkConnWriteDuringFlush checks that a write made while held bytes
// are being written neither waits for them nor overtakes them, and that
// a Close meanwhile ends that write at once.
func TestCorkConnWriteDuringFlush(t *testing.T) {
	near, far := tcpPair(t)
	_ = far.SetReadBuffer(4 << 10)
	junk := fillPipe(t, near)
	c := &corkConn{Conn: near}
	held := corkBody(maxCorked, 3)
	c.cork()
	_, _ = c.Write(held)
	uncorked := make(chan error, 1)
	go func() { uncorked <- c.uncork() }()
	waitWriting(t, c)

	err := returnsSoon(t, "a Write waits for held bytes that a peer that does not read blocks",
		func() error {
			_, err := c.Write([]byte("tail"))
			return err
		})
	if err != nil {
		t.Fatalf("Write during the write of held bytes: %v", err)
	}
	got := readAll(far)
	if err := <-uncorked; err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if b := <-got; !bytes.Equal(b, append(append(junk, held...), "tail"...)) {
		t.Errorf("far read %d bytes, not the held ones then the tail", len(b))
	}

	near, _ = tcpPair(t)
	fillPipe(t, near)
	c = &corkConn{Conn: near}
	c.cork()
	_, _ = c.Write(held)
	go func() { uncorked <- c.uncork() }()
	waitWriting(t, c)
	returnsSoon(t, "Close waits for a write blocked on a peer that does not read", c.Close)
	if err := <-uncorked; err == nil {
		t.Error("the write Close broke off reported no error")
	}
}

// fillPipe writes to c until its peer, which does not read, takes no more,
// and returns what it wrote. The socket's buffer is set small, which stops
// the kernel growing it.
func fillPipe(t *testing.T, c *net.TCPConn) []byte {
	t.Helper()
	_ = c.SetWriteBuffer(4 << 10)
	junk := corkBody(4<<20, 9)
	_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := c.Write(junk)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("wrote all %d bytes to a peer that does not read: %v", n, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return junk[:n]
}

// returnsSoon runs f and returns its error, failing the test with stuck
// when f has not returned within 3 s.
func returnsSoon(t *testing.T, stuck string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(3 * time.Second):
		t.Fatal(stuck)
		return nil
	}
}

// waitWriting waits until c writes held bytes, blocked on its peer.
func waitWriting(t *testing.T, c *corkConn) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		c.mu.Lock()
		writing := c.writing != nil
		c.mu.Unlock()
		if writing {
			time.Sleep(50 * time.Millisecond) // and stays blocked
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("held bytes were never written")
}

// TestCorkCloseBreaksBlockedWrite checks that closing breaks off a write
// blocked on a client that does not read, as tls.Conn.Close does when a
// Write is in flight, rather than wait for it: for the write deadline, or
// forever without one (HTTP/2 connections, which go through the
// CorkListener too, have none). http.Server.Close must not hang. The
// write may be blocked inside the handler, or as the answer it held back
// leaves after the handler returned: TLS then knows of no write under way
// and sends its closing alert, which must not wait for that write.
func TestCorkCloseBreaksBlockedWrite(t *testing.T) {
	endless := func(w http.ResponseWriter, _ *http.Request) {
		chunk := corkBody(32<<10, 0)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	held := func(w http.ResponseWriter, _ *http.Request) {
		body := corkBody(60<<10, 0)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
	tests := []struct {
		name    string
		setup   corkSetup
		handler http.HandlerFunc
		asks    int // requests the client sends, without reading answers
	}{
		{"corked, inside the handler", corkSetup{cork: true, connContext: true}, endless, 1},
		{"not corked, inside the handler", corkSetup{}, endless, 1},
		{"corked, after the handler", corkSetup{cork: true, connContext: true}, held, 2000},
		{"not corked, pipelined", corkSetup{}, held, 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startCorkServer(t, corkMiddleware(tc.handler), tc.setup)
			conn := s.dial(t) // closed first at cleanup: it unblocks the writes
			go func() {
				for i := range tc.asks {
					if _, err := fmt.Fprintf(conn, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i); err != nil {
						return
					}
				}
			}()
			waitBlocked(t, s.ln)

			closed := make(chan struct{})
			go func() {
				_ = s.srv.Close()
				close(closed)
			}()
			t.Cleanup(func() {
				_ = conn.Close()
				select {
				case <-closed:
				case <-time.After(10 * time.Second):
				}
			})
			select {
			case <-closed:
			case <-time.After(3 * time.Second):
				t.Error("the server's Close is stuck behind a write to a client that does not read")
			}
		})
	}
}

// waitBlocked waits until the one connection of ln stops writing: its
// write is blocked on the client.
func waitBlocked(t *testing.T, ln *countingListener) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last, still := -1, 0
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		conns := ln.conns()
		if len(conns) != 1 {
			continue
		}
		n := conns[0].written()
		if n == last && n > 1<<20 {
			if still++; still == 6 {
				return
			}
			continue
		}
		last, still = n, 0
	}
	t.Fatal("the server's writes never blocked")
}
