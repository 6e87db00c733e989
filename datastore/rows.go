package datastore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
)

// Introspect reads a table's shape. A missing table is ErrUnknownTable.
func (s *Store) Introspect(ctx context.Context, table string) (*Table, error) {
	t, err := s.d.introspect(ctx, s.DB, table)
	if err != nil {
		return nil, fmt.Errorf("introspect %s: %w", table, err)
	}
	if t == nil {
		return nil, fmt.Errorf("introspect: %w: %q", ErrUnknownTable, table)
	}
	t.InsertTriggers = beforeInsertTriggers(t.Skipped)
	return t, nil
}

// beforeInsertTriggers picks the BEFORE INSERT triggers out of what
// introspection lists as not carried: "trigger NAME (BEFORE INSERT OR
// UPDATE)" (postgres.go, mysql.go).
func beforeInsertTriggers(skipped []string) []string {
	var out []string
	for _, s := range skipped {
		name, rest, ok := strings.Cut(strings.TrimPrefix(s, "trigger "), " (")
		if !ok || !strings.HasPrefix(s, "trigger ") || !strings.HasPrefix(rest, "BEFORE ") {
			continue
		}
		for _, ev := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(rest, "BEFORE "), ")"), " OR ") {
			if ev == "INSERT" {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// Filter restricts a read to rows whose Column is at least Since (a
// canonical value of that column's kind): the catch-up pass's watermark;
// and, with Range, to one key range of the table. An empty Column
// filters by Range alone.
type Filter struct {
	Column string
	Since  any
	Range  *KeyRange
}

// ReadBatch returns up to limit rows of t whose primary key is greater than
// after (nil: from the first row), in primary-key order, each row holding
// canonical values in t.Columns order. Keyset pagination keeps every batch
// an index range scan, however deep into the table it is.
func (s *Store) ReadBatch(ctx context.Context, t *Table, after []any, limit int, filter *Filter) ([][]any, error) {
	if err := t.CheckCopyable(); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if len(after) > 0 {
		if len(after) != len(t.PrimaryKey) {
			return nil, fmt.Errorf("read %s: %d key values for %d key columns", t.Name, len(after), len(t.PrimaryKey))
		}
		cond, uses := s.d.keyAfter(t, 1)
		where = append(where, cond)
		for _, i := range uses {
			k := t.PrimaryKey[i]
			v, err := s.d.encode(t.Column(k).Type, after[i])
			if err != nil {
				return nil, fmt.Errorf("read %s: key %s: %w", t.Name, k, err)
			}
			args = append(args, v)
		}
	}
	conds, rargs, err := s.rangeConds(t, filterRange(filter), len(args)+1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.Name, err)
	}
	where, args = append(where, conds...), append(args, rargs...)
	if t.Where != "" {
		where = append(where, "("+t.Where+")")
	}
	if filter != nil && filter.Column != "" {
		c := t.Column(filter.Column)
		if c == nil {
			return nil, fmt.Errorf("read %s: %w: column %q", t.Name, ErrShapeMismatch, filter.Column)
		}
		v, err := s.d.encode(c.Type, filter.Since)
		if err != nil {
			return nil, fmt.Errorf("read %s: filter %s: %w", t.Name, c.Name, err)
		}
		args = append(args, v)
		where = append(where, fmt.Sprintf("%s >= %s", s.d.quote(c.Name), s.d.placeholder(len(args))))
	}
	var q strings.Builder
	q.WriteString("SELECT " + s.selectList(t))
	q.WriteString(" FROM " + s.d.quote(t.Name))
	if len(where) > 0 {
		q.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	q.WriteString(" ORDER BY ")
	for i, k := range t.PrimaryKey {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(s.d.quote(k))
	}
	fmt.Fprintf(&q, " LIMIT %d", limit)

	rows, err := s.DB.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.Name, err)
	}
	defer rows.Close()
	out := make([][]any, 0, limit)
	for rows.Next() {
		raw, err := ScanValues(rows, len(t.Columns))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t.Name, err)
		}
		for i, c := range t.Columns {
			if raw[i], err = Canonical(c.Type, raw[i]); err != nil {
				return nil, fmt.Errorf("read %s row with key %s, column %s: %w", t.Name, keyText(t, raw), c.Name, err)
			}
		}
		out = append(out, raw)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", t.Name, err)
	}
	return out, nil
}

// maxRowsPerStatement bounds one INSERT's size (bytes sent, server memory).
const maxRowsPerStatement = 1000

// writeInsert upserts rows with INSERT statements in one transaction: on
// SQLite prepared ones of a run of rows (writePrepared), elsewhere (MySQL when
// LOAD DATA LOCAL INFILE is off) multi-row ones.
func (s *Store) writeInsert(ctx context.Context, t *Table, rows [][]any) error {
	if s.Engine == SQLite {
		return s.writePrepared(ctx, t, rows)
	}
	per := s.d.maxParams() / len(t.Columns)
	per = min(per, maxRowsPerStatement)
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	defer tx.Rollback()
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		q, args, err := s.insertStatement(t, chunk)
		if err != nil {
			return fmt.Errorf("write %s: %w", t.Name, err)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			if bt := s.badTextOf(ctx, t, err, chunk); bt != nil {
				return bt
			}
			if rv := rowValueOf(t, err, chunk); rv != nil {
				return rv
			}
			return fmt.Errorf("write %s: %w", t.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write %s: commit: %w", t.Name, err)
	}
	return nil
}

// rowsPerStatement is how many rows one prepared INSERT of writePrepared
// carries (fewer when the table is wide).
const rowsPerStatement = 32

// writePrepared upserts rows with one prepared INSERT of rowsPerStatement
// rows executed once a run of them (and a single-row one for the rest),
// in one transaction: SQLite, in process, has no round trip to save, and a
// multi-row statement of thousands of parameters costs more to parse and
// build each time than it saves in calls. The statement runs on
// the driver's own connection, below database/sql, whose per-call locking
// and argument checks cost as much as binding the row.
func (s *Store) writePrepared(ctx context.Context, t *Table, rows [][]any) error {
	q := s.preparedInsert(t, 1)
	// Runs of rowsPerStatement rows share one execution: a fifth less
	// time per row than one row a statement (binding, reset and the
	// statement's step are per execution), with its statement prepared
	// once a batch like the single row's.
	per := min(rowsPerStatement, s.d.maxParams()/max(1, len(t.Columns)))
	var qn string
	if per > 1 && len(rows) >= per {
		qn = s.preparedInsert(t, per)
	}
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	defer conn.Close()
	err = driverTx(ctx, conn, func(c driver.Conn) error {
		return execRows(ctx, c, q, qn, per, t, rows, s.d.encode)
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	return nil
}

// driverTx runs fn in one transaction on conn's driver connection, below
// database/sql (whose per-call locking costs as much as a row), and
// commits it; an error of fn or of the commit rolls it back.
func driverTx(ctx context.Context, conn *sql.Conn, fn func(c driver.Conn) error) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(interface {
			driver.Conn
			driver.ConnBeginTx
		})
		if !ok {
			return fmt.Errorf("driver connection %T cannot begin a transaction with a context", dc)
		}
		tx, err := c.BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return rollbackOrDiscard(tx, err)
		}
		if err := tx.Commit(); err != nil {
			// A COMMIT that failed (SQLITE_BUSY) leaves the transaction open.
			return rollbackOrDiscard(tx, fmt.Errorf("commit: %w", err))
		}
		return nil
	})
}

// rollbackOrDiscard rolls tx back after err; when that fails too, the
// connection may still be inside the transaction, so the error also says
// driver.ErrBadConn, which has database/sql close it instead of reusing it.
func rollbackOrDiscard(tx driver.Tx, err error) error {
	if rerr := tx.Rollback(); rerr != nil {
		return fmt.Errorf("%w (rollback: %v; connection discarded: %w)", err, rerr, driver.ErrBadConn)
	}
	return err
}

// execRows prepares q (one row's statement) and qn (per rows'; "" for
// none) on c and writes rows through them (preparedRows), each value
// encoded for its column.
func execRows(ctx context.Context, c driver.Conn, q, qn string, per int, t *Table, rows [][]any, encode func(Type, any) (any, error)) error {
	w := &preparedRows{t: t, encode: encode, per: 1}
	defer w.close()
	var err error
	if w.one, err = c.Prepare(q); err != nil {
		return err
	}
	if per > 1 && len(rows) >= per && qn != "" {
		if w.many, err = c.Prepare(qn); err != nil {
			return err
		}
		w.per = per
	}
	return w.write(ctx, rows)
}

// preparedRows writes rows through a prepared statement of per rows
// (many) for each run of them and a single-row one (one) for the rest.
// It runs without ctx: the SQLite driver watches a cancellable context
// with a goroutine of its own per statement, which for a few rows costs
// more than the rows; a cancellation is seen between statements instead.
type preparedRows struct {
	one, many driver.Stmt
	per       int
	t         *Table
	// encode, when set, turns each value into what the column stores;
	// nil: the rows hold those already (SQLiteDirect).
	encode  func(Type, any) (any, error)
	args    []driver.NamedValue
	written int // rows written so far, for errors
}

func (w *preparedRows) close() {
	for _, st := range []driver.Stmt{w.one, w.many} {
		if st != nil {
			st.Close()
		}
	}
}

func (w *preparedRows) write(ctx context.Context, rows [][]any) error {
	cols := len(w.t.Columns)
	for len(rows) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, st := w.per, w.many
		if len(rows) < w.per || st == nil {
			n, st = 1, w.one
		}
		if cap(w.args) < n*cols {
			w.args = make([]driver.NamedValue, n*cols)
		}
		args := w.args[:n*cols]
		for r, row := range rows[:n] {
			if len(row) != cols {
				return rowError(w.t, row, fmt.Errorf("%d values for %d columns", len(row), cols))
			}
			for i, v := range row {
				if w.encode != nil {
					col := w.t.Columns[i]
					var err error
					v, err = w.encode(col.Type, v)
					if err == nil && !driver.IsValue(v) {
						v, err = driver.DefaultParameterConverter.ConvertValue(v)
					}
					if err != nil {
						return rowError(w.t, row, fmt.Errorf("column %s: %w", col.Name, err))
					}
				}
				args[r*cols+i] = driver.NamedValue{Ordinal: r*cols + i + 1, Value: v}
			}
		}
		if err := exec(st, args); err != nil {
			if n == 1 || ctx.Err() != nil || (sqliteDialect{}).isLockTimeout(err) {
				return rowError(w.t, rows[0], err)
			}
			// Which row of the run: each alone, until one fails (the
			// batch's transaction is rolled back anyway).
			for _, row := range rows[:n] {
				if rerr := w.writeOne(row); rerr != nil {
					return rowError(w.t, row, rerr)
				}
			}
			return fmt.Errorf("%w (in the statement of the rows with keys %s to %s)", err, keyText(w.t, rows[0]), keyText(w.t, rows[n-1]))
		}
		w.written += n
		rows = rows[n:]
	}
	return nil
}

// writeOne writes one row through the single-row statement.
func (w *preparedRows) writeOne(row []any) error {
	args := make([]driver.NamedValue, len(row))
	for i, v := range row {
		if w.encode != nil {
			var err error
			if v, err = w.encode(w.t.Columns[i].Type, v); err != nil {
				return err
			}
		}
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return exec(w.one, args)
}

// exec runs a prepared statement without ctx (see preparedRows).
func exec(st driver.Stmt, args []driver.NamedValue) error {
	ex, ok := st.(driver.StmtExecContext)
	if !ok {
		return fmt.Errorf("driver statement %T cannot execute with a context", st)
	}
	_, err := ex.ExecContext(context.Background(), args)
	return err
}

// rowError names the row of err by its key, as a read names one (a
// cancellation or a busy database is no row's).
func rowError(t *Table, row []any, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || len(t.PrimaryKey) == 0 ||
		(sqliteDialect{}).isLockTimeout(err) {
		return err
	}
	return fmt.Errorf("row with key %s, %w", keyText(t, row), err)
}

// preparedInsert is the upsert of n rows of t with placeholders for
// their values: the statements writePrepared prepares, whose values are
// encoded as they are bound (so that a value refused is named by its row).
func (s *Store) preparedInsert(t *Table, n int) string {
	return s.insertSQL(t, n) + s.d.upsertSuffix(t)
}

// insertSQL is a multi-row INSERT of n rows into t, its placeholders
// numbered row by row.
func (s *Store) insertSQL(t *Table, n int) string {
	var q strings.Builder
	q.WriteString("INSERT INTO " + s.d.quote(t.Name) + " (")
	for i, c := range t.Columns {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(s.d.quote(c.Name))
	}
	q.WriteString(") VALUES ")
	for r := range n {
		if r > 0 {
			q.WriteString(", ")
		}
		q.WriteByte('(')
		for i := range t.Columns {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(s.d.placeholder(r*len(t.Columns) + i + 1))
		}
		q.WriteByte(')')
	}
	return q.String()
}

func (s *Store) insertStatement(t *Table, rows [][]any) (string, []any, error) {
	q, args, err := s.plainInsert(t, rows)
	if err != nil {
		return "", nil, err
	}
	return q + s.d.upsertSuffix(t), args, nil
}

// plainInsert is a multi-row INSERT of rows into t, without upsert, and
// its arguments, each value encoded for its column.
func (s *Store) plainInsert(t *Table, rows [][]any) (string, []any, error) {
	args := make([]any, 0, len(rows)*len(t.Columns))
	for r, row := range rows {
		if len(row) != len(t.Columns) {
			return "", nil, fmt.Errorf("row %d has %d values for %d columns", r, len(row), len(t.Columns))
		}
		for i, c := range t.Columns {
			v, err := s.d.encode(c.Type, row[i])
			if err != nil {
				return "", nil, fmt.Errorf("column %s: %w", c.Name, err)
			}
			args = append(args, v)
		}
	}
	return s.insertSQL(t, len(rows)), args, nil
}

// Count returns the exact number of rows (SELECT COUNT(*)).
func (s *Store) Count(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.d.quote(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// EstimateCount returns the engine's cheap estimate of the row count
// (PostgreSQL's reltuples, MySQL's TABLE_ROWS); it can be off by a lot and
// is -1 when the engine has none (SQLite, a never-analysed PostgreSQL table).
func (s *Store) EstimateCount(ctx context.Context, table string) (int64, error) {
	n, err := s.d.estimate(ctx, s.DB, table)
	if err != nil {
		return 0, fmt.Errorf("estimate count %s: %w", table, err)
	}
	return n, nil
}

// Max returns the greatest value of a column (canonical, nil if the table is
// empty): the catch-up pass's starting watermark.
func (s *Store) Max(ctx context.Context, t *Table, column string) (any, error) {
	c := t.Column(column)
	if c == nil {
		return nil, fmt.Errorf("max %s.%s: %w: no such column", t.Name, column, ErrShapeMismatch)
	}
	var raw any
	err := s.DB.QueryRowContext(ctx, "SELECT MAX("+s.d.quote(column)+") FROM "+s.d.quote(t.Name)).Scan(&raw)
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("max %s.%s: %w", t.Name, column, err)
	}
	v, err := Canonical(c.Type, raw)
	if err != nil {
		return nil, fmt.Errorf("max %s.%s: %w", t.Name, column, err)
	}
	return v, nil
}

// Project returns a view of t with only the named columns, in that order
// (the primary key must be among them); it is how a copy writes the
// source's columns into a target whose column order differs.
func (t *Table) Project(names []string) (*Table, error) {
	p := &Table{Name: t.Name, PrimaryKey: t.PrimaryKey, Indexes: t.Indexes, InsertTriggers: t.InsertTriggers}
	for _, n := range names {
		c := t.Column(n)
		if c == nil {
			return nil, fmt.Errorf("table %s: %w: no column %q", t.Name, ErrShapeMismatch, n)
		}
		p.Columns = append(p.Columns, *c)
	}
	for _, k := range t.PrimaryKey {
		if p.Column(k) == nil {
			return nil, fmt.Errorf("table %s: %w: key column %q not among the columns", t.Name, ErrShapeMismatch, k)
		}
	}
	return p, nil
}

// ScanValues scans the current row of rows into n fresh values, each as
// the driver returns it.
func ScanValues(rows *sql.Rows, n int) ([]any, error) {
	raw := make([]any, n)
	ptrs := make([]any, n)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return raw, nil
}
