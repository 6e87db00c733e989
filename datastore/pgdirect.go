package datastore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL → PostgreSQL direct copy: a batch is streamed from the
// source's `COPY (SELECT ...) TO STDOUT (FORMAT binary)` straight into the
// target's `COPY ... FROM STDIN (FORMAT binary)` through an io.Pipe. No row
// is decoded into Go values and encoded again, which is where the generic
// ReadBatch/WriteBatch path spends its time.

// DirectBatch is what one CopyDirect call did.
type DirectBatch struct {
	// Keys is how many keys the batch's bounds enclosed when it was planned;
	// fewer than the limit means the source had no more rows then.
	Keys int
	// Rows is how many rows the target received (the COPY's count; it can
	// differ from Keys when the source changes between plan and copy).
	Rows int64
	// LastKey is the batch's last primary key (canonical values): the
	// checkpoint. Nil when the batch was empty.
	LastKey []any
	// Merged says the batch went through an upsert (PostgreSQL: a staging
	// table; MySQL: LOAD DATA ... REPLACE) because the target's key range
	// was not known to be empty.
	Merged bool
}

// CanCopyDirect reports whether CopyDirect can move src (on s) into dst (a
// view of the target table on to, as Project returns) with the given
// catch-up filter: both stores PostgreSQL through COPY, every column of a
// known type, the key (and the filter column) of a kind CopyDirect can
// write as a literal. When it says no, the caller takes ReadBatch and
// WriteBatch, which handle everything.
func (s *Store) CanCopyDirect(ctx context.Context, to *Store, src, dst *Table, filter *Filter) bool {
	if s.Engine != Postgres || to.Engine != Postgres {
		return false
	}
	if p, err := to.WritePath(ctx); err != nil || p != PathCopy {
		return false
	}
	if src.CheckCopyable() != nil || len(src.Columns) != len(dst.Columns) {
		return false
	}
	for i, c := range src.Columns {
		if c.Type.Kind == KindUnsupported || (dst.Columns[i].Name != c.Name && !src.Mapped) || dst.Columns[i].Type.Kind == KindUnsupported {
			return false
		}
	}
	for _, k := range src.PrimaryKey {
		if !literalKind(src.Column(k).Type.Kind) {
			return false
		}
	}
	if filter != nil && filter.Column != "" {
		c := src.Column(filter.Column)
		if c == nil || !literalKind(c.Type.Kind) {
			return false
		}
	}
	return true
}

// literalKind says CopyDirect can render a value of the kind as a literal
// (COPY takes no bind parameters, so the key bounds are inlined).
func literalKind(k Kind) bool {
	switch k {
	case KindSmallInt, KindInt, KindBigInt, KindDate, KindTimestamp, KindTimestampTZ,
		KindText, KindVarchar, KindUUID:
		return true
	}
	return false
}

// CopyDirect copies the next batch of src — up to limit rows whose key is
// after `after` (nil: from the first row) and that match filter — from s
// into dst on to, in one target transaction, without decoding the rows.
// Like WriteBatch it is an upsert: plain COPY into the table when no target
// row has a key past `after` (the backfill's usual case; ordered keys
// only), else COPY into a temporary table merged with INSERT ... ON
// CONFLICT DO UPDATE. Call CanCopyDirect first.
//
// The batch is one source statement, COPY (SELECT ... ORDER BY key LIMIT
// limit): its size and last key are read from the stream's framing as it
// passes (tupleScanner), so no query has to find the bounds first. The rows
// are streamed, never held, so limit bounds the batch's time, not memory.
func (s *Store) CopyDirect(ctx context.Context, to *Store, src, dst *Table, after []any, limit int, filter *Filter) (DirectBatch, error) {
	var b DirectBatch
	if err := checkBatch(src, after, limit); err != nil {
		return b, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	query, err := s.copyOutQuery(src, dst, after, limit, filter)
	if err != nil {
		return b, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	conn, err := to.DB.Conn(ctx)
	if err != nil {
		return b, fmt.Errorf("copy %s: target: %w", src.Name, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if orderedKey(dst) || dst.IndexesDeferred {
			res, done, err := s.directIntoEmptyRange(ctx, to, pc, src, dst, after, filterRange(filter), query)
			if err != nil || done {
				b = res
				return err
			}
		}
		b, err = s.directMerge(ctx, to, pc, src, dst, query)
		b.Merged = true
		return err
	})
	return b, err
}

// copyOutQuery is the source's COPY of the first limit rows after `after`
// matching filter, in key order, each column cast to the target's type
// where the two differ (binary COPY carries no type: both ends must agree).
func (s *Store) copyOutQuery(src, dst *Table, after []any, limit int, filter *Filter) (string, error) {
	cols := make([]string, len(src.Columns))
	for i, c := range src.Columns {
		cols[i] = s.columnExpr(c)
		if dc := dst.Columns[i]; dc.NativeType != c.NativeType {
			cols[i] += "::" + dc.NativeType
		}
	}
	q, err := s.batchSelect(src, cols, after, limit, filter)
	if err != nil {
		return "", err
	}
	return "COPY (" + q + ") TO STDOUT (FORMAT binary)", nil
}

// batchSelect is the SELECT of cols over the first limit rows of src after
// `after` matching filter, in key order, every value inlined as a literal
// (COPY takes no bind parameters).
func (s *Store) batchSelect(src *Table, cols []string, after []any, limit int, filter *Filter) (string, error) {
	keys := make([]string, len(src.PrimaryKey))
	for i, k := range src.PrimaryKey {
		keys[i] = s.d.quote(k)
	}
	var where []string
	if len(after) > 0 {
		out := make([]string, len(after))
		for i, k := range src.PrimaryKey {
			l, err := pgLiteral(*src.Column(k), after[i])
			if err != nil {
				return "", fmt.Errorf("key %s: %w", k, err)
			}
			out[i] = l
		}
		where = append(where, "("+strings.Join(keys, ", ")+") > ("+strings.Join(out, ", ")+")")
	}
	conds, err := s.rangeLiterals(src, filterRange(filter))
	if err != nil {
		return "", err
	}
	where = append(where, conds...)
	if src.Where != "" {
		where = append(where, "("+src.Where+")")
	}
	if filter != nil && filter.Column != "" {
		c := src.Column(filter.Column)
		fl, err := pgLiteral(*c, filter.Since)
		if err != nil {
			return "", fmt.Errorf("filter %s: %w", c.Name, err)
		}
		where = append(where, s.d.quote(c.Name)+" >= "+fl)
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + s.d.quote(src.Name)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q + fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(keys, ", "), limit), nil
}

// pgLiteral renders a canonical key or filter value as a typed literal.
// Strings use E” with quotes and backslashes doubled, which reads the same
// whatever standard_conforming_strings says.
func pgLiteral(c Column, v any) (string, error) {
	var text string
	switch x := v.(type) {
	case int64:
		text = strconv.FormatInt(x, 10)
	case string:
		text = x
	case time.Time:
		switch c.Type.Kind {
		case KindDate:
			text = x.Format("2006-01-02")
		case KindTimestamp:
			text = x.Format("2006-01-02 15:04:05.999999")
		default:
			text = x.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
		}
	default:
		return "", fmt.Errorf("%w: %T as a literal", ErrBadValue, v)
	}
	if strings.IndexByte(text, 0) >= 0 {
		return "", fmt.Errorf("%w: NUL in a literal", ErrBadValue)
	}
	text = strings.ReplaceAll(strings.ReplaceAll(text, `\`, `\\`), `'`, `''`)
	return "E'" + text + "'::" + c.NativeType, nil
}

// directIntoEmptyRange streams the batch straight into the table when the
// target holds no key past `after` (within r, when the batch belongs to a
// key range: rows of other ranges, copied at the same time, are no
// conflict), or without asking when its indexes are deferred; done is
// false when it must be merged.
func (s *Store) directIntoEmptyRange(ctx context.Context, to *Store, pc *pgx.Conn, src, t *Table, after []any, r *KeyRange, query string) (b DirectBatch, done bool, err error) {
	tx, err := pc.Begin(ctx)
	if err != nil {
		return b, false, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	defer tx.Rollback(ctx)
	if !t.IndexesDeferred {
		cond, args, err := to.probeCond(t, after, r)
		if err != nil {
			return b, false, fmt.Errorf("copy %s: %w", t.Name, err)
		}
		taken, err := to.keyTaken(ctx, tx, t, cond, args)
		if err != nil {
			return b, false, fmt.Errorf("copy %s: %w", t.Name, err)
		}
		if taken {
			return b, false, nil
		}
	}
	b, err = s.stream(ctx, pc, src, query, copyInQuery(to, t, t.Name))
	if err != nil {
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23505" { // a concurrent writer slipped a key in
			return DirectBatch{}, false, nil
		}
		return DirectBatch{}, false, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return DirectBatch{}, false, fmt.Errorf("copy %s: commit: %w", t.Name, err)
	}
	return b, true, nil
}

// directMerge streams the batch into a temporary table dropped at commit
// and upserts from it, as copyMerge does for decoded rows.
func (s *Store) directMerge(ctx context.Context, to *Store, pc *pgx.Conn, src, t *Table, query string) (DirectBatch, error) {
	var none DirectBatch
	tx, err := pc.Begin(ctx)
	if err != nil {
		return none, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	defer tx.Rollback(ctx)
	stage := stageName(t.Name)
	list := quotedColumns(to, t)
	create := fmt.Sprintf("CREATE TEMPORARY TABLE %s ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA",
		to.d.quote(stage), list, to.d.quote(t.Name))
	if _, err := tx.Exec(ctx, create); err != nil {
		return none, fmt.Errorf("copy %s: staging table: %w", t.Name, err)
	}
	b, err := s.stream(ctx, pc, src, query, copyInQuery(to, t, stage))
	if err != nil {
		return none, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	merge := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s%s",
		to.d.quote(t.Name), list, list, to.d.quote(stage), to.d.upsertSuffix(t))
	if _, err := tx.Exec(ctx, merge); err != nil {
		return none, fmt.Errorf("copy %s: merge: %w", t.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return none, fmt.Errorf("copy %s: commit: %w", t.Name, err)
	}
	return b, nil
}

func copyInQuery(to *Store, t *Table, into string) string {
	return fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", to.d.quote(into), quotedColumns(to, t))
}

func quotedColumns(s *Store, t *Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = s.d.quote(c.Name)
	}
	return strings.Join(cols, ", ")
}

// errTargetStopped tells the source's COPY that the target gave up reading.
var errTargetStopped = errors.New("target stopped reading")

// stream runs copyOut (src's rows) on a source connection and feeds its
// output to copyIn on the target connection pc. It returns what the batch
// held: the tuples the source sent and the last one's key, read from the
// stream as it passed, and the rows the target took. Either side failing
// stops the other: the pipe carries the error across.
func (s *Store) stream(ctx context.Context, pc *pgx.Conn, src *Table, copyOut, copyIn string) (DirectBatch, error) {
	var b DirectBatch
	sconn, err := s.DB.Conn(ctx)
	if err != nil {
		return b, fmt.Errorf("source: %w", err)
	}
	defer sconn.Close()
	err = sconn.Raw(func(dc any) error {
		spg := dc.(*stdlib.Conn).Conn().PgConn()
		pr, pw := io.Pipe()
		srcErr := make(chan error, 1)
		// The source sends one CopyData message per row and the target
		// sends one message per Read: without the buffer every row would
		// cross the pipe, and the network, on its own.
		bw := bufio.NewWriterSize(pw, 64<<10)
		scan := newTupleScanner(bw, src.KeyIndexes())
		go func() {
			_, err := spg.CopyTo(ctx, scan, copyOut)
			if err == nil && !scan.complete() {
				err = errors.New("binary COPY ended without its trailer")
			}
			if err == nil {
				err = bw.Flush()
			}
			pw.CloseWithError(err) // nil: the reader sees EOF
			srcErr <- err
		}()
		tag, err := pc.PgConn().CopyFrom(ctx, pr, copyIn)
		pr.CloseWithError(errTargetStopped) // unblocks the source if the target stopped early
		serr := <-srcErr
		if serr != nil && !errors.Is(serr, errTargetStopped) {
			return fmt.Errorf("source copy: %w", serr)
		}
		if err != nil {
			return fmt.Errorf("target copy: %w", err)
		}
		b.Keys, b.Rows = int(scan.tuples), tag.RowsAffected()
		if b.LastKey, err = scan.lastKey(src); err != nil {
			return fmt.Errorf("last key of the batch: %w", err)
		}
		return nil
	})
	return b, err
}

// checkBatch refuses a direct batch's bad arguments: a resume key of
// another length than src's key, a limit of no rows.
func checkBatch(src *Table, after []any, limit int) error {
	if len(after) > 0 && len(after) != len(src.PrimaryKey) {
		return fmt.Errorf("copy %s: %d key values for %d key columns", src.Name, len(after), len(src.PrimaryKey))
	}
	if limit <= 0 {
		return fmt.Errorf("copy %s: batch limit %d", src.Name, limit)
	}
	return nil
}
