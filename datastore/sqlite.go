package datastore

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

type sqliteDialect struct{}

// SQLite keeps dates and timestamps as text, in the canonical form its
// own date functions write ("2024-01-02 03:04:05"), a fraction only when
// it is not zero, so that WHERE at = '2024-01-02 03:04:05' finds the row.
// These forms still sort as text in time order (a shorter fraction is a
// prefix, and Go drops only trailing zeros), which the catch-up watermark
// and keyset reads rely on.
const (
	sqliteDate        = "2006-01-02"
	sqliteTimestamp   = "2006-01-02 15:04:05.999999"
	sqliteTimestampTZ = "2006-01-02 15:04:05.999999-07:00"
)

// SQLiteDecimalDigits is the widest decimal SQLite stores as a number:
// every decimal of up to 15 significant digits round-trips exactly through
// a float64, so NUMERIC(p,s) with p ≤ 15 keeps values exact and compares,
// sorts and aggregates them as numbers. A wider (or unbounded) one is kept
// exact as TEXT (DECIMAL_TEXT), which compares as text.
const SQLiteDecimalDigits = 15

// SQLiteTimeText renders a canonical date or timestamp of kind k as SQLite
// stores it (for a bound parameter that must compare like a stored value).
func SQLiteTimeText(k Kind, t time.Time) string {
	if k == KindTimestampTZ {
		t = t.UTC()
	}
	if y := t.Year(); y < 0 || y > 9999 {
		switch k {
		case KindDate:
			return t.Format(sqliteDate)
		case KindTimestamp:
			return t.Format(sqliteTimestamp)
		}
		return t.Format(sqliteTimestampTZ)
	}
	// What t.Format gives for those layouts (years 0-9999), without
	// parsing the layout: it was a third of a copy's encoding into SQLite.
	var b [32]byte
	year, month, day := t.Date()
	out := append4(b[:0], year)
	out = append(out, '-', byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10))
	if k == KindDate {
		return string(out)
	}
	hour, min, sec := t.Clock()
	out = append(out, ' ', byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+min/10), byte('0'+min%10),
		':', byte('0'+sec/10), byte('0'+sec%10))
	if us := t.Nanosecond() / 1000; us > 0 {
		digits := 6
		for us%10 == 0 {
			us /= 10
			digits--
		}
		out = append(out, '.')
		for d := digits - 1; d >= 0; d-- {
			out = append(out, byte('0'+us/pow10[d]%10))
		}
	}
	if k == KindTimestampTZ {
		out = append(out, "+00:00"...)
	}
	return string(out)
}

var pow10 = [6]int{1, 10, 100, 1000, 10000, 100000}

func append4(b []byte, n int) []byte {
	return append(b, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}

func (sqliteDialect) open(dsn string) (*sql.DB, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("%w: empty SQLite path", ErrBadDSN)
	}
	// Wait for a writer instead of failing with SQLITE_BUSY.
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	db, err := sql.Open("sqlite", dsn+sep+"_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	if strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		db.SetMaxOpenConns(1) // each connection would be a database of its own
	}
	return db, nil
}

func (sqliteDialect) isAccessDenied(error) bool { return false }

func (sqliteDialect) quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (sqliteDialect) placeholder(int) string { return "?" }
func (sqliteDialect) maxParams() int         { return 32766 }
func (sqliteDialect) transactionalDDL() bool { return true }
func (sqliteDialect) tableSuffix() string    { return "" }

func (sqliteDialect) listTables(ctx context.Context, db *sql.DB) ([]string, error) {
	return queryStrings(ctx, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
}

func (d sqliteDialect) introspect(ctx context.Context, db *sql.DB, name string) (*Table, error) {
	t, err := d.introspectColumns(ctx, db, name)
	if err != nil || t == nil {
		return t, err
	}
	irows, err := db.QueryContext(ctx, `SELECT name, "unique", origin FROM pragma_index_list(?) ORDER BY name`, name)
	if err != nil {
		return nil, err
	}
	type entry struct {
		name   string
		unique bool
		origin string
	}
	var list []entry
	for irows.Next() {
		var e entry
		if err := irows.Scan(&e.name, &e.unique, &e.origin); err != nil {
			irows.Close()
			return nil, err
		}
		list = append(list, e)
	}
	irows.Close()
	for _, e := range list {
		if e.origin == "pk" {
			continue
		}
		cols, err := queryNullableStrings(ctx, db, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, e.name)
		if err != nil {
			return nil, err
		}
		if cols == nil {
			t.Skipped = append(t.Skipped, "index "+e.name+" (expression index)")
			continue
		}
		name := e.name
		if strings.HasPrefix(name, "sqlite_autoindex_") { // an inline UNIQUE constraint
			name = name[len("sqlite_autoindex_"):]
		}
		t.Indexes = append(t.Indexes, Index{Name: name, Columns: cols, Unique: e.unique})
	}
	fks, err := sqliteForeignKeys(ctx, db, t)
	if err != nil {
		return nil, fmt.Errorf("foreign keys of %s: %w", name, err)
	}
	t.ForeignKeys = fks
	triggers, err := sqliteTriggers(ctx, db, name)
	if err != nil {
		return nil, fmt.Errorf("triggers of %s: %w", name, err)
	}
	t.Skipped = append(t.Skipped, triggers...)
	return t, nil
}

// sqliteTriggerHead reads a trigger's timing and event from its CREATE
// TRIGGER text (SQLite keeps no other record of them).
var sqliteTriggerHead = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:TEMP(?:ORARY)?\s+)?TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"[^"]*"|\S+)\s+(BEFORE\s+|AFTER\s+|INSTEAD\s+OF\s+)?(INSERT|UPDATE|DELETE)\b`)

// sqliteTriggers names the table's own triggers, as provision lists what
// it does not carry; Godwit's own (godwit_...) are left out.
func sqliteTriggers(ctx context.Context, db *sql.DB, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, coalesce(sql, '') FROM sqlite_master
		WHERE type = 'trigger' AND tbl_name = ? AND name NOT LIKE 'godwit\_%' ESCAPE '\' ORDER BY name`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, text string
		if err := rows.Scan(&name, &text); err != nil {
			return nil, err
		}
		what := "trigger " + name
		if m := sqliteTriggerHead.FindStringSubmatch(text); m != nil {
			timing := strings.ToUpper(strings.Join(strings.Fields(m[1]), " "))
			if timing == "" {
				timing = "BEFORE" // SQLite's default
			}
			what += " (" + timing + " " + strings.ToUpper(m[2]) + ")"
		}
		out = append(out, what)
	}
	return out, rows.Err()
}

// introspectColumns reads a table's columns and primary key (nil, nil if
// it does not exist).
func (sqliteDialect) introspectColumns(ctx context.Context, db *sql.DB, name string) (*Table, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &Table{Name: name, Engine: SQLite}
	keyPos := map[int]string{}
	for rows.Next() {
		var c Column
		var notNull bool
		var def sql.NullString
		var pk int
		if err := rows.Scan(&c.Name, &c.NativeType, &notNull, &def, &pk); err != nil {
			return nil, err
		}
		c.Type = sqliteType(c.NativeType)
		c.Nullable = !notNull && pk == 0
		if def.Valid {
			c.Default = parseDefault(def.String)
		}
		if pk > 0 {
			keyPos[pk] = c.Name
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := 1; i <= len(keyPos); i++ {
		t.PrimaryKey = append(t.PrimaryKey, keyPos[i])
	}
	// INTEGER PRIMARY KEY is the rowid: SQLite assigns it on insert.
	if len(t.PrimaryKey) == 1 {
		c := t.Column(t.PrimaryKey[0])
		c.AutoIncrement = strings.EqualFold(c.NativeType, "INTEGER")
	}
	return t, nil
}

// sqliteForeignKeys reads a table's foreign keys. SQLite's have no name:
// they are named table_columns_fkey, as PostgreSQL would. A reference
// without columns means the parent's primary key.
func sqliteForeignKeys(ctx context.Context, db *sql.DB, t *Table) ([]ForeignKey, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, "table", "from", "to", on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, t.Name)
	if err != nil {
		return nil, err
	}
	var out []ForeignKey
	var ids []int
	implicit := map[int]bool{}
	for rows.Next() {
		var id int
		var ref, from, upd, del string
		var to sql.NullString
		if err := rows.Scan(&id, &ref, &from, &to, &upd, &del); err != nil {
			rows.Close()
			return nil, err
		}
		if n := len(ids); n == 0 || ids[n-1] != id {
			ids = append(ids, id)
			out = append(out, ForeignKey{RefTable: ref, OnDelete: strings.ToUpper(del), OnUpdate: strings.ToUpper(upd)})
		}
		fk := &out[len(out)-1]
		fk.Columns = append(fk.Columns, from)
		fk.RefColumns = append(fk.RefColumns, to.String)
		implicit[len(out)-1] = implicit[len(out)-1] || !to.Valid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		fk := &out[i]
		fk.Name = t.Name + "_" + strings.Join(fk.Columns, "_") + "_fkey"
		if !implicit[i] {
			continue
		}
		parent := t
		if fk.RefTable != t.Name {
			if parent, err = (sqliteDialect{}).introspectColumns(ctx, db, fk.RefTable); err != nil || parent == nil {
				return nil, fmt.Errorf("foreign key %s references %s, whose primary key cannot be read: %v", fk.Name, fk.RefTable, err)
			}
		}
		fk.RefColumns = append([]string(nil), parent.PrimaryKey...)
	}
	return out, nil
}

// queryNullableStrings returns nil if any value is NULL (an expression in an index).
func queryNullableStrings(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	hasNull := false
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		hasNull = hasNull || !s.Valid
		out = append(out, s.String)
	}
	if hasNull {
		return nil, rows.Err()
	}
	return out, rows.Err()
}

func sqliteType(native string) Type {
	n := strings.ToUpper(strings.TrimSpace(native))
	base := strings.TrimSpace(typeArgs.ReplaceAllString(n, ""))
	a, b := args(n)
	switch {
	case base == "":
		return Type{Kind: KindText}
	case strings.Contains(base, "BOOL"):
		return Type{Kind: KindBool}
	case base == "DECIMAL_TEXT" || base == "DECIMAL" || base == "NUMERIC":
		return Type{Kind: KindDecimal, Precision: a, Scale: b}
	case base == "SMALLINT" || base == "TINYINT" || base == "INT2":
		return Type{Kind: KindSmallInt}
	case strings.Contains(base, "INT"):
		return Type{Kind: KindBigInt} // SQLite integers are 64-bit
	case base == "DATE":
		return Type{Kind: KindDate}
	case base == "DATETIME" || base == "TIMESTAMP":
		return Type{Kind: KindTimestamp}
	case base == "TIMESTAMPTZ":
		return Type{Kind: KindTimestampTZ}
	case base == "JSON" || base == "JSONB":
		return Type{Kind: KindJSON}
	case base == "UUID":
		return Type{Kind: KindUUID}
	case strings.Contains(base, "CHAR") && a > 0:
		return Type{Kind: KindVarchar, Length: a}
	case strings.Contains(base, "CHAR") || strings.Contains(base, "CLOB") || strings.Contains(base, "TEXT"):
		return Type{Kind: KindText}
	case strings.Contains(base, "BLOB"):
		return Type{Kind: KindBytes}
	case base == "FLOAT":
		return Type{Kind: KindFloat}
	case strings.Contains(base, "REAL") || strings.Contains(base, "FLOA") || strings.Contains(base, "DOUB"):
		return Type{Kind: KindDouble}
	}
	return Type{Kind: KindDecimal} // NUMERIC affinity
}

func (sqliteDialect) nativeType(c Column, _ bool) (string, error) {
	t := c.Type
	switch t.Kind {
	case KindSmallInt:
		return "SMALLINT", nil
	case KindInt, KindBigInt:
		return "INTEGER", nil // a single-column INTEGER key is the rowid: fastest
	case KindDecimal:
		// NUMERIC affinity stores the value as an INTEGER or REAL: exact up
		// to 15 significant digits, and compared as a number. Beyond that
		// it would round, so TEXT affinity (the name contains TEXT) keeps
		// every digit, compared as text (provision says so in its notes).
		if t.Precision > 0 && t.Precision <= SQLiteDecimalDigits {
			return fmt.Sprintf("NUMERIC(%d,%d)", t.Precision, t.Scale), nil
		}
		if t.Precision > 0 {
			return fmt.Sprintf("DECIMAL_TEXT(%d,%d)", t.Precision, t.Scale), nil
		}
		return "DECIMAL_TEXT", nil
	case KindFloat:
		return "FLOAT", nil
	case KindDouble:
		return "DOUBLE", nil
	case KindBool:
		return "BOOLEAN", nil
	case KindText:
		return "TEXT", nil
	case KindVarchar:
		return fmt.Sprintf("VARCHAR(%d)", t.Length), nil
	case KindBytes:
		return "BLOB", nil
	case KindDate:
		return "DATE", nil
	case KindTimestamp:
		return "TIMESTAMP", nil
	case KindTimestampTZ:
		return "TIMESTAMPTZ", nil
	case KindJSON:
		return "JSON", nil
	case KindUUID:
		return "UUID", nil
	}
	return "", fmt.Errorf("column %s (%s): %w", c.Name, c.NativeType, ErrUnsupportedType)
}

func (sqliteDialect) autoIncrementClause(Column) string { return "" }

func (sqliteDialect) renderDefault(c Column) (string, bool) {
	if c.Type.Kind == KindDate {
		return renderPortableDefault(c, "CURRENT_DATE", "1", "0")
	}
	return renderPortableDefault(c, "CURRENT_TIMESTAMP", "1", "0")
}

func (d sqliteDialect) upsertSuffix(t *Table) string {
	return conflictUpsert(t, d.quote, "excluded")
}

func (d sqliteDialect) keyAfter(t *Table, first int) (string, []int) {
	return rowValueAfter(t, d.quote, d.placeholder, first)
}

// sqliteTrue and sqliteFalse are booleans as SQLite stores them, boxed
// once.
var sqliteTrue, sqliteFalse any = int64(1), int64(0)

func (sqliteDialect) encode(t Type, v any) (any, error) {
	// Booleans and times already canonical (what ReadBatch returns)
	// straight to what SQLite stores; Canonical returns the other
	// canonical values as they are.
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		if t.Kind == KindBool {
			if x {
				return sqliteTrue, nil
			}
			return sqliteFalse, nil
		}
	case time.Time:
		if t.Kind == KindDate || t.Kind == KindTimestamp || t.Kind == KindTimestampTZ {
			return sqliteTime(t.Kind, x)
		}
	}
	c, err := Canonical(t, v)
	if err != nil {
		return nil, err
	}
	switch x := c.(type) {
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case time.Time:
		return sqliteTime(t.Kind, x)
	}
	return c, nil
}

// sqliteTime is a date or timestamp as SQLite stores it, refused outside
// the years 0000-9999: SQLite's date functions read no other, and neither
// does Godwit (a copy wrote PostgreSQL's 44 BC as "-0043-03-15", which
// reconcile then could not read back).
func sqliteTime(k Kind, t time.Time) (any, error) {
	y := t.Year()
	if k == KindTimestampTZ {
		y = t.UTC().Year()
	}
	if y < 0 || y > 9999 {
		era := ""
		if y <= 0 {
			era = fmt.Sprintf(" (%d BC)", 1-y)
		}
		return nil, fmt.Errorf("%w: %s%s is outside the years 0000 to 9999 that a SQLite date or timestamp holds: "+
			"map it on the way (a mapping's added column computed by an expr, the column dropped: docs/mapping.md)",
			ErrBadValue, SQLiteTimeText(k, t), era)
	}
	return SQLiteTimeText(k, t), nil
}

func (sqliteDialect) estimate(context.Context, *sql.DB, string) (int64, error) { return -1, nil }
