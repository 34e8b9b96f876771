package embedded

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// SettingActiveIntermediate names the setting that holds the key name of
// the signing intermediate. While it is absent, KeyIntermediate signs.
const SettingActiveIntermediate = "ca_active_intermediate"

// IntermediateInfo describes one intermediate of the CA.
type IntermediateInfo struct {
	// Name is the intermediate's key name in the key store.
	Name      string    `json:"name"`
	Serial    string    `json:"serial"`
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
}

// infoOf describes cert, stored under name.
func infoOf(name string, cert *x509.Certificate) IntermediateInfo {
	return IntermediateInfo{
		Name:      name,
		Serial:    pki.SerialHex(cert),
		Subject:   cert.Subject.CommonName,
		NotBefore: cert.NotBefore.UTC(),
		NotAfter:  cert.NotAfter.UTC(),
	}
}

// Rotation is what Rotate did: the intermediate that signed before, the
// one that signs now, the expired ones it dropped from the key store, and
// every intermediate kept, the signing one first. The root, and with it
// the pin, is the same before and after.
type Rotation struct {
	CAPin   string             `json:"caPin"`
	Old     IntermediateInfo   `json:"old"`
	New     IntermediateInfo   `json:"new"`
	Dropped []IntermediateInfo `json:"dropped"`
	Kept    []IntermediateInfo `json:"kept"`
}

// Rotate makes a new intermediate under the same root and makes it the
// signing one, in one transaction of the key store that also drops the
// intermediates that have expired (every certificate they issued has
// expired too, since none outlives its issuer). The old intermediates stay
// in the key store, so the certificates they issued keep verifying, to the
// same root, until they expire. This CA signs with the new intermediate at
// once; other processes sharing the key store start signing with it at
// their next Reload. Of concurrent
// rotations, exactly one succeeds; the others are KindConflict
// "ca_rotated_concurrently" and leave nothing behind.
func (c *CA) Rotate(ctx context.Context) (*Rotation, error) {
	from, err := c.keys.GetSetting(ctx, SettingActiveIntermediate)
	if mosaic.IsKind(err, mosaic.KindNotFound) {
		from, err = "", nil
	}
	if err != nil {
		return nil, fmt.Errorf("embedded ca: read the signing intermediate: %w", err)
	}
	recs, err := c.intermediates(ctx)
	if err != nil {
		return nil, err
	}
	oldName := cmp.Or(from, KeyIntermediate)
	old, ok := recs[oldName]
	if !ok {
		return nil, fmt.Errorf("embedded ca: the signing intermediate %s is not in the key store",
			oldName)
	}

	rootRec, err := c.keys.GetKey(ctx, KeyRoot)
	if err != nil {
		return nil, fmt.Errorf("embedded ca: read %s: %w", KeyRoot, err)
	}
	fresh, err := newIntermediate(c.opts, c.sealer, rootRec, "")
	if err != nil {
		return nil, err
	}
	newCert, err := storedCert(fresh)
	if err != nil {
		return nil, err
	}
	drop := expired(recs, c.opts.Now())
	err = c.keys.RotateKey(ctx, mosaic.KeyRotation{
		New: fresh, Drop: names(drop), Setting: SettingActiveIntermediate, From: from, To: fresh.Name,
	})
	if mosaic.IsKind(err, mosaic.KindConflict) {
		return nil, mosaic.WrapError(mosaic.KindConflict, "ca_rotated_concurrently",
			"another rotation changed the signing intermediate meanwhile; nothing was changed", err)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded ca: store the new intermediate: %w", err)
	}

	// This CA signs with the new intermediate at once; the set it keeps is
	// the one just written, since every change of it swaps the setting.
	kept := maps.Clone(recs)
	for _, d := range drop {
		delete(kept, d.Name)
	}
	kept[fresh.Name] = newCert
	if err := c.adopt(fresh, kept); err != nil {
		return nil, err
	}
	out := &Rotation{CAPin: c.Pin(), Old: infoOf(oldName, old), New: infoOf(fresh.Name, newCert),
		Dropped: drop, Kept: c.Known()}
	return out, nil
}

// adopt makes the stored key rec, just written, the signing intermediate,
// with recs the intermediates the key store holds.
func (c *CA) adopt(rec *mosaic.StoredKey, recs map[string]*x509.Certificate) error {
	cert, key, err := openKey(c.sealer, rec)
	if err != nil {
		return err
	}
	next := &signer{name: rec.Name, inter: cert, key: key}
	next.known, next.names = knownOrder(rec.Name, recs)
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	c.cur.Store(next)
	return nil
}

// expired returns the intermediates of recs whose validity ended before
// now, in name order.
func expired(recs map[string]*x509.Certificate, now time.Time) []IntermediateInfo {
	out := []IntermediateInfo{}
	for name, cert := range recs {
		if !now.Before(cert.NotAfter) {
			out = append(out, infoOf(name, cert))
		}
	}
	slices.SortFunc(out, func(a, b IntermediateInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// names returns the names of infos.
func names(infos []IntermediateInfo) []string {
	out := make([]string, len(infos))
	for i, x := range infos {
		out[i] = x.Name
	}
	return out
}

// Known describes every intermediate the key store held at the last Load,
// Reload or Rotate: the signing one first, then the others newest first.
func (c *CA) Known() []IntermediateInfo {
	s := c.cur.Load()
	out := make([]IntermediateInfo, len(s.known))
	for i, cert := range s.known {
		out[i] = infoOf(s.names[i], cert)
	}
	return out
}

// Reload reads the signing intermediate and the set of intermediates from
// the key store again, and reports whether the signing one changed. It is
// how a running gateway picks up a rotation made by another process; the
// state before stays in use when it fails.
func (c *CA) Reload(ctx context.Context) (bool, error) {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	name, err := c.activeName(ctx)
	if err != nil {
		return false, err
	}
	recs, err := c.intermediates(ctx)
	if err != nil {
		return false, err
	}

	if recs[name] == nil {
		return false, fmt.Errorf("embedded ca: the signing intermediate %s is not in the key store",
			name)
	}

	old := c.cur.Load()
	next := &signer{name: name}
	if old != nil && old.name == name {
		next.inter, next.key = old.inter, old.key
	} else if next.inter, next.key, err = c.openIntermediate(ctx, name); err != nil {
		return false, err
	}
	next.known, next.names = knownOrder(name, recs)
	c.cur.Store(next)
	return old == nil || old.name != name, nil
}

// activeName returns the key name of the signing intermediate.
func (c *CA) activeName(ctx context.Context) (string, error) {
	name, err := c.keys.GetSetting(ctx, SettingActiveIntermediate)
	switch {
	case mosaic.IsKind(err, mosaic.KindNotFound):
		return KeyIntermediate, nil
	case err != nil:
		return "", fmt.Errorf("embedded ca: read the signing intermediate: %w", err)
	case !strings.HasPrefix(name, KeyIntermediate):
		return "", fmt.Errorf("embedded ca: setting %s names %q, not an intermediate",
			SettingActiveIntermediate, name)
	}
	return name, nil
}

// intermediates returns the certificate of every intermediate in the key
// store by key name. Each must be a CA certificate signed by the root.
func (c *CA) intermediates(ctx context.Context) (map[string]*x509.Certificate, error) {
	recs, err := c.keys.ListKeysWithPrefix(ctx, KeyIntermediate)
	if err != nil {
		return nil, fmt.Errorf("embedded ca: list intermediates: %w", err)
	}
	out := make(map[string]*x509.Certificate, len(recs))
	for _, rec := range recs {
		cert, err := storedCert(rec)
		if err != nil {
			return nil, err
		}
		if err := cert.CheckSignatureFrom(c.root); err != nil || !cert.IsCA {
			return nil, fmt.Errorf("embedded ca: stored intermediate %s is not signed by the root: %v",
				rec.Name, err)
		}
		out[rec.Name] = cert
	}
	return out, nil
}

// openIntermediate reads the named intermediate and unseals its key.
func (c *CA) openIntermediate(ctx context.Context,
	name string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	rec, err := c.keys.GetKey(ctx, name)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded ca: read the signing intermediate %s: %w", name, err)
	}
	cert, key, err := openKey(c.sealer, rec)
	if err != nil {
		return nil, nil, err
	}
	if err := cert.CheckSignatureFrom(c.root); err != nil {
		return nil, nil, fmt.Errorf("embedded ca: stored intermediate is not signed by the root: %w",
			err)
	}
	return cert, key, nil
}

// knownOrder lists the intermediates of recs, the signing one (name)
// first, then the others newest first, with their key names.
func knownOrder(name string, recs map[string]*x509.Certificate) ([]*x509.Certificate, []string) {
	others := make([]string, 0, len(recs))
	for n := range recs {
		if n != name {
			others = append(others, n)
		}
	}
	slices.SortFunc(others, func(a, b string) int {
		return cmp.Or(recs[b].NotBefore.Compare(recs[a].NotBefore), strings.Compare(a, b))
	})
	ns := append([]string{name}, others...)
	certs := make([]*x509.Certificate, len(ns))
	for i, n := range ns {
		certs[i] = recs[n]
	}
	return certs, ns
}
