package datastore

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// rowValueMessage is the end of MySQL's and MariaDB's messages about one
// value of one row that its column cannot take: 1264 "Out of range value
// for column 'c' at row 2", 1265 "Data truncated for column 'c' at row 2",
// 1292 "Incorrect datetime value: 'infinity' for column `db`.`t`.`c` at row
// 1", 1366 "Incorrect integer value: … for column … at row 1", 1048
// "Column 'c' cannot be null" has no row and is not one of them.
var rowValueMessage = regexp.MustCompile("for column (`[^`]*`\\.`[^`]*`\\.`([^`]*)`|'([^']*)') at row ([0-9]+)")

// rowValueCodes are the server codes whose message names a row's value.
var rowValueCodes = map[int]bool{1264: true, 1265: true, 1292: true, 1366: true, 1406: true}

// rowValueError is a write that met a value its target column cannot take
// (a load's warning or a statement's error): it names the row by its key
// and the value as the source had it, where the caller knows them, so
// that a user can find the row and decide on a mapping or a type.
type rowValueError struct {
	table, column string
	row           int    // 1-based, within the batch
	key           string // the row's primary key (k=v, ...), when known
	value         string // the value as written, when known
	hasValue      bool
	err           error
}

func (e *rowValueError) Error() string {
	where := fmt.Sprintf("row %d of the batch", e.row)
	if e.key != "" {
		where = "row with key " + e.key
	}
	what := "a value"
	if e.hasValue {
		v := e.value
		if r := []rune(v); len(r) > 60 {
			v = string(r[:60]) + "…"
		}
		what = "the value " + strconv.Quote(v)
	}
	return fmt.Sprintf("write %s: column %s, %s: %s does not fit column %s.%s; the batch is not written: "+
		"give the column a type that holds it (provision's typeOverrides; for a mapped table, its cast:, "+
		"whose lossy: true only lets preflight pass: it shortens or rounds no value) or change the value on the way "+
		"(drop the column and add one under a name of its own, computed by an expr that makes the value fit: docs/mapping.md) (%v)",
		e.table, e.column, where, what, e.table, e.column, e.err)
}

func (e *rowValueError) Unwrap() error { return e.err }

// rowValue is the rowValueError of a server message, nil when the message
// does not name a row's value.
func rowValue(code int, msg string, err error) *rowValueError {
	m := rowValueMessage.FindStringSubmatch(msg)
	if !rowValueCodes[code] || m == nil {
		return nil
	}
	row, _ := strconv.Atoi(m[4])
	return &rowValueError{column: m[2] + m[3], row: row, err: err}
}

// rowValueOf is the rowValueError of a statement's error on MySQL (nil if
// it is another error), the row's key and value read from rows (the
// statement's rows in order) when given.
func rowValueOf(t *Table, err error, rows [][]any) *rowValueError {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return nil
	}
	rv := rowValue(int(me.Number), me.Message, fmt.Errorf("%w: %w", ErrBadValue, err))
	if rv == nil {
		return nil
	}
	rv.fill(t, rows)
	return rv
}

// fill names the table, and the row's key and value from rows (the
// batch's rows in order) when the row is among them.
func (e *rowValueError) fill(t *Table, rows [][]any) {
	e.table = t.Name
	if e.row < 1 || e.row > len(rows) {
		return
	}
	row := rows[e.row-1]
	e.key = keyText(t, row)
	if at := t.columnIndex(e.column); at >= 0 && at < len(row) {
		e.value, e.hasValue = valueText(row[at]), true
	}
}

// fillFromText names the table, and the row's key and value from the
// fields of its text-format line (PostgreSQL's COPY text of src's columns,
// which pair by position with dst's, the target's names the server uses).
func (e *rowValueError) fillFromText(src, dst *Table, fields []string) {
	e.table = dst.Name
	e.key = fieldsKey(src, fields)
	if at := dst.columnIndex(e.column); at >= 0 && at < len(fields) {
		e.value, e.hasValue = fields[at], fields[at] != `\N`
	}
}

// fieldsKey is the key of a row of t given as its text-format fields,
// as k=v, ... (for an error message).
func fieldsKey(t *Table, fields []string) string {
	var parts []string
	for _, at := range t.KeyIndexes() {
		if at < len(fields) {
			parts = append(parts, t.Columns[at].Name+"="+fields[at])
		}
	}
	return strings.Join(parts, ", ")
}

func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}
