package fedtest

import (
	"context"
	"sync"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// FaultStore is the real store with faults injected on demand: audit
// writes, audit chain reads and page reads can be made to fail, and every
// token hash the
// service hands to the token methods is recorded. An audit event written
// inside another store transaction (an activation, a revocation) is not
// affected by FailAudit.
type FaultStore struct {
	*sqlstore.DB

	mu        sync.Mutex
	auditErr  error
	readErr   error
	scanErr   error
	scansLeft int
	tokenKeys []string
}

// FailAudit makes every later AppendAudit fail with err; nil heals it.
func (f *FaultStore) FailAudit(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auditErr = err
}

// FailAuditScans lets the next ok calls of ScanAudit through and makes
// every later one fail with err; a nil err heals it.
func (f *FaultStore) FailAuditScans(ok int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scanErr, f.scansLeft = err, ok
}

// ScanAudit fails if told to, else reads the batch of audit records.
func (f *FaultStore) ScanAudit(ctx context.Context,
	q auditchain.Query) ([]*auditchain.Record, error) {
	f.mu.Lock()
	err := f.scanErr
	if err != nil && f.scansLeft > 0 {
		f.scansLeft--
		err = nil
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.DB.ScanAudit(ctx, q)
}

// FailReads makes every later ReadPage fail with err; nil heals it.
func (f *FaultStore) FailReads(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readErr = err
}

// TokenKeys returns the keys passed to the token methods so far, in order.
func (f *FaultStore) TokenKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.tokenKeys...)
}

// injected returns the error *which is set to, read under the lock.
func (f *FaultStore) injected(which *error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *which
}

// record notes a key passed to a token method.
func (f *FaultStore) record(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenKeys = append(f.tokenKeys, key)
}

// AppendAudit fails if told to, else writes ev.
func (f *FaultStore) AppendAudit(ctx context.Context, ev *mosaic.AuditEvent) error {
	if err := f.injected(&f.auditErr); err != nil {
		return err
	}
	return f.DB.AppendAudit(ctx, ev)
}

// ReadPage fails if told to, else reads the page.
func (f *FaultStore) ReadPage(ctx context.Context, q mosaic.PageQuery) (*mosaic.Page, error) {
	if err := f.injected(&f.readErr); err != nil {
		return nil, err
	}
	return f.DB.ReadPage(ctx, q)
}

// CreateToken records hash and creates the token.
func (f *FaultStore) CreateToken(ctx context.Context, hash, grantID, peerID string,
	ttl time.Duration) (*mosaic.EnrollmentToken, error) {
	f.record(hash)
	return f.DB.CreateToken(ctx, hash, grantID, peerID, ttl)
}

// FindToken records hash and finds the token.
func (f *FaultStore) FindToken(ctx context.Context, hash string) (*mosaic.EnrollmentToken, error) {
	f.record(hash)
	return f.DB.FindToken(ctx, hash)
}

// ClaimToken records hash and claims the token.
func (f *FaultStore) ClaimToken(ctx context.Context, hash, claimID string,
	staleAfter time.Duration) error {
	f.record(hash)
	return f.DB.ClaimToken(ctx, hash, claimID, staleAfter)
}

// ReleaseClaim records hash and releases the claim.
func (f *FaultStore) ReleaseClaim(ctx context.Context, hash, claimID string) error {
	f.record(hash)
	return f.DB.ReleaseClaim(ctx, hash, claimID)
}

// ActivateGrant records the token hash and activates the grant.
func (f *FaultStore) ActivateGrant(ctx context.Context, a mosaic.Activation) error {
	f.record(a.TokenHash)
	return f.DB.ActivateGrant(ctx, a)
}
