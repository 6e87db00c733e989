package datastore

import (
	"bufio"
	"context"
	"database/sql"
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
	// Merged says the batch went through a staging table and an upsert
	// because the target's key range was not known to be empty.
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
		if c.Type.Kind == KindUnsupported || dst.Columns[i].Name != c.Name || dst.Columns[i].Type.Kind == KindUnsupported {
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
func (s *Store) CopyDirect(ctx context.Context, to *Store, src, dst *Table, after []any, limit int, filter *Filter) (DirectBatch, error) {
	var b DirectBatch
	if len(after) > 0 && len(after) != len(src.PrimaryKey) {
		return b, fmt.Errorf("copy %s: %d key values for %d key columns", src.Name, len(after), len(src.PrimaryKey))
	}
	last, n, err := s.batchBounds(ctx, src, after, limit, filter)
	if err != nil || n == 0 {
		return b, err
	}
	b.Keys, b.LastKey = n, last
	query, err := s.copyOutQuery(src, dst, after, last, filter)
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
		if orderedKey(dst) {
			rows, done, err := s.directIntoEmptyRange(ctx, to, pc, dst, after, filterRange(filter), query)
			if err != nil || done {
				b.Rows = rows
				return err
			}
		}
		b.Merged = true
		b.Rows, err = s.directMerge(ctx, to, pc, dst, query)
		return err
	})
	return b, err
}

// batchBounds finds the batch's last key and how many keys it spans, with
// an index-only scan of the key.
func (s *Store) batchBounds(ctx context.Context, t *Table, after []any, limit int, filter *Filter) ([]any, int, error) {
	keys := make([]string, len(t.PrimaryKey))
	desc := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		keys[i] = s.d.quote(k)
		desc[i] = keys[i] + " DESC"
	}
	var where []string
	var args []any
	if len(after) > 0 {
		cond, uses := s.d.keyAfter(t, 1)
		where = append(where, cond)
		for _, i := range uses {
			args = append(args, after[i])
		}
	}
	conds, rargs, err := s.rangeConds(t, filterRange(filter), len(args)+1)
	if err != nil {
		return nil, 0, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	where, args = append(where, conds...), append(args, rargs...)
	if filter != nil && filter.Column != "" {
		args = append(args, filter.Since)
		where = append(where, fmt.Sprintf("%s >= %s", s.d.quote(filter.Column), s.d.placeholder(len(args))))
	}
	inner := "SELECT " + strings.Join(keys, ", ") + " FROM " + s.d.quote(t.Name)
	if len(where) > 0 {
		inner += " WHERE " + strings.Join(where, " AND ")
	}
	inner += fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(keys, ", "), limit)
	q := fmt.Sprintf("SELECT %s, count(*) OVER () FROM (%s) s ORDER BY %s LIMIT 1",
		strings.Join(keys, ", "), inner, strings.Join(desc, ", "))
	raw := make([]any, len(keys))
	ptrs := make([]any, len(keys)+1)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var n int
	ptrs[len(keys)] = &n
	err = s.DB.QueryRowContext(ctx, q, args...).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("copy %s: batch bounds: %w", t.Name, err)
	}
	for i, k := range t.PrimaryKey {
		if raw[i], err = Canonical(t.Column(k).Type, raw[i]); err != nil {
			return nil, 0, fmt.Errorf("copy %s: key %s: %w", t.Name, k, err)
		}
	}
	return raw, n, nil
}

// copyOutQuery is the source's COPY of the rows in (after, last] matching
// filter, each column cast to the target's type where the two differ
// (binary COPY carries no type: both ends must agree).
func (s *Store) copyOutQuery(src, dst *Table, after, last []any, filter *Filter) (string, error) {
	cols := make([]string, len(src.Columns))
	for i, c := range src.Columns {
		cols[i] = s.d.quote(c.Name)
		if dc := dst.Columns[i]; dc.NativeType != c.NativeType {
			cols[i] += "::" + dc.NativeType
		}
	}
	keys := make([]string, len(src.PrimaryKey))
	for i, k := range src.PrimaryKey {
		keys[i] = s.d.quote(k)
	}
	keyList := "(" + strings.Join(keys, ", ") + ")"
	lits := func(vals []any) (string, error) {
		out := make([]string, len(vals))
		for i, k := range src.PrimaryKey {
			l, err := pgLiteral(*src.Column(k), vals[i])
			if err != nil {
				return "", fmt.Errorf("key %s: %w", k, err)
			}
			out[i] = l
		}
		return "(" + strings.Join(out, ", ") + ")", nil
	}
	var where []string
	if len(after) > 0 {
		l, err := lits(after)
		if err != nil {
			return "", err
		}
		where = append(where, keyList+" > "+l)
	}
	l, err := lits(last)
	if err != nil {
		return "", err
	}
	where = append(where, keyList+" <= "+l)
	conds, err := s.rangeLiterals(src, filterRange(filter))
	if err != nil {
		return "", err
	}
	where = append(where, conds...)
	if filter != nil && filter.Column != "" {
		c := src.Column(filter.Column)
		fl, err := pgLiteral(*c, filter.Since)
		if err != nil {
			return "", fmt.Errorf("filter %s: %w", c.Name, err)
		}
		where = append(where, s.d.quote(c.Name)+" >= "+fl)
	}
	return fmt.Sprintf("COPY (SELECT %s FROM %s WHERE %s ORDER BY %s) TO STDOUT (FORMAT binary)",
		strings.Join(cols, ", "), s.d.quote(src.Name), strings.Join(where, " AND "), strings.Join(keys, ", ")), nil
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
// conflict); done is false when it must be merged.
func (s *Store) directIntoEmptyRange(ctx context.Context, to *Store, pc *pgx.Conn, t *Table, after []any, r *KeyRange, query string) (rows int64, done bool, err error) {
	tx, err := pc.Begin(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	defer tx.Rollback(ctx)
	q, args, err := to.probeQuery(t, after, r)
	if err != nil {
		return 0, false, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	var taken bool
	if err := tx.QueryRow(ctx, q, args...).Scan(&taken); err != nil {
		return 0, false, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	if taken {
		return 0, false, nil
	}
	n, err := s.stream(ctx, pc, query, copyInQuery(to, t, t.Name))
	if err != nil {
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23505" { // a concurrent writer slipped a key in
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, fmt.Errorf("copy %s: commit: %w", t.Name, err)
	}
	return n, true, nil
}

// directMerge streams the batch into a temporary table dropped at commit
// and upserts from it, as copyMerge does for decoded rows.
func (s *Store) directMerge(ctx context.Context, to *Store, pc *pgx.Conn, t *Table, query string) (int64, error) {
	tx, err := pc.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	defer tx.Rollback(ctx)
	stage := stageName(t.Name)
	list := quotedColumns(to, t)
	create := fmt.Sprintf("CREATE TEMPORARY TABLE %s ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA",
		to.d.quote(stage), list, to.d.quote(t.Name))
	if _, err := tx.Exec(ctx, create); err != nil {
		return 0, fmt.Errorf("copy %s: staging table: %w", t.Name, err)
	}
	n, err := s.stream(ctx, pc, query, copyInQuery(to, t, stage))
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	merge := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s%s",
		to.d.quote(t.Name), list, list, to.d.quote(stage), to.d.upsertSuffix(t))
	if _, err := tx.Exec(ctx, merge); err != nil {
		return 0, fmt.Errorf("copy %s: merge: %w", t.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("copy %s: commit: %w", t.Name, err)
	}
	return n, nil
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

// stream runs copyOut on a source connection and feeds its output to
// copyIn on the target connection pc, returning the rows the target took.
// Either side failing stops the other: the pipe carries the error across.
func (s *Store) stream(ctx context.Context, pc *pgx.Conn, copyOut, copyIn string) (int64, error) {
	sconn, err := s.DB.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	defer sconn.Close()
	var rows int64
	err = sconn.Raw(func(dc any) error {
		spg := dc.(*stdlib.Conn).Conn().PgConn()
		pr, pw := io.Pipe()
		srcErr := make(chan error, 1)
		go func() {
			// The source sends one CopyData message per row and the target
			// sends one message per Read: without the buffer every row
			// would cross the pipe, and the network, on its own.
			bw := bufio.NewWriterSize(pw, 64<<10)
			_, err := spg.CopyTo(ctx, bw, copyOut)
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
		rows = tag.RowsAffected()
		return nil
	})
	return rows, err
}
