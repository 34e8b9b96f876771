package fedtest

import (
	"context"
	"crypto/x509"
	"sync"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
)

// FaultCA is the real embedded CA with faults injected on demand: Sign can
// be made to fail, or to stop inside until the test lets it go on, and
// ClientRoots can be made to fail and counts its calls.
type FaultCA struct {
	*embedded.CA

	mu      sync.Mutex
	fail    []error
	hold    chan struct{}
	entered chan struct{}
	signed  int

	rootsErr   error
	rootsCalls int
}

// FailNext makes the next calls to Sign fail with errs, one each, in order.
func (f *FaultCA) FailNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, errs...)
}

// Hold makes the next call to Sign stop before it signs. entered is closed
// when that call has stopped; calling release lets it go on.
func (f *FaultCA) Hold() (entered <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold, f.entered = make(chan struct{}), make(chan struct{})
	hold := f.hold
	var once sync.Once
	return f.entered, func() { once.Do(func() { close(hold) }) }
}

// Signed returns how many certificates the real CA has signed through f.
func (f *FaultCA) Signed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.signed
}

// Sign fails, holds or passes the request on to the real CA.
func (f *FaultCA) Sign(ctx context.Context, req mosaic.SignRequest) (*mosaic.IssuedCert, error) {
	f.mu.Lock()
	var err error
	if len(f.fail) > 0 {
		err, f.fail = f.fail[0], f.fail[1:]
	}
	hold, entered := f.hold, f.entered
	f.hold, f.entered = nil, nil
	f.mu.Unlock()

	if err != nil {
		return nil, err
	}
	if hold != nil {
		close(entered)
		<-hold
	}
	ic, err := f.CA.Sign(ctx, req)
	if err == nil {
		f.mu.Lock()
		f.signed++
		f.mu.Unlock()
	}
	return ic, err
}

// FailRoots makes every later call to ClientRoots fail with err; nil lets
// them through again.
func (f *FaultCA) FailRoots(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rootsErr = err
}

// RootsCalls returns how many times ClientRoots was called.
func (f *FaultCA) RootsCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rootsCalls
}

// ClientRoots fails as FailRoots said, or passes the call on to the real
// CA.
func (f *FaultCA) ClientRoots(ctx context.Context) ([]*x509.Certificate, error) {
	f.mu.Lock()
	f.rootsCalls++
	err := f.rootsErr
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.CA.ClientRoots(ctx)
}
