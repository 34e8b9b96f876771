// Package embedded is the gateway's built-in certificate authority. At the
// first start it makes a root and an intermediate CA, both ECDSA P-256, and
// keeps their certificates and sealed private keys in the key store, so that
// every replica sharing the database shares the CA. The intermediate issues
// peer client certificates and the federation listener's TLS certificate.
package embedded

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
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
// safe for concurrent use.
type CA struct {
	opts     Options
	root     *x509.Certificate
	inter    *x509.Certificate
	interKey *ecdsa.PrivateKey
}

var _ mosaic.CA = (*CA)(nil)

// Load returns the CA kept in keys, creating it on the first start. Keys are
// stored with PutKeyIfAbsent and always read back, so that gateways starting
// together on one database end with one CA: whoever inserted first wins, and
// the others use its keys. A wrong secret is an error naming the key that
// could not be unsealed.
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
	interRec, err := loadOrCreate(ctx, keys, KeyIntermediate, func() (*mosaic.StoredKey, error) {
		return newIntermediate(opts, sealer, rootRec)
	})
	if err != nil {
		return nil, err
	}
	inter, interKey, err := openKey(sealer, interRec)
	if err != nil {
		return nil, err
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("embedded ca: stored intermediate is not signed by the root: %w", err)
	}
	return &CA{opts: opts, root: root, inter: inter, interKey: interKey}, nil
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

// Sign issues a peer's client certificate, signed by the intermediate. See
// sign.go for what goes into it.
func (c *CA) Sign(ctx context.Context, req mosaic.SignRequest) (*mosaic.IssuedCert, error) {
	if err := ctx.Err(); err != nil {
		return nil, mosaic.WrapError(mosaic.KindUnavailable, "ca_unavailable", "signing cancelled", err)
	}
	return c.sign(req)
}

// ClientRoots returns the root, the one trust anchor of the certificates
// Sign issues.
func (c *CA) ClientRoots(ctx context.Context) ([]*x509.Certificate, error) {
	return []*x509.Certificate{c.root}, nil
}

// Root returns the root CA certificate.
func (c *CA) Root() *x509.Certificate { return c.root }

// Intermediate returns the intermediate CA certificate, the issuer of peer
// and server certificates.
func (c *CA) Intermediate() *x509.Certificate { return c.inter }

// Pin returns the root's pin ("sha256:<hex>"), the value peers check before
// they trust this gateway.
func (c *CA) Pin() string { return pki.Pin(c.root) }

// ChainPEM returns the root then the intermediate in PEM, as served at
// GET /api/federation/ca.
func (c *CA) ChainPEM() string { return pki.EncodeCerts(c.root, c.inter) }
