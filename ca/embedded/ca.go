// Package embedded is the gateway's built-in certificate authority. At the
// first start it makes a root and an intermediate CA, both ECDSA P-256, and
// keeps their certificates and sealed private keys in the key store, so that
// every replica sharing the database shares the CA. The intermediate issues
// peer client certificates and the federation listener's TLS certificate.
// A new intermediate under the same root can replace it (Rotate); the old
// ones stay in the key store until they expire.
package embedded

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// ClockSkew is how far before the time of issue a certificate's notBefore is
// set, so that a peer whose clock runs a little behind accepts it.
const ClockSkew = 5 * time.Minute

// DefaultLifetime is the lifetime of a peer certificate when neither the
// request nor Options say otherwise.
const DefaultLifetime = 24 * time.Hour

// Lifetimes of the CA's own certificates.
const (
	rootLifetime         = 10 * 365 * 24 * time.Hour
	intermediateLifetime = 5 * 365 * 24 * time.Hour
)

// Options configure a CA.
type Options struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Rand is the source of serial numbers and signatures; nil means
	// crypto/rand.Reader.
	Rand io.Reader
	// DefaultLifetime is the lifetime of a peer certificate whose request
	// names none; zero means DefaultLifetime (24 hours).
	DefaultLifetime time.Duration
}

// withDefaults fills in the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.DefaultLifetime == 0 {
		o.DefaultLifetime = DefaultLifetime
	}
	return o
}

// CA is the embedded certificate authority. It implements mosaic.CA and is
// safe for concurrent use. Its signing intermediate can change while it
// runs: Rotate makes a new one, and Reload picks up one made by another
// process sharing the database (see rotate.go).
type CA struct {
	opts   Options
	keys   mosaic.KeyStore
	sealer mosaic.Sealer
	root   *x509.Certificate

	// cur is what the CA signs with now; reloadMu keeps reloads one at a
	// time, so that an older state never replaces a newer one.
	cur      atomic.Pointer[signer]
	reloadMu sync.Mutex
}

// signer is the signing intermediate with its key, and every intermediate
// the key store holds.
type signer struct {
	name  string // the key's name in the key store
	inter *x509.Certificate
	key   *ecdsa.PrivateKey
	// known holds every stored intermediate, the signing one first, then
	// the others newest first; names holds their key names.
	known []*x509.Certificate
	names []string
}

var _ mosaic.CA = (*CA)(nil)

// Load returns the CA kept in keys, creating it on the first start. Keys are
// stored with PutKeyIfAbsent and always read back, so that gateways starting
// together on one database end with one CA: whoever inserted first wins, and
// the others use its keys. The signing intermediate is the one the setting
// SettingActiveIntermediate names, or KeyIntermediate while no rotation has
// happened. A wrong secret is an error naming the key that could not be
// unsealed.
func Load(ctx context.Context, keys mosaic.KeyStore, sealer mosaic.Sealer,
	opts Options) (*CA, error) {
	opts = opts.withDefaults()
	if opts.DefaultLifetime < 0 {
		return nil, fmt.Errorf("embedded ca: negative default lifetime %s", opts.DefaultLifetime)
	}

	rootRec, err := loadOrCreate(ctx, keys, KeyRoot, func() (*mosaic.StoredKey, error) {
		return newRoot(opts, sealer)
	})
	if err != nil {
		return nil, err
	}
	root, err := storedCert(rootRec)
	if err != nil {
		return nil, err
	}
	c := &CA{opts: opts, keys: keys, sealer: sealer, root: root}

	// Before any rotation the first intermediate signs, made on the
	// first start.
	name, err := c.activeName(ctx)
	if err != nil {
		return nil, err
	}
	if name == KeyIntermediate {
		_, err = loadOrCreate(ctx, keys, KeyIntermediate, func() (*mosaic.StoredKey, error) {
			return newIntermediate(opts, sealer, rootRec, KeyIntermediate)
		})
		if err != nil {
			return nil, err
		}
	}
	if _, err := c.Reload(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// loadOrCreate returns the stored key of that name, first storing the one
// create makes if there is none. The key is read back after the insert, so
// a concurrent starter's key wins over ours if it got there first.
func loadOrCreate(ctx context.Context, keys mosaic.KeyStore, name string,
	create func() (*mosaic.StoredKey, error)) (*mosaic.StoredKey, error) {
	sk, err := keys.GetKey(ctx, name)
	if err == nil {
		return sk, nil
	}
	if !mosaic.IsKind(err, mosaic.KindNotFound) {
		return nil, fmt.Errorf("embedded ca: read %s: %w", name, err)
	}

	fresh, err := create()
	if err != nil {
		return nil, err
	}
	if _, err := keys.PutKeyIfAbsent(ctx, fresh); err != nil {
		return nil, fmt.Errorf("embedded ca: store %s: %w", name, err)
	}
	sk, err = keys.GetKey(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("embedded ca: read back %s: %w", name, err)
	}
	return sk, nil
}

// Sign issues a peer's client certificate, signed by the signing
// intermediate. See sign.go for what goes into it.
func (c *CA) Sign(ctx context.Context, req mosaic.SignRequest) (*mosaic.IssuedCert, error) {
	if err := ctx.Err(); err != nil {
		return nil, mosaic.WrapError(mosaic.KindUnavailable, "ca_unavailable", "signing cancelled", err)
	}
	return c.sign(req)
}

// ClientRoots returns the root, the one trust anchor of the certificates
// Sign issues, whichever intermediate signed them.
func (c *CA) ClientRoots(ctx context.Context) ([]*x509.Certificate, error) {
	return []*x509.Certificate{c.root}, nil
}

// Root returns the root CA certificate.
func (c *CA) Root() *x509.Certificate { return c.root }

// Intermediate returns the signing intermediate CA certificate, the issuer
// of new peer and server certificates.
func (c *CA) Intermediate() *x509.Certificate { return c.cur.Load().inter }

// Intermediates returns every intermediate the key store holds, as of the
// last Load, Reload or Rotate: the signing one first, then the others
// newest first. Certificates issued by any of them chain to the root while
// it is valid.
func (c *CA) Intermediates() []*x509.Certificate {
	return slices.Clone(c.cur.Load().known)
}

// Pin returns the root's pin ("sha256:<hex>"), the value peers check before
// they trust this gateway.
func (c *CA) Pin() string { return pki.Pin(c.root) }

// ChainPEM returns, in PEM, the root, then the signing intermediate, then
// the other known intermediates that have not expired, newest first: what
// a peer needs to pin the root and to build the chain of any certificate
// this CA issued that is still valid. It is served at
// GET /api/federation/ca.
func (c *CA) ChainPEM() string {
	s, now := c.cur.Load(), c.opts.Now()
	certs := []*x509.Certificate{c.root, s.inter}
	for _, x := range s.known[1:] {
		if now.Before(x.NotAfter) {
			certs = append(certs, x)
		}
	}
	return pki.EncodeCerts(certs...)
}
