package schemachange

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
)

// DefaultBatchRows is a backfill's batch size when none is given.
const DefaultBatchRows = 5000

// Backfill fills columns of a table from expressions over its row, in
// keyset batches by primary key, one short transaction each.
type Backfill struct {
	// Name records the backfill's progress in the store.
	Name  string
	Table string
	// Set maps each column to fill to its SQL expression over the row.
	Set map[string]string
	// Where, if set, restricts the rows updated ("email_address IS NULL").
	Where string
	// BatchRows is the number of rows (by key) each batch walks.
	BatchRows int
	// RowsPerSecond caps the rows walked per second; 0 = no limit.
	RowsPerSecond float64
	// Probe, if set, is a back-off probe (datacopy's, as a copy's
	// throttle.probe): while its value is over its maximum no batch starts.
	Probe *datacopy.Probe
	// LockTimeout bounds each batch's wait for a lock; a batch that times
	// out is retried (see Change).
	LockTimeout time.Duration
	Retries     int
	Backoff     time.Duration
}

// Progress is a backfill's state after a batch: its checkpoint (datacopy's
// form: stage, last key done, rows walked, total), rows updated in this
// run and before it, and an estimate of the time left.
type Progress struct {
	Checkpoint datacopy.TableCheckpoint `json:"checkpoint"`
	Updated    int64                    `json:"updated"`
	// UpdatedBefore is the rows the earlier runs (attempts) updated, kept
	// in the store's record with the checkpoint; 0 for a record written
	// before it kept them.
	UpdatedBefore int64         `json:"updatedBefore,omitempty"`
	Batches       int           `json:"batches"`
	ETA           time.Duration `json:"eta,omitempty"`
	// Throttle is what the back-off probe last saw (nil: no probe yet).
	Throttle *datacopy.ThrottleStatus `json:"throttle,omitempty"`
}

// TotalUpdated is the rows the backfill updated in every run so far.
func (p Progress) TotalUpdated() int64 { return p.UpdatedBefore + p.Updated }

// maxRecordedUpdated is the most rows updated a record keeps (its done
// column is a 32-bit INTEGER on every engine): past it the total shown
// stays there.
const maxRecordedUpdated = math.MaxInt32

// RunBackfill walks the table in primary-key order from where the
// backfill's record in the store says it stopped. Each batch finds the key
// BatchRows rows on, updates the rows in between (that match Where) and
// moves the record past them, all in one transaction: a run killed at any
// point resumes after the last batch committed and never updates a
// finished batch again. onBatch is called after each commit.
func RunBackfill(ctx context.Context, st *datastore.Store, b Backfill, log hclog.Logger, onBatch func(Progress)) (Progress, error) {
	if b.BatchRows <= 0 {
		b.BatchRows = DefaultBatchRows
	}
	c := Change{Name: b.Name, LockTimeout: b.LockTimeout, Retries: b.Retries, Backoff: b.Backoff}
	c.normalize()
	if err := ensureRecordTable(ctx, st); err != nil {
		return Progress{}, err
	}
	t, err := st.Introspect(ctx, b.Table)
	if err != nil {
		return Progress{}, fmt.Errorf("backfill %s: %w", b.Table, err)
	}
	if err := t.CheckCopyable(); err != nil {
		return Progress{}, fmt.Errorf("backfill: %w", err)
	}
	set, err := assignments(st, t, b.Set)
	if err != nil {
		return Progress{}, err
	}
	rec, err := readRecord(ctx, st.DB, st, b.Name)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Checkpoint: datacopy.TableCheckpoint{Table: b.Table, Stage: datacopy.StageBackfill}}
	var last []any
	if rec != nil {
		if rec.step != stepBackfill {
			return p, fmt.Errorf("backfill %s: the store's record of %s is a %q step, not a backfill: give the phase another name", b.Table, b.Name, rec.step)
		}
		p.Checkpoint.RowsDone = rec.rows
		p.UpdatedBefore = int64(rec.done) // a backfill record's done counts rows updated
		if rec.lastKey == "done" {
			p.Checkpoint.Stage = datacopy.StageDone
			return p, nil
		}
		if rec.lastKey != "" {
			if err := json.Unmarshal([]byte(rec.lastKey), &p.Checkpoint.LastKey); err != nil {
				return p, fmt.Errorf("backfill %s: unreadable checkpoint in %s: %w", b.Table, RecordTable, err)
			}
			if last, err = datastore.DecodeKey(t, p.Checkpoint.LastKey); err != nil {
				return p, fmt.Errorf("backfill %s: checkpoint: %w", b.Table, err)
			}
		}
	}
	if err := st.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+st.Quote(t.Name)).Scan(&p.Checkpoint.Total); err != nil {
		return p, fmt.Errorf("backfill %s: count rows: %w", b.Table, err)
	}
	var limiter *rate.Limiter
	if b.RowsPerSecond > 0 {
		limiter = rate.NewLimiter(rate.Limit(b.RowsPerSecond), b.BatchRows)
	}
	report := func() {
		if onBatch != nil {
			onBatch(p)
		}
	}
	var gate *datacopy.Gate
	if b.Probe != nil {
		// A held backfill reports on every probe, so its wait shows.
		if gate, err = datacopy.NewGate(*b.Probe, log, func() { p.Throttle = gate.Status(); report() }); err != nil {
			return p, fmt.Errorf("backfill %s: %w", b.Table, err)
		}
	}
	started, walked := time.Now(), int64(0)
	for {
		if gate != nil {
			if err := gate.Wait(ctx); err != nil {
				return p, fmt.Errorf("backfill %s: stopped at its record while throttled by the probe: %w", b.Table, err)
			}
			p.Throttle = gate.Status()
		}
		var next []any
		var n, updated int64
		err := withRetry(ctx, st, c, log, "backfill "+b.Table, func() error {
			return inTransaction(ctx, st, c.LockTimeout, func(tx *sql.Tx) error {
				// The batch reads its bounds before it writes: take the
				// write lock first where the engine needs it (SQLite).
				if claim := st.ClaimWriteSQL(t.Name, t.PrimaryKey[0]); claim != "" {
					if _, err := tx.ExecContext(ctx, claim); err != nil {
						return fmt.Errorf("take the write lock: %w", err)
					}
				}
				var err error
				next, n, updated, err = batch(ctx, tx, st, t, last, b, set)
				if err != nil {
					return err
				}
				r := record{step: stepBackfill, rows: p.Checkpoint.RowsDone + n, lastKey: "done",
					done: int(min(p.TotalUpdated()+updated, maxRecordedUpdated))}
				if next != nil {
					key, err := datastore.EncodeKey(t, next)
					if err != nil {
						return err
					}
					js, _ := json.Marshal(key)
					r.lastKey = string(js)
				}
				return writeRecord(ctx, tx, st, b.Name, r)
			})
		})
		if err != nil {
			return p, fmt.Errorf("backfill %s: %w", b.Table, err)
		}
		p.Batches++
		p.Updated += updated
		p.Checkpoint.RowsDone += n
		walked += n
		if next == nil {
			p.Checkpoint.Stage, p.Checkpoint.LastKey, p.ETA = datacopy.StageDone, nil, 0
			report()
			log.Info("backfill done", "table", b.Table, "rows", p.Checkpoint.RowsDone, "updated", p.Updated)
			return p, nil
		}
		last = next
		p.Checkpoint.LastKey, _ = datastore.EncodeKey(t, next)
		if secs := time.Since(started).Seconds(); secs > 0 && walked > 0 {
			rps := float64(walked) / secs
			if b.RowsPerSecond > 0 {
				rps = min(rps, b.RowsPerSecond)
			}
			left := max(p.Checkpoint.Total-p.Checkpoint.RowsDone, 0)
			p.ETA = time.Duration(float64(left) / rps * float64(time.Second))
		}
		report()
		if limiter != nil {
			if err := limiter.WaitN(ctx, int(min(n, int64(b.BatchRows)))); err != nil {
				return p, err
			}
		}
		if err := ctx.Err(); err != nil {
			return p, err
		}
	}
}

// batch updates the rows after last up to the key BatchRows rows on (to
// the end when fewer are left, and then next is nil). n counts the rows
// walked, updated those changed.
func batch(ctx context.Context, tx *sql.Tx, st *datastore.Store, t *datastore.Table, last []any, b Backfill, set string) (next []any, n, updated int64, err error) {
	var keyCols []string
	for _, k := range t.PrimaryKey {
		keyCols = append(keyCols, st.Quote(k))
	}
	var where []string
	var args []any
	if last != nil {
		cond, a, err := st.KeyAfterCond(t, last, 1)
		if err != nil {
			return nil, 0, 0, err
		}
		where, args = append(where, cond), a
	}
	// The key BatchRows rows on bounds this batch.
	q := "SELECT " + strings.Join(keyCols, ", ") + " FROM " + st.Quote(t.Name)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT 1 OFFSET %d", strings.Join(keyCols, ", "), b.BatchRows-1)
	raw := make([]any, len(keyCols))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	switch err := tx.QueryRowContext(ctx, q, args...).Scan(ptrs...); {
	case err == sql.ErrNoRows:
	case err != nil:
		return nil, 0, 0, fmt.Errorf("find batch end: %w", err)
	default:
		next = make([]any, len(raw))
		for i, k := range t.PrimaryKey {
			if next[i], err = datastore.Canonical(t.Column(k).Type, raw[i]); err != nil {
				return nil, 0, 0, err
			}
		}
		cond, a, err := st.KeyAfterCond(t, next, len(args)+1)
		if err != nil {
			return nil, 0, 0, err
		}
		where, args = append(where, "NOT ("+cond+")"), append(args, a...)
	}
	if next != nil {
		n = int64(b.BatchRows)
	} else {
		cq := "SELECT COUNT(*) FROM " + st.Quote(t.Name)
		if len(where) > 0 {
			cq += " WHERE " + strings.Join(where, " AND ")
		}
		if err := tx.QueryRowContext(ctx, cq, args...).Scan(&n); err != nil {
			return nil, 0, 0, fmt.Errorf("count last batch: %w", err)
		}
	}
	u := "UPDATE " + st.Quote(t.Name) + " SET " + set
	conds := append([]string(nil), where...)
	if strings.TrimSpace(b.Where) != "" {
		conds = append(conds, "("+b.Where+")")
	}
	if len(conds) > 0 {
		u += " WHERE " + strings.Join(conds, " AND ")
	}
	res, err := tx.ExecContext(ctx, u, args...)
	if err != nil {
		if datastore.IsValueError(err) {
			return nil, 0, 0, fmt.Errorf("update batch of the rows %s: %w", batchRange(t, last, next), &LossError{Table: t.Name, Err: err})
		}
		return nil, 0, 0, fmt.Errorf("update batch: %w", err)
	}
	updated, _ = res.RowsAffected()
	return next, n, updated, nil
}

// assignments renders Set as "col = expr, ..." in column order, refusing
// a column the table lacks.
func assignments(st *datastore.Store, t *datastore.Table, set map[string]string) (string, error) {
	if len(set) == 0 {
		return "", fmt.Errorf("backfill %s: set names no column to fill", t.Name)
	}
	cols := make([]string, 0, len(set))
	for c := range set {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	parts := make([]string, 0, len(cols))
	for _, c := range cols {
		name, ok := findFold(t.ColumnNames(), c)
		if !ok {
			return "", fmt.Errorf("backfill %s: %w: no column %q to set (has the expand phase run?)", t.Name, datastore.ErrShapeMismatch, c)
		}
		parts = append(parts, st.Quote(name)+" = "+set[c])
	}
	return strings.Join(parts, ", "), nil
}

// LossError is a backfill batch the store refused because a value does
// not fit the column it is written to (out of range, too long, not a
// valid value): a narrowing change (BIGINT to INT, VARCHAR(200) to
// VARCHAR(20)) would lose data. Retrying does not help, and the
// dual-write triggers refuse the application's writes of such values
// meanwhile: the message says what to change.
type LossError struct {
	Table string
	Err   error
}

func (e *LossError) Error() string {
	return fmt.Sprintf("a value does not fit the column it is written to, so the change would lose data (and while the expand is in, "+
		"the dual-write triggers refuse the writes of such values too): make the new column of %s wide enough for every value of its rule, "+
		"or change those rows, then start again: %v", e.Table, e.Err)
}

func (e *LossError) Unwrap() error { return e.Err }

// batchRange names a batch's keys for a person: after last (exclusive)
// up to next (inclusive), from the start or to the end when nil.
func batchRange(t *datastore.Table, last, next []any) string {
	key := func(k []any) string {
		enc, err := datastore.EncodeKey(t, k)
		if err != nil {
			return fmt.Sprint(k...)
		}
		if len(enc) == 1 {
			return t.PrimaryKey[0] + " " + enc[0]
		}
		return "(" + strings.Join(t.PrimaryKey, ", ") + ") (" + strings.Join(enc, ", ") + ")"
	}
	from, to := "from the first key", "to the last"
	if last != nil {
		from = "after " + key(last)
	}
	if next != nil {
		to = "up to " + key(next)
	}
	return from + " " + to
}
