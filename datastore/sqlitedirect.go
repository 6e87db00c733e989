package datastore

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL → SQLite direct copy: a batch is streamed from the source's
// text `COPY (SELECT ...) TO STDOUT`, each field turned into the value
// SQLite stores (an integer, a float, text, bytes) as it arrives, and
// written by the prepared multi-row INSERTs of writePrepared in one target
// transaction, reading and writing at once. The decoded path (ReadBatch
// through database/sql, Canonical, then encoding for SQLite) spent more
// CPU reading than SQLite spent writing, on a machine where both compete
// for the same cores.

// ErrNotDirect says a batch met a value the direct path does not carry
// (PostgreSQL's infinity or a BC date) and wrote nothing: the caller
// copies the rest of the table through the decoded path, which names the
// row or carries the value.
var ErrNotDirect = errors.New("value not carried by the direct path")

// CanSQLiteDirect reports whether SQLiteDirect can move src (on s,
// PostgreSQL) into dst (the view of the target table on to, SQLite): each
// column pair of one kind the text COPY renders as SQLite stores it
// (sqliteDirectKind), an integer key, and a catch-up filter column the
// batch select can render.
func (s *Store) CanSQLiteDirect(ctx context.Context, to *Store, src, dst *Table, filter *Filter) bool {
	if s.Engine != Postgres || to.Engine != SQLite {
		return false
	}
	if src.CheckCopyable() != nil || len(src.Columns) != len(dst.Columns) {
		return false
	}
	for i, c := range src.Columns {
		d := dst.Columns[i]
		same := c.Type.Kind == d.Type.Kind || (isInt(c.Type.Kind) && isInt(d.Type.Kind))
		if (d.Name != c.Name && !src.Mapped) || !same || !sqliteDirectKind(c.Type.Kind) {
			return false
		}
	}
	return integerKeyAndFilter(src, filter)
}

// sqliteDirectKind lists the kinds whose text in PostgreSQL's COPY
// (loadSelectList, ISO dates) becomes exactly what the decoded path
// binds for SQLite (sqliteDialect.encode). JSON (canonicalised on the
// decoded path) is not one.
func sqliteDirectKind(k Kind) bool {
	switch k {
	case KindSmallInt, KindInt, KindBigInt, KindDecimal, KindFloat, KindDouble, KindBool,
		KindText, KindVarchar, KindUUID, KindBytes, KindDate, KindTimestamp, KindTimestampTZ:
		return true
	}
	return false
}

// sqliteDirectChunk is how many rows the source side hands the target
// side at a time.
const sqliteDirectChunk = 512

// SQLiteDirect copies the next batch of src — up to limit rows whose key
// is after `after` (nil: from the first row) and that match filter — from
// s into dst on to (SQLite) in one target transaction, as upserts like
// WriteBatch. Call CanSQLiteDirect first. A value it does not carry fails
// the batch with ErrNotDirect before it commits.
func (s *Store) SQLiteDirect(ctx context.Context, to *Store, src, dst *Table, after []any, limit int, filter *Filter) (DirectBatch, error) {
	var b DirectBatch
	if err := checkBatch(src, after, limit); err != nil {
		return b, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	sel, err := s.batchSelect(src, s.loadSelectList(src), after, limit, filter) // as for LOAD DATA
	if err != nil {
		return b, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	query := "COPY (" + sel + ") TO STDOUT"
	per := min(rowsPerStatement, to.d.maxParams()/max(1, len(dst.Columns)))
	q, qn := to.preparedInsert(dst, 1), to.preparedInsert(dst, per)

	sconn, err := s.DB.Conn(ctx)
	if err != nil {
		return b, fmt.Errorf("copy %s: source: %w", src.Name, err)
	}
	defer sconn.Close()
	tconn, err := to.DB.Conn(ctx)
	if err != nil {
		return b, fmt.Errorf("copy %s: target: %w", src.Name, err)
	}
	defer tconn.Close()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan [][]any, 4)
	parse := &copyRows{src: src, dst: dst, out: chunks, ctx: cctx}
	srcErr := make(chan error, 1)
	go func() {
		err := sconn.Raw(func(dc any) error {
			spg := dc.(*stdlib.Conn).Conn().PgConn()
			// ISO dates whatever the server's default; floats to their
			// last digit on servers before 12.
			if err := spg.Exec(cctx, "SET datestyle = 'ISO, YMD'; SET extra_float_digits = 3").Close(); err != nil {
				return fmt.Errorf("source session: %w", err)
			}
			if _, err := spg.CopyTo(cctx, parse, query); err != nil {
				return err
			}
			return parse.flush()
		})
		close(chunks)
		srcErr <- err
	}()

	var rows int64
	var last []any
	var serr error   // the source's end
	srcDone := false // serr was read
	werr := driverTx(ctx, tconn, func(c driver.Conn) error {
		w := &preparedRows{t: dst, per: per}
		defer w.close()
		var err error
		if w.one, err = c.Prepare(q); err != nil {
			return err
		}
		if w.many, err = c.Prepare(qn); err != nil {
			return err
		}
		for chunk := range chunks {
			if err := checkDecimals(dst, chunk); err != nil {
				return fmt.Errorf("write %s: %w", dst.Name, err)
			}
			if err := w.write(ctx, chunk); err != nil {
				return fmt.Errorf("write %s: %w", dst.Name, err)
			}
			rows += int64(len(chunk))
			last = chunk[len(chunk)-1]
		}
		// Commit only what the source sent whole.
		serr, srcDone = <-srcErr, true
		if serr != nil {
			return errSourceFailed
		}
		return nil
	})
	if !srcDone { // the target stopped first
		cancel() // the source stops at its next row
		for range chunks {
		}
		serr = <-srcErr
	}
	switch {
	case serr != nil && (werr == nil || errors.Is(werr, errSourceFailed)):
		if errors.Is(serr, ErrNotDirect) {
			return DirectBatch{}, fmt.Errorf("copy %s: %w", src.Name, serr)
		}
		return DirectBatch{}, fmt.Errorf("copy %s: source copy: %w", src.Name, serr)
	case werr != nil:
		return DirectBatch{}, fmt.Errorf("copy %s: %w", src.Name, werr)
	}
	b.Keys, b.Rows = int(rows), rows
	if rows > 0 {
		keyAt := src.KeyIndexes()
		b.LastKey = make([]any, len(keyAt))
		for i, at := range keyAt {
			b.LastKey[i] = last[at]
		}
	}
	return b, nil
}

// errSourceFailed stands for the source's error on the target side.
var errSourceFailed = errors.New("the source copy failed")

// copyRows parses PostgreSQL's text COPY stream into rows of the values
// SQLite stores, handing them on in chunks.
type copyRows struct {
	src, dst *Table
	out      chan<- [][]any
	ctx      context.Context

	tail  []byte // the row being received, until its newline
	chunk [][]any
	row   int // rows parsed, for errors
	field []byte
}

func (p *copyRows) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.tail = append(p.tail, b...)
			break
		}
		line := b[:i]
		if len(p.tail) > 0 {
			line = append(p.tail, line...)
			p.tail = p.tail[:0]
		}
		if err := p.parseRow(line); err != nil {
			return 0, err
		}
		b = b[i+1:]
	}
	if len(p.chunk) >= sqliteDirectChunk {
		if err := p.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (p *copyRows) flush() error {
	if len(p.tail) > 0 {
		return errors.New("text COPY ended inside a row")
	}
	if len(p.chunk) == 0 {
		return nil
	}
	select {
	case p.out <- p.chunk:
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
	p.chunk = make([][]any, 0, sqliteDirectChunk)
	return nil
}

func (p *copyRows) parseRow(line []byte) error {
	p.row++
	row := make([]any, len(p.src.Columns))
	col := 0
	for start := 0; ; col++ {
		end := start + bytes.IndexByte(line[start:], '\t')
		last := end < start
		if last {
			end = len(line)
		}
		if col >= len(row) {
			return fmt.Errorf("row %d: more than %d fields", p.row, len(row))
		}
		v, err := p.value(col, line[start:end])
		if err != nil {
			return err
		}
		row[col] = v
		if last {
			break
		}
		start = end + 1
	}
	if col != len(row)-1 {
		return fmt.Errorf("row %d: %d fields for %d columns", p.row, col+1, len(row))
	}
	p.chunk = append(p.chunk, row)
	return nil
}

// value turns field f of column i (as COPY wrote it) into what SQLite
// stores: the same value sqliteDialect.encode makes of the decoded one.
func (p *copyRows) value(i int, f []byte) (any, error) {
	if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
		return nil, nil
	}
	c := p.src.Columns[i]
	switch c.Type.Kind {
	case KindSmallInt, KindInt, KindBigInt, KindBool:
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("row %d column %s: %w: %q", p.row, c.Name, ErrBadValue, f)
		}
		return n, nil
	case KindFloat, KindDouble:
		bits := 64
		if c.Type.Kind == KindFloat {
			bits = 32 // as the float4 the decoded path reads, widened
		}
		x, err := strconv.ParseFloat(string(f), bits)
		if err != nil {
			return nil, fmt.Errorf("row %d column %s: %w: %q", p.row, c.Name, ErrBadValue, f)
		}
		return x, nil
	case KindDate, KindTimestamp, KindTimestampTZ:
		s := string(f)
		if s == "infinity" || s == "-infinity" || (len(s) > 3 && s[len(s)-3:] == " BC") {
			return nil, fmt.Errorf("row %d column %s: %q: %w", p.row, c.Name, s, ErrNotDirect)
		}
		if y, _, _ := strings.Cut(s, "-"); len(y) != 4 {
			// Past 9999: the decoded path refuses it, naming the row.
			return nil, fmt.Errorf("row %d column %s: %q: %w", p.row, c.Name, s, ErrNotDirect)
		}
		if c.Type.Kind == KindTimestampTZ {
			s += "+00:00" // selected as its UTC wall clock
		}
		return s, nil
	case KindBytes:
		u := p.unescape(f)
		if len(u) < 2 || u[0] != '\\' || u[1] != 'x' {
			return nil, fmt.Errorf("row %d column %s: %w: bytea not in hex", p.row, c.Name, ErrBadValue)
		}
		out := make([]byte, hex.DecodedLen(len(u)-2))
		if _, err := hex.Decode(out, u[2:]); err != nil {
			return nil, fmt.Errorf("row %d column %s: %w", p.row, c.Name, err)
		}
		return out, nil
	}
	if c.Type.Kind == KindDecimal && !plainDecimal(string(f)) {
		// NaN or Infinity: the decoded path says what is wrong with it.
		return nil, fmt.Errorf("row %d column %s: %q: %w", p.row, c.Name, f, ErrNotDirect)
	}
	return string(p.unescape(f)), nil // decimal, text, varchar, uuid
}

// unescape reads COPY's text escapes (\\, \t, \n, \r, \b, \f, \v, and
// octal \ooo); the result is valid until the next call.
func (p *copyRows) unescape(f []byte) []byte {
	if bytes.IndexByte(f, '\\') < 0 {
		return f
	}
	out := p.field[:0]
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' || i+1 == len(f) {
			out = append(out, c)
			continue
		}
		i++
		switch e := f[i]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, j := 0, i
			for ; j < len(f) && j < i+3 && f[j] >= '0' && f[j] <= '7'; j++ {
				v = v*8 + int(f[j]-'0')
			}
			out = append(out, byte(v))
			i = j - 1
		default:
			out = append(out, e) // \\ and any other byte stand for themselves
		}
	}
	p.field = out
	return out
}
