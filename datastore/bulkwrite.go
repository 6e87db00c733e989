package datastore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// WritePath names how WriteBatch writes into a store.
type WritePath string

// The write paths, fastest first.
const (
	// PathCopy is PostgreSQL's COPY (pgx CopyFrom): straight into the table
	// when no row at or past the batch's first key exists there, else into a
	// temporary table merged with one INSERT ... ON CONFLICT DO UPDATE.
	PathCopy WritePath = "copy"
	// PathLoadData is MySQL's LOAD DATA LOCAL INFILE ... REPLACE, fed from
	// memory (no file touches the disk).
	PathLoadData WritePath = "load data"
	// PathInsert is INSERT upserts in one transaction: prepared ones of
	// up to 32 rows on SQLite, multi-row ones on MySQL when the server has
	// local_infile off.
	PathInsert WritePath = "insert"
)

// bulkState is what a Store learned about its fast path; the zero value
// means "not asked yet".
type bulkState struct {
	mu sync.Mutex
	// loadData is MySQL's local_infile: 0 not asked, 1 on, -1 off.
	loadData int
	// forceInsert turns the fast paths off (tests of the fallback).
	forceInsert bool
	// merges counts the COPY batches merged through a staging table
	// (tests of the empty-range probe).
	merges int64
	// probes counts the empty-range probes (tests of deferred indexes,
	// which skip them).
	probes int64
}

// WriteBatch upserts rows (canonical values in t.Columns order, sorted by
// primary key as ReadBatch returns them) into t in one transaction: a row
// whose primary key exists is overwritten, so writing the same batch twice
// leaves the same table — a retried batch never doubles rows. It takes the
// engine's fastest path (see WritePath).
func (s *Store) WriteBatch(ctx context.Context, t *Table, rows [][]any) error {
	return s.writeBatch(ctx, t, rows, nil)
}

// writeBatch is WriteBatch for rows in r (nil: anywhere).
func (s *Store) writeBatch(ctx context.Context, t *Table, rows [][]any, r *KeyRange) error {
	if len(rows) == 0 {
		return nil
	}
	if err := t.CheckCopyable(); err != nil {
		return err
	}
	for r, row := range rows {
		if len(row) != len(t.Columns) {
			return fmt.Errorf("write %s: row %d has %d values for %d columns", t.Name, r, len(row), len(t.Columns))
		}
	}
	if err := checkDecimals(t, rows); err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	path, err := s.WritePath(ctx)
	if err != nil {
		return err
	}
	switch path {
	case PathCopy:
		return s.writeCopy(ctx, t, rows, r)
	case PathLoadData:
		err := s.writeLoadData(ctx, t, rows)
		if errors.Is(err, errLoadDataOff) {
			s.setLoadData(-1)
			return s.writeInsert(ctx, t, rows)
		}
		return err
	}
	return s.writeInsert(ctx, t, rows)
}

// WritePath says which path WriteBatch takes on this store. For MySQL it
// asks the server for local_infile once (a preflight reports PathInsert as
// "LOAD DATA LOCAL INFILE is off: the copy will be slower").
func (s *Store) WritePath(ctx context.Context) (WritePath, error) {
	s.bulk.mu.Lock()
	force, known := s.bulk.forceInsert, s.bulk.loadData
	s.bulk.mu.Unlock()
	if force {
		return PathInsert, nil
	}
	switch s.Engine {
	case Postgres:
		return PathCopy, nil
	case MySQL:
		if known == 0 {
			var on sql.NullInt64
			if err := s.DB.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&on); err != nil {
				return "", fmt.Errorf("ask local_infile: %w", err)
			}
			known = -1
			if on.Valid && on.Int64 != 0 {
				known = 1
			}
			s.setLoadData(known)
		}
		if known > 0 {
			return PathLoadData, nil
		}
	}
	return PathInsert, nil
}

func (s *Store) setLoadData(v int) {
	s.bulk.mu.Lock()
	s.bulk.loadData = v
	s.bulk.mu.Unlock()
}

// --- PostgreSQL: COPY ---

// writeCopy writes rows with COPY. Plain COPY into the table cannot be an
// upsert, so it is used only when the batch's key range is known to be
// empty on the target: no row there has a key at or past the batch's first
// key (the usual case of a backfill, which fills the table in key order).
// That test is only sound where every engine orders the key the same way
// (numbers, dates, times), so text keys, a retried batch, a catch-up pass
// or a range another writer is filling take the merge: COPY into a
// temporary table, then one INSERT ... SELECT ... ON CONFLICT DO UPDATE.
// A concurrent writer that slips a key in between test and COPY makes the
// COPY fail with a unique violation; the batch is then merged instead.
func (s *Store) writeCopy(ctx context.Context, t *Table, rows [][]any, r *KeyRange) error {
	values, err := s.copyValues(t, rows)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if orderedKey(t) || t.IndexesDeferred {
			done, err := s.copyIntoEmptyRange(ctx, pc, t, values, r)
			if err != nil || done {
				return err
			}
		}
		return s.copyMerge(ctx, pc, t, values)
	})
}

// copyIntoEmptyRange COPYs straight into t if its key range is empty (up
// to r.To when the batch belongs to a key range: rows of a higher range,
// copied at the same time, are no conflict), or without asking when its
// indexes are deferred; done is false when the batch must be merged instead.
func (s *Store) copyIntoEmptyRange(ctx context.Context, pc *pgx.Conn, t *Table, values [][]any, r *KeyRange) (done bool, err error) {
	tx, err := pc.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("write %s: %w", t.Name, err)
	}
	defer tx.Rollback(ctx)
	if !t.IndexesDeferred {
		taken, err := s.batchRangeTaken(ctx, tx, t, values, r)
		if err != nil || taken {
			return false, err
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.ColumnNames(), pgx.CopyFromRows(values)); err != nil {
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23505" { // unique_violation: a concurrent writer
			return false, nil
		}
		return false, fmt.Errorf("write %s: copy: %w", t.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("write %s: commit: %w", t.Name, err)
	}
	return true, nil
}

// batchRangeTaken reports whether t holds a key at or past the batch's
// first (below r.To).
func (s *Store) batchRangeTaken(ctx context.Context, tx pgx.Tx, t *Table, values [][]any, r *KeyRange) (bool, error) {
	keys := make([]string, len(t.PrimaryKey))
	params := make([]string, len(t.PrimaryKey))
	var args []any
	for i, k := range t.PrimaryKey {
		keys[i] = s.d.quote(k)
		params[i] = s.d.placeholder(i + 1)
		args = append(args, values[0][t.columnIndex(k)])
	}
	conds, rargs, err := s.rangeConds(t, &KeyRange{To: rangeTo(r)}, len(args)+1)
	if err != nil {
		return false, fmt.Errorf("write %s: %w", t.Name, err)
	}
	args = append(args, rargs...)
	conds = append([]string{fmt.Sprintf("(%s) >= (%s)", strings.Join(keys, ", "), strings.Join(params, ", "))}, conds...)
	taken, err := s.keyTaken(ctx, tx, t, strings.Join(conds, " AND "), args)
	if err != nil {
		return false, fmt.Errorf("write %s: %w", t.Name, err)
	}
	return taken, nil
}

// keyTaken reports whether t holds a row matching cond (a condition on
// its key, "" for any row). The probe is an ORDER BY key LIMIT 1, not an
// EXISTS: on a table being filled the planner has no statistics yet, and
// for EXISTS it expects a match within a few rows and picks a sequential
// scan, which reads the whole table when the range is empty (the usual
// answer) — a scan per batch that grows with the table. Ordering by the
// key makes the index the only cheap plan.
func (s *Store) keyTaken(ctx context.Context, tx pgx.Tx, t *Table, cond string, args []any) (bool, error) {
	s.bulk.mu.Lock()
	s.bulk.probes++
	s.bulk.mu.Unlock()
	keys := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		keys[i] = s.d.quote(k)
	}
	q := "SELECT 1 FROM " + s.d.quote(t.Name)
	if cond != "" {
		q += " WHERE " + cond
	}
	q += " ORDER BY " + strings.Join(keys, ", ") + " LIMIT 1"
	var one int
	err := tx.QueryRow(ctx, q, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe the key range: %w", err)
	}
	return true, nil
}

// copyMerge COPYs into a temporary table dropped at commit and upserts
// from it: one statement however many rows, and idempotent.
func (s *Store) copyMerge(ctx context.Context, pc *pgx.Conn, t *Table, values [][]any) error {
	s.bulk.mu.Lock()
	s.bulk.merges++
	s.bulk.mu.Unlock()
	tx, err := pc.Begin(ctx)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	defer tx.Rollback(ctx)
	stage := stageName(t.Name)
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = s.d.quote(c.Name)
	}
	list := strings.Join(cols, ", ")
	// CREATE TABLE AS keeps the columns' types and nothing else: no
	// constraint of the target can fail before the merge sees the row.
	create := fmt.Sprintf("CREATE TEMPORARY TABLE %s ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA",
		s.d.quote(stage), list, s.d.quote(t.Name))
	if _, err := tx.Exec(ctx, create); err != nil {
		return fmt.Errorf("write %s: staging table: %w", t.Name, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stage}, t.ColumnNames(), pgx.CopyFromRows(values)); err != nil {
		return fmt.Errorf("write %s: copy: %w", t.Name, err)
	}
	merge := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s%s",
		s.d.quote(t.Name), list, list, s.d.quote(stage), s.d.upsertSuffix(t))
	if _, err := tx.Exec(ctx, merge); err != nil {
		return fmt.Errorf("write %s: merge: %w", t.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("write %s: commit: %w", t.Name, err)
	}
	return nil
}

// stageName is the temporary table a batch for table is merged through.
func stageName(table string) string {
	sum := sha256.Sum256([]byte(table))
	return "godwit_stage_" + hex.EncodeToString(sum[:8])
}

// copyValues encodes rows for CopyFrom (binary COPY): the canonical values
// pgx cannot send as they are get their text form, which PostgreSQL parses
// exactly (numeric, uuid).
func (s *Store) copyValues(t *Table, rows [][]any) ([][]any, error) {
	out := make([][]any, len(rows))
	for r, row := range rows {
		vals := make([]any, len(row))
		for i, c := range t.Columns {
			v, err := s.d.encode(c.Type, row[i])
			if err != nil {
				return nil, fmt.Errorf("row %d column %s: %w", r, c.Name, err)
			}
			if d, ok := v.(string); ok && c.Type.Kind == KindDecimal {
				v = numericValue(d)
			}
			vals[i] = v
		}
		out[r] = vals
	}
	return out, nil
}

// orderedKey reports whether every key column is of a kind all engines
// order alike (text is ordered by each database's collation).
func orderedKey(t *Table) bool {
	for _, k := range t.PrimaryKey {
		c := t.Column(k)
		if c == nil {
			return false
		}
		switch c.Type.Kind {
		case KindSmallInt, KindInt, KindBigInt, KindDate, KindTimestamp, KindTimestampTZ:
		default:
			return false
		}
	}
	return true
}

// columnIndex is the position of the named column, -1 if absent.
func (t *Table) columnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// --- MySQL: LOAD DATA LOCAL INFILE ---

// errLoadDataOff says the server refused LOAD DATA LOCAL INFILE.
var errLoadDataOff = errors.New("LOAD DATA LOCAL INFILE is disabled")

// writeLoadData writes rows with LOAD DATA LOCAL INFILE ... REPLACE, the
// rows streamed from memory through a reader handler of the driver. REPLACE
// makes it idempotent: a row whose key exists is replaced. LOCAL turns
// conversion errors into warnings, so any warning rolls the batch back and
// fails it: a value that does not fit is never stored silently altered.
func (s *Store) writeLoadData(ctx context.Context, t *Table, rows [][]any) error {
	var buf bytes.Buffer
	buf.Grow(len(rows) * 128)
	text, err := s.loadAsText(ctx, t)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	for r, row := range rows {
		for i, c := range t.Columns {
			if i > 0 {
				buf.WriteByte('\t')
			}
			if err := appendLoadValue(&buf, c.Type, row[i], text); err != nil {
				return fmt.Errorf("write %s: row %d column %s: %w", t.Name, r, c.Name, err)
			}
		}
		buf.WriteByte('\n')
	}
	err = s.loadFrom(ctx, t, bytes.NewReader(buf.Bytes()), true, text)
	var bt *badTextError
	if errors.As(err, &bt) && bt.row >= 1 && bt.row <= len(rows) {
		bt.key = keyText(t, rows[bt.row-1])
	}
	var rv *rowValueError
	if errors.As(err, &rv) {
		rv.fill(t, rows)
	}
	return err
}

// loadAsText reports whether LOAD DATA must read t's stream (on s) as
// utf8mb4, the encoding of every canonical text, so that the server
// converts each text value into its column's character set (latin1 —
// MySQL's cp1252 —, cp1250, gbk, ascii ...): read as binary, UTF-8 bytes
// would land as they are in a latin1 column and read back garbled
// ("cafÃ©"). Binary columns are then written in hex and UNHEXed by the
// load (loadColumns), so that no byte of a blob is read as a character.
// When every text column of the target stores UTF-8 (utf8mb4, utf8mb3:
// what provision creates) there is nothing to convert and the stream is
// read as binary, blobs as they are, as before: no cost for the usual
// table. One information_schema query per batch.
func (s *Store) loadAsText(ctx context.Context, t *Table) (bool, error) {
	text := false
	for _, c := range t.Columns {
		text = text || loadAsTextKind(c.Type.Kind)
	}
	if !text {
		return false, nil
	}
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CHARACTER_SET_NAME IS NOT NULL
		AND CHARACTER_SET_NAME NOT IN ('utf8mb4', 'utf8mb3', 'utf8', 'binary')`, t.Name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read the columns' character sets: %w", err)
	}
	return n > 0, nil
}

// loadAsTextKind reports whether a column of kind k holds characters
// (not digits, times or bytes) in the LOAD DATA stream.
func loadAsTextKind(k Kind) bool {
	switch k {
	case KindSmallInt, KindInt, KindBigInt, KindDecimal, KindFloat, KindDouble, KindBool,
		KindBytes, KindDate, KindTimestamp, KindTimestampTZ:
		return false
	}
	return true
}

// isKey reports whether the named column is one of t's primary key.
func (t *Table) isKey(name string) bool {
	for _, k := range t.PrimaryKey {
		if k == name {
			return true
		}
	}
	return false
}

// loadColumns is LOAD DATA's character set, column list and SET clause
// for t, its stream read as utf8mb4 text or as binary (see loadAsText).
func (s *Store) loadColumns(t *Table, text bool) (charset, cols, set string) {
	if !text {
		names := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			names[i] = s.d.quote(c.Name)
		}
		return "binary", strings.Join(names, ", "), ""
	}
	names := make([]string, len(t.Columns))
	var sets []string
	for i, c := range t.Columns {
		if c.Type.Kind == KindBytes {
			v := fmt.Sprintf("@godwit_c%d", i)
			names[i] = v
			sets = append(sets, fmt.Sprintf("%s = UNHEX(%s)", s.d.quote(c.Name), v))
			continue
		}
		names[i] = s.d.quote(c.Name)
	}
	if len(sets) > 0 {
		// With a SET clause MariaDB (10.11) reads a key 0 loaded straight
		// into an AUTO_INCREMENT column as "the next value", despite
		// NO_AUTO_VALUE_ON_ZERO (the row then REPLACEs row 1); set from a
		// variable, it stays 0. Other key columns of numbers or times go
		// through variables too.
		for i, c := range t.Columns {
			if c.AutoIncrement || (t.isKey(c.Name) && c.Type.Kind != KindBytes && !loadAsTextKind(c.Type.Kind)) {
				v := fmt.Sprintf("@godwit_c%d", i)
				names[i] = v
				sets = append(sets, fmt.Sprintf("%s = %s", s.d.quote(c.Name), v))
			}
		}
		set = " SET " + strings.Join(sets, ", ")
	}
	return "utf8mb4", strings.Join(names, ", "), set
}

// keyText renders the primary key of row (t's columns) as k=v, ...
func keyText(t *Table, row []any) string {
	parts := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		at := t.columnIndex(k)
		var v any
		if at >= 0 && at < len(row) {
			v = row[at]
		}
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		parts[i] = fmt.Sprintf("%s=%v", k, v)
	}
	return strings.Join(parts, ", ")
}

// loadFrom runs one LOAD DATA LOCAL INFILE of t's columns in one
// transaction, the file's bytes (LOAD DATA's default text format; with
// text, read as utf8mb4 and blobs in hex: see loadAsText) read from r, and fails on any warning (see writeLoadData). With replace it
// is LOAD DATA ... REPLACE, an upsert; without, rows go in as new, for a
// key range known to be empty (a key there after all is a warning, and
// the error wraps errDuplicateKey).
func (s *Store) loadFrom(ctx context.Context, t *Table, r io.Reader, replace, text bool) error {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	handler := "godwit_" + hex.EncodeToString(id[:])
	mysql.RegisterReaderHandler(handler, func() io.Reader { return r })
	defer mysql.DeregisterReaderHandler(handler)

	// With text, the stream is declared UTF-8 (utf8mb4): the server
	// converts it into each column's character set, and a character the
	// column cannot hold is a warning or an error (so an error, below),
	// never a '?'.
	charset, cols, set := s.loadColumns(t, text)
	mode := "REPLACE "
	if !replace {
		mode = ""
	}
	q := fmt.Sprintf(`LOAD DATA LOCAL INFILE 'Reader::%s' %sINTO TABLE %s CHARACTER SET %s
		FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' (%s)%s`,
		handler, mode, s.d.quote(t.Name), charset, cols, set)

	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	defer conn.Close()
	// REPLACE deletes a row before it inserts it again: with the foreign
	// keys a copy creates after its load, a retried or repeated copy would
	// cascade that delete to the children (or be refused by RESTRICT).
	// Without the checks nothing cascades: the load only puts rows back.
	// The checks are on again before the connection returns to the pool.
	if _, err := conn.ExecContext(ctx, "SET foreign_key_checks = 0"); err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SET foreign_key_checks = 1"); err != nil {
			// Never hand a connection without the checks back to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, q); err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1148 || me.Number == 3948) {
			return fmt.Errorf("write %s: %w: %v", t.Name, errLoadDataOff, err)
		}
		if bt := s.badTextOf(ctx, t, err, nil); bt != nil {
			return bt
		}
		if rv := rowValueOf(t, err, nil); rv != nil {
			return rv
		}
		if errors.As(err, &me) && strings.HasPrefix(string(me.SQLState[:]), "22") { // data exception
			return fmt.Errorf("write %s: load data: %w: %w", t.Name, ErrBadValue, err)
		}
		return fmt.Errorf("write %s: load data: %w", t.Name, err)
	}
	if err := loadWarnings(ctx, tx); err != nil {
		var bt *badTextError
		if errors.As(err, &bt) {
			bt.table = t.Name
			bt.charset = s.columnCharset(ctx, t.Name, bt.column)
			return err
		}
		var rv *rowValueError
		if errors.As(err, &rv) {
			rv.table = t.Name
			return err
		}
		return fmt.Errorf("write %s: %w", t.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write %s: commit: %w", t.Name, err)
	}
	return nil
}

// loadWarnings turns the warnings of the last statement into an error.
func loadWarnings(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SHOW WARNINGS LIMIT 3")
	if err != nil {
		return fmt.Errorf("read warnings: %w", err)
	}
	defer rows.Close()
	var msgs []string
	var firstCode int
	var firstMsg string
	dup := false
	for rows.Next() {
		var level, msg string
		var code int
		if err := rows.Scan(&level, &code, &msg); err != nil {
			return fmt.Errorf("read warnings: %w", err)
		}
		if len(msgs) == 0 {
			firstCode, firstMsg = code, msg
		}
		msgs = append(msgs, fmt.Sprintf("%s %d: %s", level, code, msg))
		dup = dup || code == 1062 // ER_DUP_ENTRY
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read warnings: %w", err)
	}
	if dup {
		return fmt.Errorf("%w: load data: %s", errDuplicateKey, strings.Join(msgs, "; "))
	}
	if len(msgs) > 0 {
		err := fmt.Errorf("%w: load data: %s", ErrBadValue, strings.Join(msgs, "; "))
		if bt := badText(firstCode, firstMsg, err); bt != nil {
			return bt
		}
		if rv := rowValue(firstCode, firstMsg, err); rv != nil {
			return rv
		}
		return err
	}
	return nil
}

// badTextMessage is MySQL's and MariaDB's message 1366 (a warning under
// LOAD DATA LOCAL on MySQL, an error on MariaDB) for a string the
// column's character set cannot hold: "Incorrect string value: '\xE4...'
// for column `db`.`t`.`c` at row 2" (MySQL: for column 'c').
var badTextMessage = regexp.MustCompile("^Incorrect string value: '(.*)' for column (`[^`]*`\\.`[^`]*`\\.`([^`]*)`|'([^']*)') at row ([0-9]+)")

// badText is the badTextError of a server message, nil when the message
// is not one of a character the column cannot hold.
func badText(code int, msg string, err error) *badTextError {
	m := badTextMessage.FindStringSubmatch(msg)
	if code != 1366 || m == nil {
		return nil
	}
	row, _ := strconv.Atoi(m[5])
	return &badTextError{value: m[1], column: m[3] + m[4], row: row, err: err}
}

// badTextOf is the badTextError of a statement's error on MySQL (nil if
// it is another error), the key read from rows (the statement's rows in
// order) when given.
func (s *Store) badTextOf(ctx context.Context, t *Table, err error, rows [][]any) *badTextError {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return nil
	}
	bt := badText(int(me.Number), me.Message, fmt.Errorf("%w: %w", ErrBadValue, err))
	if bt == nil {
		return nil
	}
	bt.table = t.Name
	bt.charset = s.columnCharset(ctx, t.Name, bt.column)
	if bt.row >= 1 && bt.row <= len(rows) {
		bt.key = keyText(t, rows[bt.row-1])
	}
	return bt
}

// badTextError is a load that met a character its column's character set
// cannot hold: the server would have stored '?' for it.
type badTextError struct {
	table, column, charset string
	value                  string // as the server quotes it: \xE4\xB8\xAD
	row                    int    // 1-based, within the batch
	key                    string // the row's primary key, when known
	err                    error
}

func (e *badTextError) Error() string {
	where := fmt.Sprintf("row %d of the batch", e.row)
	if e.key != "" {
		where = "row with key " + e.key
	}
	cs := e.charset
	if cs == "" {
		cs = "its character set"
	}
	return fmt.Sprintf("write %s: column %s, %s: the value holds a character (%s) that column %s.%s (%s) cannot store; "+
		"the write stops rather than store '?' for it: change the column to utf8mb4 (ALTER TABLE %s MODIFY %s ... CHARACTER SET utf8mb4) "+
		"or map the value on the way (%v)", e.table, e.column, where, serverText(e.value), e.table, e.column, cs, e.table, e.column, e.err)
}

func (e *badTextError) Unwrap() error { return e.err }

// serverText turns the server's quoting of a value (\xE4\xB8\xAD, bytes
// of the connection's utf8mb4) back into its text, quoted: "中".
func serverText(v string) string {
	var b []byte
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+3 < len(v) && v[i+1] == 'x' {
			if x, err := strconv.ParseUint(v[i+2:i+4], 16, 8); err == nil {
				b = append(b, byte(x))
				i += 3
				continue
			}
		}
		b = append(b, v[i])
	}
	if !utf8.Valid(b) {
		return v
	}
	return strconv.Quote(string(b))
}

// columnCharset is the character set of a column of table on s (MySQL),
// "" when it cannot be read (it only words an error).
func (s *Store) columnCharset(ctx context.Context, table, column string) string {
	var cs sql.NullString
	_ = s.DB.QueryRowContext(context.WithoutCancel(ctx), `SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?`, table, column).Scan(&cs)
	return cs.String
}

// errDuplicateKey says a LOAD DATA without REPLACE met a key the table
// already had (LOCAL makes that a warning: the row was skipped).
var errDuplicateKey = errors.New("a key the table already has")

// appendLoadValue writes one field in LOAD DATA's default text format:
// \N for NULL, backslash escapes for the separators and the escape itself.
// With hexBytes a binary value is written in hex (see loadColumns).
func appendLoadValue(buf *bytes.Buffer, t Type, v any, hexBytes bool) error {
	if v == nil {
		buf.WriteString(`\N`)
		return nil
	}
	c, err := Canonical(t, v)
	if err != nil {
		return err
	}
	switch x := c.(type) {
	case int64:
		buf.WriteString(strconv.FormatInt(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: %v does not fit a MySQL number", ErrBadValue, x)
		}
		buf.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case bool:
		if x {
			buf.WriteByte('1')
		} else {
			buf.WriteByte('0')
		}
	case time.Time:
		switch t.Kind {
		case KindDate:
			buf.WriteString(x.Format("2006-01-02"))
		default: // the session's zone is UTC; canonical times are UTC
			buf.WriteString(x.UTC().Format("2006-01-02 15:04:05.999999"))
		}
	case string:
		escapeLoad(buf, x)
	case []byte:
		if hexBytes {
			buf.Grow(2 * len(x))
			b := buf.AvailableBuffer()[:2*len(x)]
			hex.Encode(b, x)
			buf.Write(b)
			break
		}
		escapeLoad(buf, string(x))
	default:
		return fmt.Errorf("%w: %T for LOAD DATA", ErrBadValue, c)
	}
	return nil
}

func escapeLoad(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; b {
		case '\\':
			buf.WriteString(`\\`)
		case '\t':
			buf.WriteString(`\t`)
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case 0:
			buf.WriteString(`\0`)
		default:
			buf.WriteByte(b)
		}
	}
}

// numericValue turns a plain decimal string into the pgtype.Numeric binary
// COPY sends, so pgx need not try (and fail) other plans first; any other
// form (an exponent, NaN) stays text for pgx to parse.
func numericValue(s string) any {
	if !plainDecimal(s) {
		return s
	}
	digits, exp := s, int32(0)
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		digits = s[:dot] + s[dot+1:]
		exp = -int32(len(s) - dot - 1)
	}
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return s
	}
	return pgtype.Numeric{Int: n, Exp: exp, Valid: true}
}
