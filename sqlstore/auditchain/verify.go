package auditchain

import (
	"context"
	"fmt"
)

// What can be wrong with a row, as Break.Problem.
const (
	// ProblemHashMismatch: the row's contents (prev_hash included) do not
	// give its hash. The row was altered.
	ProblemHashMismatch = "hash_mismatch"
	// ProblemPrevMismatch: the row is intact but its prev_hash is not the
	// hash of the row before it. Rows were deleted before it, or it was
	// inserted or moved.
	ProblemPrevMismatch = "prev_mismatch"
	// ProblemMissingHash: the row has no hash. It was written outside the
	// chain, or its hash was erased.
	ProblemMissingHash = "missing_hash"
)

// Break is the first broken link of a chain.
type Break struct {
	// ID is the id of the first row that does not verify.
	ID int64 `json:"id"`
	// Problem is one of the Problem constants.
	Problem string `json:"problem"`
	// Detail says what is wrong, for a person.
	Detail string `json:"detail"`
	// PrevID is the id of the last row that verified, 0 if none did.
	PrevID int64 `json:"prevId"`
}

// Report is the outcome of verifying a chain.
type Report struct {
	// Intact is true when every row verified.
	Intact bool `json:"intact"`
	// Rows is how many rows were checked: all of them when intact, else
	// those up to and including the broken one.
	Rows int64 `json:"rows"`
	// HeadID and HeadHash are the last row that verified: the head of the
	// chain when it is intact. Zero and "" when no row verified.
	HeadID   int64  `json:"headId"`
	HeadHash string `json:"headHash"`
	// Break is the first broken link, nil when intact.
	Break *Break `json:"break,omitempty"`
}

// Verifier checks rows fed to it in id order and remembers the first
// break. The zero value is ready to check a chain from its first row.
type Verifier struct {
	buf      []byte
	rows     int64
	prevID   int64
	prevHash string
	brk      *Break
}

// Check checks the next row. It returns false once the chain is broken,
// at this row or before; later rows are then ignored.
func (v *Verifier) Check(r *Record) bool {
	if v.brk != nil {
		return false
	}
	v.rows++
	problem, detail := "", ""
	switch {
	case r.Hash == "":
		problem = ProblemMissingHash
		detail = "the row has no hash: it was written outside the chain or its hash was erased"
	case r.Hash != hashInto(&v.buf, r.PrevHash, &r.AuditEvent):
		problem = ProblemHashMismatch
		detail = "the row's contents do not match its hash: the row was altered"
	case r.PrevHash != v.prevHash && v.prevID == 0:
		problem = ProblemPrevMismatch
		detail = "the first row links to an earlier row: rows before it were deleted"
	case r.PrevHash != v.prevHash:
		problem = ProblemPrevMismatch
		detail = fmt.Sprintf("the row does not link to row %d before it: rows between "+
			"them were deleted, or the row was inserted or moved", v.prevID)
	}
	if problem != "" {
		v.brk = &Break{ID: r.ID, Problem: problem, Detail: detail, PrevID: v.prevID}
		return false
	}
	v.prevID, v.prevHash = r.ID, r.Hash
	return true
}

// Report returns what the rows checked so far show.
func (v *Verifier) Report() *Report {
	return &Report{
		Intact:   v.brk == nil,
		Rows:     v.rows,
		HeadID:   v.prevID,
		HeadHash: v.prevHash,
		Break:    v.brk,
	}
}

// Source reads stored records one batch at a time. *sqlstore.DB is one.
type Source interface {
	// ScanAudit returns the records q selects, in id order.
	ScanAudit(ctx context.Context, q Query) ([]*Record, error)
}

// Each reads the records q selects from src, batch by batch of q.Limit in
// id order from q.After on, and passes each batch to fn until the rows run
// out or fn returns false or an error. Only one batch is held at a time.
func Each(ctx context.Context, src Source, q Query, fn func([]*Record) (bool, error)) error {
	if q.Limit < 1 {
		return fmt.Errorf("auditchain: batch size %d, want at least 1", q.Limit)
	}
	for {
		batch, err := src.ScanAudit(ctx, q)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		more, err := fn(batch)
		if err != nil || !more || len(batch) < q.Limit {
			return err
		}
		q.After = batch[len(batch)-1].ID
	}
}

// Verify checks the whole chain in src, reading batch rows at a time, and
// stops at the first break.
func Verify(ctx context.Context, src Source, batch int) (*Report, error) {
	var v Verifier
	err := Each(ctx, src, Query{Limit: batch}, func(recs []*Record) (bool, error) {
		for _, r := range recs {
			if !v.Check(r) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return v.Report(), nil
}
