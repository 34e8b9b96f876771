package gateway

import (
	"errors"
	"net"
	"testing"
	"time"
)

func TestMaxConnectionsDefault(t *testing.T) {
	if got := (Config{}).withDefaults().MaxConnections; got != DefaultMaxConnections {
		t.Errorf("MaxConnections = %d, want %d", got, DefaultMaxConnections)
	}
	if got := (Config{MaxConnections: 7}).withDefaults().MaxConnections; got != 7 {
		t.Errorf("MaxConnections = %d, want the 7 configured", got)
	}
}

// TestLimitListenerClose checks that closing a full listener ends an
// Accept waiting for a slot, so that a shutdown never hangs on it.
func TestLimitListenerClose(t *testing.T) {
	ln, err := listen("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	held, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	select {
	case err := <-accepted:
		t.Fatalf("Accept over the cap returned at once: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Accept still waiting after Close")
	}
}
