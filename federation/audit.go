package federation

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// AuditBatch is how many audit rows an export or a verification reads
// from the store at a time: the most either holds in memory.
const AuditBatch = 1000

// AuditFormatJSONL is the audit export format: one JSON object a line,
// the event's fields plus id, prevHash and hash.
const AuditFormatJSONL = "jsonl"

// AuditExport selects what ExportAudit streams.
type AuditExport struct {
	// Format is the export format; empty means AuditFormatJSONL, the only
	// one there is.
	Format string
	// Since, an RFC 3339 time, keeps only the events at or after it;
	// empty keeps them all.
	Since string
}

// auditChain returns the store as the source of the audit chain. The
// store given in Config must keep one (*sqlstore.DB does).
func (s *Service) auditChain() (auditchain.Source, error) {
	src, ok := s.cfg.Store.(auditchain.Source)
	if !ok {
		return nil, errors.New("federation: the store does not keep an audit chain")
	}
	return src, nil
}

// VerifyAudit checks the audit log's hash chain from its first row, in
// batches of AuditBatch, and reports the first broken link or that the
// chain is intact. A broken chain is a report, not an error; it is also
// logged.
func (s *Service) VerifyAudit(ctx context.Context) (*auditchain.Report, error) {
	src, err := s.auditChain()
	if err != nil {
		return nil, err
	}
	r, err := auditchain.Verify(ctx, src, AuditBatch)
	if err != nil {
		return nil, err
	}
	if b := r.Break; b != nil {
		s.log.WarnContext(ctx, "audit chain broken",
			slog.String(logRequestID, RequestID(ctx)),
			slog.Int64("audit_id", b.ID),
			slog.String("problem", b.Problem),
			slog.Int64("last_good_id", b.PrevID))
	}
	return r, nil
}

// ExportAudit passes the audit records e selects to emit, oldest first (in
// id order), a batch of at most AuditBatch at a time, until they run out
// or emit fails. e is checked before anything is emitted: a format other
// than jsonl is KindInvalid "invalid_format", a since that is not RFC
// 3339 "invalid_since".
func (s *Service) ExportAudit(ctx context.Context, e AuditExport,
	emit func([]*auditchain.Record) error) error {
	if e.Format != "" && e.Format != AuditFormatJSONL {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_format", "format: must be jsonl")
	}
	since, err := parseSince(e.Since)
	if err != nil {
		return err
	}
	src, err := s.auditChain()
	if err != nil {
		return err
	}
	q := auditchain.Query{Limit: AuditBatch}
	if since != nil {
		q.Since = *since
	}
	return auditchain.Each(ctx, src, q, func(batch []*auditchain.Record) (bool, error) {
		return true, emit(batch)
	})
}
