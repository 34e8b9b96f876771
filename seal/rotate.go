package seal

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mosaicgw/mosaic"
)

// DefaultBatchSize is how many values Rotate reads at a time when
// RotateOptions leaves it zero.
const DefaultBatchSize = 100

// Bounds of Rotate's retries.
const (
	// rotatePasses is how many times Rotate walks the tables at most. It
	// walks again while a walk re-sealed anything, to catch values written
	// under an old version behind it by a process that has not yet loaded
	// the new secret.
	rotatePasses = 3
	// replaceAttempts is how often one value is read and re-sealed again
	// when another writer changed it in between.
	replaceAttempts = 3
)

// RotateOptions tune Rotate. The zero value means the defaults.
type RotateOptions struct {
	// BatchSize is how many values are read at a time; zero means
	// DefaultBatchSize.
	BatchSize int
	// BatchDelay is a pause after each full batch, to spare a busy
	// database; zero means none. A table that grows by more than BatchSize
	// rows per BatchDelay keeps the walk from reaching its end.
	BatchDelay time.Duration
	// Logger receives a debug line per batch, never a value. Nil logs
	// nothing.
	Logger *slog.Logger
}

// RotateReport is what Rotate did.
type RotateReport struct {
	// CurrentVersion is the key version every value should be under.
	CurrentVersion uint32 `json:"currentVersion"`
	// Resealed counts the values re-sealed under it by this run.
	Resealed int `json:"resealed"`
	// AlreadyCurrent counts the values found under it already.
	AlreadyCurrent int `json:"alreadyCurrent"`
	// Tables has the same counts per table, in the order walked.
	Tables []TableRotation `json:"tables"`
	// Remaining lists the values left under another version.
	Remaining []RemainingValue `json:"remaining"`
}

// TableRotation is what Rotate did in one table.
type TableRotation struct {
	Table          mosaic.SealedTable `json:"table"`
	Resealed       int                `json:"resealed"`
	AlreadyCurrent int                `json:"alreadyCurrent"`
	Remaining      int                `json:"remaining"`
}

// RemainingValue is a value Rotate could not re-seal, and why. ID is empty
// for values counted but not seen by the last walk.
type RemainingValue struct {
	Table   mosaic.SealedTable `json:"table"`
	ID      string             `json:"id"`
	Version uint32             `json:"version"`
	Reason  string             `json:"reason"`
}

// Done reports whether every value is under the current version.
func (r *RotateReport) Done() bool { return len(r.Remaining) == 0 }

// rotation is one run of Rotate.
type rotation struct {
	store  mosaic.SealedStore
	sealer *Sealer
	opts   RotateOptions
	report *RotateReport
	tables map[mosaic.SealedTable]*TableRotation
}

// Rotate re-seals every sealed value of the store under the sealer's
// current version: it walks each table in id order, a batch at a time,
// opens each value under an old version and writes it back sealed under
// the current one with a conditional update, which fails rather than
// overwrite a value another writer changed meanwhile (that value is read
// and re-sealed again). Values already current are left alone, so a run
// that was stopped half way is finished by running it again, and nothing
// is lost: a value is replaced only by the same plaintext, sealed anew,
// in one statement.
//
// The report lists the values it could not re-seal, such as those under a
// version whose secret the sealer does not hold. An error is returned only
// when the store fails; the report then says what was done so far.
func Rotate(ctx context.Context, store mosaic.SealedStore, sealer *Sealer,
	opts RotateOptions) (*RotateReport, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	r := &rotation{store: store, sealer: sealer, opts: opts,
		report: &RotateReport{CurrentVersion: sealer.Current()},
		tables: map[mosaic.SealedTable]*TableRotation{}}
	for _, table := range mosaic.SealedTables() {
		r.report.Tables = append(r.report.Tables, TableRotation{Table: table})
	}
	for i := range r.report.Tables {
		r.tables[r.report.Tables[i].Table] = &r.report.Tables[i]
	}

	for pass := 1; pass <= rotatePasses; pass++ {
		resealed, err := r.walk(ctx, pass == 1)
		if err != nil {
			return r.report, err
		}
		if resealed == 0 {
			break
		}
	}
	return r.report, r.recount(ctx)
}

// walk goes once through every table and returns how many values it
// re-sealed. first says whether this is the first walk, which counts the
// values already current; each walk lists the values remaining anew.
func (r *rotation) walk(ctx context.Context, first bool) (int, error) {
	r.report.Remaining = []RemainingValue{}
	for _, t := range r.tables {
		t.Remaining = 0
	}
	resealed := 0
	for _, table := range mosaic.SealedTables() {
		after := ""
		for {
			batch, err := r.store.ListSealed(ctx, table, after, r.opts.BatchSize)
			if err != nil {
				return resealed, fmt.Errorf("seal: rotate: list %s: %w", table, err)
			}
			n, err := r.batch(ctx, batch, first)
			resealed += n
			if err != nil {
				return resealed, err
			}
			if len(batch) < r.opts.BatchSize {
				break
			}
			after = batch[len(batch)-1].Ref.ID
			if err := r.pause(ctx); err != nil {
				return resealed, err
			}
		}
	}
	return resealed, nil
}

// batch re-seals the values of one batch and returns how many it re-sealed.
func (r *rotation) batch(ctx context.Context, batch []mosaic.SealedValue, first bool) (int,
	error) {
	resealed := 0
	for _, v := range batch {
		out, err := r.one(ctx, v)
		if err != nil {
			return resealed, err
		}
		t := r.tables[v.Ref.Table]
		switch {
		case out.resealed:
			resealed++
			t.Resealed++
			r.report.Resealed++
		case out.current && first:
			t.AlreadyCurrent++
			r.report.AlreadyCurrent++
		case out.remaining != nil:
			t.Remaining++
			r.report.Remaining = append(r.report.Remaining, *out.remaining)
		}
	}
	if r.opts.Logger != nil && len(batch) > 0 {
		r.opts.Logger.DebugContext(ctx, "sealed values batch",
			slog.String("table", string(batch[0].Ref.Table)),
			slog.Int("values", len(batch)), slog.Int("resealed", resealed))
	}
	return resealed, nil
}

// outcome is what became of one value: re-sealed, already current, gone,
// or remaining under another version.
type outcome struct {
	resealed, current bool
	remaining         *RemainingValue
}

// one re-seals one value unless it is current. When the conditional
// update finds the row changed, it reads the row again and starts over.
func (r *rotation) one(ctx context.Context, v mosaic.SealedValue) (outcome, error) {
	sealed := v.Sealed
	for range replaceAttempts {
		version, err := KeyVersion(sealed)
		switch {
		case err != nil:
			return r.left(v.Ref, headerVersion(sealed[:min(len(sealed), headerLen)]),
				"not a sealed value"), nil
		case version == r.sealer.Current():
			return outcome{current: true}, nil
		case !r.sealer.Holds(version):
			return r.left(v.Ref, version, "no secret given for this key version"), nil
		}
		fresh, err := r.reseal(sealed, v.Ref)
		if err != nil {
			return r.left(v.Ref, version, "does not open under the secret of this key version "+
				"(wrong secret given for it, or the value is damaged)"), nil
		}
		ok, err := r.store.ReplaceSealed(ctx, v.Ref, sealed, fresh)
		if err != nil {
			return outcome{}, fmt.Errorf("seal: rotate: replace %s: %w", v.Ref, err)
		}
		if ok {
			return outcome{resealed: true}, nil
		}
		sealed, err = r.store.GetSealed(ctx, v.Ref)
		if mosaic.IsKind(err, mosaic.KindNotFound) {
			return outcome{}, nil // deleted meanwhile: nothing left to re-seal
		}
		if err != nil {
			return outcome{}, fmt.Errorf("seal: rotate: read %s: %w", v.Ref, err)
		}
	}
	version, _ := KeyVersion(sealed)
	return r.left(v.Ref, version, "changed by another writer at every attempt"), nil
}

// reseal opens a value under its version and seals it under the current
// one, bound to the same row.
func (r *rotation) reseal(sealed []byte, ref mosaic.SealedRef) ([]byte, error) {
	plaintext, err := r.sealer.Open(sealed, ref.AAD())
	if err != nil {
		return nil, err
	}
	defer clear(plaintext)
	return r.sealer.Seal(plaintext, ref.AAD())
}

// left is the outcome of a value that stays under another version.
func (r *rotation) left(ref mosaic.SealedRef, version uint32, reason string) outcome {
	return outcome{remaining: &RemainingValue{Table: ref.Table, ID: ref.ID, Version: version,
		Reason: reason}}
}

// pause waits BatchDelay, or until ctx ends.
func (r *rotation) pause(ctx context.Context) error {
	if r.opts.BatchDelay <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(r.opts.BatchDelay):
		return nil
	}
}

// recount counts the values under other versions once the walks are done
// and reports those the last walk did not see, such as values a stale
// process wrote behind it.
func (r *rotation) recount(ctx context.Context) error {
	counts, err := CountVersions(ctx, r.store)
	if err != nil {
		return err
	}
	for _, c := range counts {
		t := r.tables[c.Table]
		if c.Version == r.report.CurrentVersion || t == nil {
			continue
		}
		seen := 0
		for _, rv := range r.report.Remaining {
			if rv.Table == c.Table && rv.Version == c.Version {
				seen++
			}
		}
		if unseen := int(c.Count) - seen; unseen > 0 {
			t.Remaining += unseen
			r.report.Remaining = append(r.report.Remaining, RemainingValue{Table: c.Table,
				Version: c.Version, Reason: fmt.Sprintf("%d values written under this version "+
					"during the rotation; run it again", unseen)})
		}
	}
	return nil
}
