package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

// Ceiling measures the cryptography of one enrollment without anything
// else: parse and verify a P-256 CSR (pki.ParseCSR, the gateway's own
// check) and sign a client certificate with the embedded CA's P-256
// intermediate (embedded.CA.Sign), in a tight loop on every CPU.
type Ceiling struct {
	ca   *embedded.CA
	csrs []string
}

// NewCeiling makes a fresh embedded CA (kept in memory) and takes the CSRs
// the loop cycles through.
func NewCeiling(ctx context.Context, csrs []string) (*Ceiling, error) {
	if len(csrs) == 0 {
		return nil, fmt.Errorf("bench: ceiling needs CSRs")
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	sealer, err := seal.New(secret)
	if err != nil {
		return nil, err
	}
	ca, err := embedded.Load(ctx, newMemKeys(), sealer, embedded.Options{})
	if err != nil {
		return nil, err
	}
	return &Ceiling{ca: ca, csrs: csrs}, nil
}

// Run loops for d on runtime.NumCPU() goroutines and returns the
// operations per second. With verify, each operation also checks the
// issued certificate as a redeem does (pki.VerifyIssued).
func (c *Ceiling) Run(ctx context.Context, d time.Duration, verify bool) (float64, error) {
	var (
		done  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	start := time.Now()
	end := start.Add(d)
	for w := range runtime.NumCPU() {
		wg.Go(func() {
			for i := w; ctx.Err() == nil && time.Now().Before(end); i++ {
				if err := c.once(ctx, c.csrs[i%len(c.csrs)], verify); err != nil {
					once.Do(func() { first = err })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return float64(done.Load()) / time.Since(start).Seconds(), ctx.Err()
}

// once is one enrollment's cryptography.
func (c *Ceiling) once(ctx context.Context, csrPEM string, verify bool) error {
	csr, err := pki.ParseCSR(csrPEM)
	if err != nil {
		return err
	}
	id := mosaic.Identity{GrantID: uuid.NewString(), SubjectUserID: uuid.NewString()}
	ic, err := c.ca.Sign(ctx, mosaic.SignRequest{CSR: csr, CommonName: "peer-bench", Identity: id})
	if err != nil {
		return err
	}
	if verify {
		return pki.VerifyIssued(ic, csr, id, time.Now())
	}
	return nil
}

// memKeys is an in-memory mosaic.KeyStore for the ceiling's CA.
type memKeys struct {
	mu       sync.Mutex
	keys     map[string]mosaic.StoredKey
	settings map[string]string
}

// newMemKeys returns an empty key store.
func newMemKeys() *memKeys {
	return &memKeys{keys: map[string]mosaic.StoredKey{}, settings: map[string]string{}}
}

// PutKeyIfAbsent stores k unless its name is taken.
func (m *memKeys) PutKeyIfAbsent(_ context.Context, k *mosaic.StoredKey) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.Name]; ok {
		return false, nil
	}
	m.keys[k.Name] = *k
	return true, nil
}

// GetKey returns the key of that name, or KindNotFound.
func (m *memKeys) GetKey(_ context.Context, name string) (*mosaic.StoredKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[name]
	if !ok {
		return nil, mosaic.Errorf(mosaic.KindNotFound, "not_found", "no key %q", name)
	}
	return &k, nil
}

// PutKey stores k, replacing a key of the same name.
func (m *memKeys) PutKey(_ context.Context, k *mosaic.StoredKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[k.Name] = *k
	return nil
}

// GetSetting returns a setting, or KindNotFound.
func (m *memKeys) GetSetting(_ context.Context, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.settings[name]
	if !ok {
		return "", mosaic.Errorf(mosaic.KindNotFound, "not_found", "no setting %q", name)
	}
	return v, nil
}

// PutSetting stores a setting.
func (m *memKeys) PutSetting(_ context.Context, name, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settings[name] = value
	return nil
}

// ListKeysWithPrefix returns the keys whose name starts with prefix, in
// name order.
func (m *memKeys) ListKeysWithPrefix(_ context.Context,
	prefix string) ([]*mosaic.StoredKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*mosaic.StoredKey
	for name, k := range m.keys {
		if strings.HasPrefix(name, prefix) {
			out = append(out, &k)
		}
	}
	slices.SortFunc(out, func(a, b *mosaic.StoredKey) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RotateKey stores r.New, deletes r.Drop and moves the setting from
// r.From ("" for none) to r.To, or changes nothing.
func (m *memKeys) RotateKey(_ context.Context, r mosaic.KeyRotation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.settings[r.Setting] != r.From {
		return mosaic.Errorf(mosaic.KindConflict, "setting_changed", "setting %q changed", r.Setting)
	}
	if _, ok := m.keys[r.New.Name]; ok {
		return mosaic.Errorf(mosaic.KindConflict, "key_exists", "key %q exists", r.New.Name)
	}
	for _, name := range r.Drop {
		delete(m.keys, name)
	}
	m.keys[r.New.Name], m.settings[r.Setting] = *r.New, r.To
	return nil
}
