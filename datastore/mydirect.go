package datastore

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL → MySQL/MariaDB direct load: a batch is streamed from the
// source's text `COPY (SELECT ...) TO STDOUT` straight into the target's
// `LOAD DATA LOCAL INFILE ... REPLACE` through an io.Pipe, as
// `psql \copy | mariadb LOAD DATA` would. The two text formats agree
// (tab-separated, \N for NULL, backslash escapes) for the kinds
// loadableKinds allows, once booleans are selected as 0/1 and instants as
// their UTC wall clock; the only escapes PostgreSQL writes that MySQL
// reads otherwise, \f and \v, are turned back into their bytes on the way
// (loadScanner). No row is decoded into Go values: the decoded path
// (ReadBatch, writeLoadData) spent most of the worker's time there.

// CanLoadDirect reports whether LoadDirect can move src (on s, PostgreSQL)
// into dst (the view of the target table on to, MySQL/MariaDB with LOAD
// DATA LOCAL INFILE on): every column pair of kinds whose text forms both
// engines read alike (loadableKinds), an integer key, and a catch-up
// filter column CopyDirect can render. Otherwise the caller takes
// ReadBatch and WriteBatch.
func (s *Store) CanLoadDirect(ctx context.Context, to *Store, src, dst *Table, filter *Filter) bool {
	if s.Engine != Postgres || to.Engine != MySQL {
		return false
	}
	if p, err := to.WritePath(ctx); err != nil || p != PathLoadData {
		return false
	}
	if src.CheckCopyable() != nil || len(src.Columns) != len(dst.Columns) {
		return false
	}
	for i, c := range src.Columns {
		if (dst.Columns[i].Name != c.Name && !src.Mapped) || !loadableKinds(c.Type.Kind, dst.Columns[i].Type.Kind) {
			return false
		}
	}
	return integerKeyAndFilter(src, filter)
}

// integerKeyAndFilter says src's key is all integers (a text COPY's last
// key is read back from its fields) and the catch-up filter's column, if
// any, is one the batch select can render as a literal.
func integerKeyAndFilter(src *Table, filter *Filter) bool {
	for _, k := range src.PrimaryKey {
		if !isInt(src.Column(k).Type.Kind) {
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

// loadableKinds says a source column of kind from (PostgreSQL) reaches a
// target column of kind to (MySQL) through the text of LoadDirect exactly
// as the decoded path would write it. Pairs left out (bytes: PostgreSQL
// writes hex; JSON; a change of kind the decoded path converts itself)
// take the decoded path.
func loadableKinds(from, to Kind) bool {
	switch from {
	case KindSmallInt, KindInt, KindBigInt:
		return to == KindSmallInt || to == KindInt || to == KindBigInt || to == KindDecimal
	case KindDecimal:
		return to == KindDecimal
	case KindFloat, KindDouble:
		return to == KindFloat || to == KindDouble
	case KindText, KindVarchar, KindUUID:
		return to == KindText || to == KindVarchar
	case KindTimestampTZ:
		// Selected as its UTC wall clock (loadSelectList), an instant
		// reads the same into a TIMESTAMP (the session's zone is UTC) and
		// into the DATETIME provision makes of it, as the decoded path
		// writes it there.
		return to == KindTimestampTZ || to == KindTimestamp
	case KindBool, KindDate, KindTimestamp:
		return to == from
	}
	return false
}

// loadSelectList is the source's select list for LoadDirect (and
// SQLiteDirect): booleans as
// 0/1, instants as their UTC wall clock (the target session's zone is
// UTC), a character(n) without its padding, the rest as PostgreSQL writes
// them.
func (s *Store) loadSelectList(src *Table) []string {
	cols := make([]string, len(src.Columns))
	for i, c := range src.Columns {
		e := s.columnExpr(c)
		switch c.Type.Kind {
		case KindBool:
			e = "(" + e + ")::int"
		case KindTimestampTZ:
			e = "(" + e + " AT TIME ZONE 'UTC')"
		}
		if c.Type.Padded {
			e = "(" + e + ")::text" // a character(n)'s padding is no part of its value
		}
		cols[i] = e
	}
	return cols
}

// LoadDirect copies the next batch of src — up to limit rows whose key is
// after `after` (nil: from the first row) and that match filter — from s
// into dst on to in one LOAD DATA LOCAL INFILE ... REPLACE (so, like
// WriteBatch, an upsert) in one target transaction, the rows streamed and
// never decoded. Its size and last key are read from the stream as it
// passes. Call CanLoadDirect first.
func (s *Store) LoadDirect(ctx context.Context, to *Store, src, dst *Table, after []any, limit int, filter *Filter) (DirectBatch, error) {
	var b DirectBatch
	if err := checkBatch(src, after, limit); err != nil {
		return b, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	sel, err := s.batchSelect(src, s.loadSelectList(src), after, limit, filter)
	if err != nil {
		return b, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	query := "COPY (" + sel + ") TO STDOUT"
	// Into a key range the target has no row of yet (the backfill's usual
	// case), plain LOAD DATA: REPLACE costs the server about a fifth more.
	// A key that slipped in meanwhile fails the load, which then goes
	// again as REPLACE.
	replace := true
	if orderedKey(dst) {
		taken, err := to.rangeTaken(ctx, dst, after, filterRange(filter))
		if err != nil {
			return b, fmt.Errorf("copy %s: %w", src.Name, err)
		}
		replace = taken
	}
	b, err = s.loadOrReplace(ctx, to, src, dst, query, replace)
	if err != nil {
		return DirectBatch{}, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	return b, nil
}

// loadOrReplace is loadDirect, again with REPLACE when a plain load met a
// key the target had after all (a writer slipped it in after the probe).
func (s *Store) loadOrReplace(ctx context.Context, to *Store, src, dst *Table, query string, replace bool) (DirectBatch, error) {
	b, err := s.loadDirect(ctx, to, src, dst, query, replace)
	if !replace && errors.Is(err, errDuplicateKey) {
		return s.loadDirect(ctx, to, src, dst, query, true)
	}
	return b, err
}

// rangeTaken reports whether t on s (MySQL) has a key after `after`
// within r.
func (s *Store) rangeTaken(ctx context.Context, t *Table, after []any, r *KeyRange) (bool, error) {
	var conds []string
	var args []any
	if len(after) > 0 {
		cond, uses := s.d.keyAfter(t, 1) // spelt out for a composite key: its values repeat
		conds = append(conds, cond)
		for _, u := range uses {
			args = append(args, after[u])
		}
	}
	rc, rargs, err := s.rangeConds(t, r, len(args)+1)
	if err != nil {
		return false, err
	}
	conds, args = append(conds, rc...), append(args, rargs...)
	q := "SELECT 1 FROM " + s.d.quote(t.Name)
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	var one int
	err = s.DB.QueryRowContext(ctx, q+" LIMIT 1", args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe the key range: %w", err)
	}
	return true, nil
}

// loadDirect streams the source's query into one LOAD DATA on to.
func (s *Store) loadDirect(ctx context.Context, to *Store, src, dst *Table, query string, replace bool) (DirectBatch, error) {
	var b DirectBatch
	// No blob is loaded direct (loadableKinds), so text only decides the
	// character set.
	text, err := to.loadAsText(ctx, dst)
	if err != nil {
		return b, fmt.Errorf("target: %w", err)
	}
	sconn, err := s.DB.Conn(ctx)
	if err != nil {
		return b, fmt.Errorf("source: %w", err)
	}
	defer sconn.Close()
	err = sconn.Raw(func(dc any) error {
		spg := dc.(*stdlib.Conn).Conn().PgConn()
		// ISO dates whatever the server's default; floats to their last
		// digit on servers before 12 (later ones write the shortest exact
		// form anyway). pgx reads both in binary, so the pool's other uses
		// do not mind.
		if err := spg.Exec(ctx, "SET datestyle = 'ISO, YMD'; SET extra_float_digits = 3").Close(); err != nil {
			return fmt.Errorf("source session: %w", err)
		}
		keyAt := src.KeyIndexes()
		pr, pw := io.Pipe()
		bw := bufio.NewWriterSize(pw, 64<<10)
		scan := &loadScanner{w: bw, keyAt: keyAt}
		srcErr := make(chan error, 1)
		go func() {
			_, err := spg.CopyTo(ctx, scan, query)
			if err == nil && len(scan.tail) > 0 {
				err = errors.New("text COPY ended inside a row")
			}
			if err == nil {
				err = bw.Flush()
			}
			pw.CloseWithError(err) // nil: the load reads EOF
			srcErr <- err
		}()
		lerr := to.loadFrom(ctx, dst, pr, replace, text)
		pr.CloseWithError(errTargetStopped) // unblocks the source if the load stopped early
		serr := <-srcErr
		if serr != nil && !errors.Is(serr, errTargetStopped) {
			return fmt.Errorf("source copy: %w", serr)
		}
		if lerr != nil {
			// Failure path only: the batch again, to name the row (and the
			// value) as the source wrote it.
			var bt *badTextError
			var rv *rowValueError
			switch {
			case errors.As(lerr, &bt) && bt.row > 0:
				if fields, err := rowFields(ctx, spg, query, bt.row); err == nil {
					bt.key = fieldsKey(src, fields)
				}
			case errors.As(lerr, &rv) && rv.row > 0:
				if fields, err := rowFields(ctx, spg, query, rv.row); err == nil {
					rv.fillFromText(src, dst, fields)
				}
			}
			return lerr
		}
		b.Keys, b.Rows, b.Merged = int(scan.rows), scan.rows, replace
		if b.LastKey, err = scan.lastKey(src); err != nil {
			return fmt.Errorf("last key of the batch: %w", err)
		}
		return nil
	})
	return b, err
}

// loadScanner passes PostgreSQL's text COPY stream through to w as LOAD
// DATA reads it: it counts the rows (every raw newline ends one: a newline
// inside a value is written \n), keeps the last complete row to read its
// key from, and rewrites the escapes \f and \v, which LOAD DATA would read
// as the letters f and v, into escapes of the bytes they stand for.
type loadScanner struct {
	w     io.Writer
	keyAt []int

	rows    int64
	tail    []byte // the row being received, until its newline
	last    []byte // the last complete row, without its newline
	escaped bool   // the previous byte was an escaping backslash
	out     []byte // scratch for a rewritten chunk
}

func (s *loadScanner) Write(p []byte) (int, error) {
	out := s.rewrite(p)
	if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
		s.rows += int64(bytes.Count(p, []byte{'\n'}))
		start := bytes.LastIndexByte(p[:i], '\n')
		if start >= 0 {
			s.last = append(s.last[:0], p[start+1:i]...)
		} else {
			s.last = append(append(s.last[:0], s.tail...), p[:i]...)
		}
		s.tail = append(s.tail[:0], p[i+1:]...)
	} else {
		s.tail = append(s.tail, p...)
	}
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// rewrite returns p with the letter of every escape \f and \v replaced
// by the byte it stands for (p itself when it holds none), following an
// escape across writes: LOAD DATA reads a backslash before a byte it has
// no escape for as that byte.
func (s *loadScanner) rewrite(p []byte) []byte {
	if !s.escaped && bytes.IndexByte(p, '\\') < 0 {
		return p
	}
	var out []byte
	for i, c := range p {
		if !s.escaped {
			s.escaped = c == '\\'
			continue
		}
		s.escaped = false
		if c != 'f' && c != 'v' {
			continue
		}
		if out == nil {
			out = append(s.out[:0], p...) // p is not ours to change
			s.out = out
		}
		if c == 'f' {
			out[i] = '\f'
		} else {
			out[i] = '\v'
		}
	}
	if out == nil {
		return p
	}
	return out
}

// lastKey reads the key fields of the last row (nil when there was none).
func (s *loadScanner) lastKey(t *Table) ([]any, error) {
	if s.rows == 0 {
		return nil, nil
	}
	fields := bytes.Split(s.last, []byte{'\t'})
	out := make([]any, len(s.keyAt))
	for i, at := range s.keyAt {
		if at >= len(fields) {
			return nil, fmt.Errorf("a row of %d fields", len(fields))
		}
		v, err := strconv.ParseInt(string(fields[at]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w: %q", t.PrimaryKey[i], ErrBadValue, fields[at])
		}
		out[i] = v
	}
	return out, nil
}

// rowFields reads the n-th row (1-based) of a text COPY query, its fields
// as COPY wrote them (for an error message).
func rowFields(ctx context.Context, spg *pgconn.PgConn, query string, n int) ([]string, error) {
	w := &nthRow{n: n}
	if _, err := spg.CopyTo(ctx, w, query); err != nil {
		return nil, err
	}
	if w.row == nil {
		return nil, fmt.Errorf("no row %d", n)
	}
	return strings.Split(string(w.row), "\t"), nil
}

// nthRow keeps the n-th line (1-based) written to it.
type nthRow struct {
	n, seen int
	cur     []byte
	row     []byte
}

func (w *nthRow) Write(p []byte) (int, error) {
	for _, c := range p {
		if w.row != nil {
			break
		}
		if c != '\n' {
			if w.seen == w.n-1 {
				w.cur = append(w.cur, c)
			}
			continue
		}
		w.seen++
		if w.seen == w.n {
			w.row = append([]byte{}, w.cur...)
		}
	}
	return len(p), nil
}
