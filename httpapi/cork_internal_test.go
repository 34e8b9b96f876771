package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCorkOneWritePerAnswer(t *testing.T) {
	const size = 25 << 10
	tests := []struct {
		name    string
		setup   corkSetup
		wantOne bool
	}{
		{"corked", corkSetup{cork: true, connContext: true}, true},
		// Without the cork the same answer takes several writes: the
		// corked case is not one write by chance.
		{"not corked", corkSetup{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startCorkServer(t, corkMiddleware(answerHandler), tc.setup)
			c := s.client(t, false)
			wantAnswer(t, c, s, 10, 0, true) // the handshake's writes
			conn := s.ln.only(t)

			for i := range 4 {
				before := len(conn.writes())
				wantAnswer(t, c, s, size, i, true)
				sizes := conn.writes()[before:]
				if tc.wantOne && (len(sizes) != 1 || sizes[0] < size) {
					t.Errorf("answer %d: writes of %v bytes, want one of more than %d",
						i, sizes, size)
				}
				if !tc.wantOne && len(sizes) < 2 {
					t.Errorf("answer %d: writes of %v bytes, want several", i, sizes)
				}
			}
			s.ln.only(t)
		})
	}
}

func TestCorkLargeAnswer(t *testing.T) {
	const size = 300 << 10
	s := startCorked(t, corkMiddleware(answerHandler))
	c := s.client(t, false)
	wantAnswer(t, c, s, 10, 0, true)
	conn := s.ln.only(t)

	before := len(conn.writes())
	wantAnswer(t, c, s, size, 3, true)
	sizes := conn.writes()[before:]
	total := 0
	for _, n := range sizes {
		total += n
		if n > maxCorked {
			t.Errorf("a write of %d bytes, more than the %d held back", n, maxCorked)
		}
	}
	// Every write but the last holds at least maxCorked less one TLS
	// record; per record it would take dozens.
	least := (total + maxCorked - 1) / maxCorked
	most := total/(maxCorked/2) + 1
	if len(sizes) < least || len(sizes) > most {
		t.Errorf("%d bytes in %d writes %v, want %d to %d", total, len(sizes), sizes, least, most)
	}
}

func TestCorkAnswerWithoutLength(t *testing.T) {
	s := startCorked(t, corkMiddleware(answerHandler))
	c := s.client(t, false)
	tests := []struct {
		name    string
		size    int
		chunked bool
	}{
		{"small", 100, false},
		{"more than the buffers", 20 << 10, true},
		{"empty", 0, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := wantAnswer(t, c, s, tc.size, i, false)
			isChunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
			if isChunked != tc.chunked || !isChunked && resp.ContentLength != int64(tc.size) {
				t.Errorf("transfer encoding %v, length %d", resp.TransferEncoding, resp.ContentLength)
			}
			// The connection still serves the next answer.
			wantAnswer(t, c, s, 5000, i+1, true)
		})
	}
	s.ln.only(t)
}

// echoHandler reads the request's body, or not when the query says
// read=0, and answers with it.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("read") == "0" {
		writeAnswer(w, http.StatusAccepted, []byte("unread\n"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// postExpecting100 posts upload to url asking for "100 Continue" first,
// and returns the answer, its whole body and how long both took.
func postExpecting100(t *testing.T, ctx context.Context, c *http.Client, url string,
	upload []byte) (*http.Response, []byte, time.Duration) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(upload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Expect", "100-continue")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, body, time.Since(start)
}

func TestCorkExpectContinue(t *testing.T) {
	s := startCorked(t, corkMiddleware(echoHandler))
	upload := corkBody(100<<10, 5)
	tests := []struct {
		name      string
		query     string
		status    int
		body      []byte
		continued bool
	}{
		{"body read", "", http.StatusOK, upload, true},
		{"answered unread", "?read=0", http.StatusAccepted, []byte("unread\n"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := s.client(t, false)
			var continued atomic.Bool
			trace := &httptrace.ClientTrace{Got100Continue: func() { continued.Store(true) }}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			resp, body, took := postExpecting100(t, ctx, c, s.url+"/echo"+tc.query, upload)
			if resp.StatusCode != tc.status || !bytes.Equal(body, tc.body) {
				t.Errorf("status %d, %d bytes answered", resp.StatusCode, len(body))
			}
			if continued.Load() != tc.continued {
				t.Errorf("100 Continue received: %v, want %v", continued.Load(), tc.continued)
			}
			if took > 2*time.Second {
				t.Errorf("took %v: the client waited for its continue timeout", took)
			}
		})
	}
}

// TestCorkInformationalAnswerNotHeld checks that an informational answer
// (1xx) passes uncorked: a handler that sends "100 Continue" and then
// reads the body would otherwise wait for a client that waits for the 100,
// until the client's continue timeout; a "103 Early Hints" would reach the
// client only with the answer.
func TestCorkInformationalAnswerNotHeld(t *testing.T) {
	t.Run("100 Continue then read the body", func(t *testing.T) {
		s := startCorked(t, corkMiddleware(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusContinue)
			echoHandler(w, r)
		}))
		c := s.client(t, false)
		c.Transport.(*http.Transport).ExpectContinueTimeout = 3 * time.Second
		upload := corkBody(10<<10, 1)
		resp, body, took := postExpecting100(t, context.Background(), c, s.url+"/echo", upload)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, upload) {
			t.Fatalf("status %d, echo of %d bytes", resp.StatusCode, len(body))
		}
		if took > time.Second {
			t.Errorf("took %v: the 100 Continue was held back", took)
		}
	})

	t.Run("103 Early Hints", func(t *testing.T) {
		hinted := make(chan struct{})
		s := startCorked(t, corkMiddleware(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</ca>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			select {
			case <-hinted:
				_, _ = io.WriteString(w, "hints seen first")
			case <-time.After(2 * time.Second):
				_, _ = io.WriteString(w, "hints held back")
			}
		}))
		c := s.client(t, false)
		var once sync.Once
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				once.Do(func() { close(hinted) })
			}
			return nil
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			"GET", s.url+"/hints", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "hints seen first" {
			t.Errorf("answer %q, error %v", body, err)
		}
	})
}

func TestCorkFlushStreams(t *testing.T) {
	part1, part2 := corkBody(10<<10, 1), corkBody(10<<10, 2)
	for _, withLength := range []bool{false, true} {
		t.Run(fmt.Sprintf("length %v", withLength), func(t *testing.T) {
			read1 := make(chan struct{})
			s := startCorked(t, corkMiddleware(func(w http.ResponseWriter, r *http.Request) {
				if withLength {
					w.Header().Set("Content-Length", strconv.Itoa(len(part1)+len(part2)))
				}
				_, _ = w.Write(part1)
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("flush: %v", err)
				}
				select {
				case <-read1:
					_, _ = w.Write(part2)
				case <-time.After(5 * time.Second):
					// part 1 never reached the client: end short
				}
			}))
			c := s.client(t, false)

			type result struct {
				resp *http.Response
				err  error
			}
			got1 := make(chan result, 1)
			go func() {
				resp, err := c.Get(s.url + "/stream")
				if err == nil {
					buf := make([]byte, len(part1))
					if _, err = io.ReadFull(resp.Body, buf); err == nil && !bytes.Equal(buf, part1) {
						err = errors.New("part 1 is not what was written")
					}
				}
				got1 <- result{resp, err}
			}()
			var r result
			select {
			case r = <-got1:
			case <-time.After(4 * time.Second):
				t.Fatal("part 1 did not arrive before part 2 was written")
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.resp.Body.Close()
			close(read1)
			rest, err := io.ReadAll(r.resp.Body)
			if err != nil || !bytes.Equal(rest, part2) {
				t.Errorf("part 2: %d bytes, error %v", len(rest), err)
			}
		})
	}
}

func TestCorkPanic(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		// wantError is whether the client sees the answer fail, from an
		// aborted or cut connection.
		wantError bool
	}{
		{"before answering", func(http.ResponseWriter, *http.Request) { panic("boom") }, false},
		{"after part of the answer", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "25000")
			_, _ = w.Write(corkBody(10000, 0))
			panic("boom")
		}, true},
		{"abort before answering", func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}, true},
		{"abort after part of the answer", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "25000")
			_, _ = w.Write(corkBody(10000, 0))
			panic(http.ErrAbortHandler)
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle("/panic", corkMiddleware(tc.handler))
			mux.Handle("/answer", corkMiddleware(answerHandler))
			s := startCorked(t, mux)
			c := s.client(t, false)

			start := time.Now()
			resp, err := c.Get(s.url + "/panic")
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the answer took %v", took)
			}
			if tc.wantError {
				if err == nil {
					t.Errorf("status %d, %q: want a failed answer", resp.StatusCode, body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantPanicAnswer(t, resp, body)
			wantAnswer(t, c, s, 25<<10, 1, true)
			s.ln.only(t)
		})
	}
}

// wantPanicAnswer checks the 500 JSON answer of a panic.
func wantPanicAnswer(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("status %d, %q: %v", resp.StatusCode, body, err)
	}
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusInternalServerError || e.Error.Code != "internal" ||
		id == "" || e.Error.RequestID != id {
		t.Errorf("status %d, answer %+v, request id %q", resp.StatusCode, e, id)
	}
}

func TestCorkConnectionClose(t *testing.T) {
	s := startCorked(t, corkMiddleware(answerHandler))
	tests := []struct {
		name       string
		withLength bool
	}{
		{"with length", true},
		{"chunked", false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := s.dial(t)
			start := time.Now()
			_, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
				answerPath(25<<10, i, tc.withLength))
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(body, corkBody(25<<10, i)) {
				t.Fatalf("%d bytes, error %v", len(body), err)
			}
			// The server closes its side at once after the answer.
			if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("after the answer: %d bytes, error %v, want EOF", n, err)
			}
			if took := time.Since(start); took > 300*time.Millisecond {
				t.Errorf("the answer and its close took %v", took)
			}
		})
	}
}

// corkReport is a handler that says in headers whether its answer is
// corkable and corked, then answers as answerHandler; it notes in corked
// whether the connection was corked while it answered.
func corkReport(corked *atomic.Bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, wrapped := w.(*statusWriter).ResponseWriter.(*corkedAnswer)
		cc, corkable := r.Context().Value(corkKey{}).(*corkConn)
		w.Header().Set("X-Corkable", strconv.FormatBool(corkable))
		w.Header().Set("X-Corked-Answer", strconv.FormatBool(wrapped))
		answerHandler(w, r)
		if corkable {
			cc.mu.Lock()
			if cc.corked {
				corked.Store(true)
			}
			cc.mu.Unlock()
		}
	}
}

func TestCorkHTTP2(t *testing.T) {
	var corked atomic.Bool
	s := startCorkServer(t, corkMiddleware(corkReport(&corked)),
		corkSetup{cork: true, connContext: true, h2: true})

	// Over HTTP/1.1 the same server corks its answers.
	resp := wantAnswer(t, s.client(t, false), s, 25<<10, 1, true)
	if resp.ProtoMajor != 1 || resp.Header.Get("X-Corked-Answer") != "true" || !corked.Load() {
		t.Fatalf("HTTP/%d answer, corked answer %q, corked %v", resp.ProtoMajor,
			resp.Header.Get("X-Corked-Answer"), corked.Load())
	}

	// Over HTTP/2 it does not, on a corkable connection, with streams at
	// once.
	corked.Store(false)
	c := s.client(t, true)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			size := []int{25 << 10, 300 << 10}[i%2]
			resp, err := c.Get(s.url + answerPath(size, i, i%4 < 2))
			if err != nil {
				t.Error(err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Error(err)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("HTTP/%d answer, want HTTP/2", resp.ProtoMajor)
			}
			if !bytes.Equal(body, corkBody(size, i)) {
				t.Errorf("answer %d: %d bytes, not the ones written", i, len(body))
			}
			if resp.Header.Get("X-Corkable") != "true" || resp.Header.Get("X-Corked-Answer") != "false" {
				t.Errorf("corkable %q, corked answer %q", resp.Header.Get("X-Corkable"),
					resp.Header.Get("X-Corked-Answer"))
			}
		})
	}
	wg.Wait()
	if corked.Load() {
		t.Error("an HTTP/2 answer corked its connection")
	}

	// corkAnswer itself looks at the protocol.
	r := httptest.NewRequest("GET", "/", nil)
	r.ProtoMajor, r.ProtoMinor = 2, 0
	r = r.WithContext(context.WithValue(r.Context(), corkKey{}, &corkConn{Conn: nil}))
	rec := httptest.NewRecorder()
	if w, a := corkAnswer(rec, r); w != http.ResponseWriter(rec) || a != nil {
		t.Errorf("corkAnswer of an HTTP/2 request = %T, %v", w, a)
	}
}

func TestCorkConcurrentClients(t *testing.T) {
	const clients, requests = 16, 50
	sizes := []int{0, 300, 5000, 25 << 10, 70 << 10}
	s := startCorked(t, corkMiddleware(answerHandler))

	var wg sync.WaitGroup
	for i := range clients {
		c := s.client(t, false)
		wg.Go(func() {
			for j := range requests {
				n, seed := sizes[(i+j)%len(sizes)], i*requests+j
				resp, err := c.Get(s.url + answerPath(n, seed, (i+j)%2 == 0))
				if err != nil {
					t.Errorf("client %d request %d: %v", i, j, err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(body, corkBody(n, seed)) {
					t.Errorf("client %d request %d: %d of %d bytes, error %v", i, j, len(body), n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(s.ln.conns()); n != clients {
		t.Errorf("%d connections for %d clients kept alive", n, clients)
	}
}

func TestCorkNotCorkableConnections(t *testing.T) {
	tests := []struct {
		name   string
		setup  *corkSetup // nil: plain HTTP
		corked bool
	}{
		{"plain HTTP", nil, false},
		{"TLS without CorkListener", &corkSetup{connContext: true}, false},
		{"CorkListener without ConnContext", &corkSetup{cork: true}, false},
		{"CorkListener and ConnContext", &corkSetup{cork: true, connContext: true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var corked atomic.Bool
			h := corkMiddleware(corkReport(&corked))
			var c *http.Client
			var url string
			if tc.setup == nil {
				srv := httptest.NewServer(h)
				t.Cleanup(srv.Close)
				c, url = srv.Client(), srv.URL
			} else {
				s := startCorkServer(t, h, *tc.setup)
				c, url = s.client(t, false), s.url
			}
			for i, size := range []int{100, 25 << 10} {
				resp, body := get(t, c, url+answerPath(size, i, i == 0))
				if !bytes.Equal(body, corkBody(size, i)) {
					t.Errorf("%d bytes, not the %d written", len(body), size)
				}
				wrapped := resp.Header.Get("X-Corked-Answer") == "true"
				if wrapped != tc.corked || corked.Load() != tc.corked {
					t.Errorf("corked answer %v, connection corked %v, want %v",
						wrapped, corked.Load(), tc.corked)
				}
			}
		})
	}

	// Without a corkable connection corkAnswer gives w back, and there is
	// nothing to finish.
	rec := httptest.NewRecorder()
	w, a := corkAnswer(rec, httptest.NewRequest("GET", "/", nil))
	if w != http.ResponseWriter(rec) || a != nil {
		t.Errorf("corkAnswer = %T, %v", w, a)
	}
	a.finish()
}
