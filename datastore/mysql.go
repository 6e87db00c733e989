package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

type mysqlDialect struct{}

func (mysqlDialect) open(dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: not a go-sql-driver/mysql DSN (user:pass@tcp(host:3306)/db)", ErrBadDSN)
	}
	// Times travel in UTC both ways; the session's zone is UTC too so that
	// CURRENT_TIMESTAMP defaults and TIMESTAMP columns agree with them.
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// One round trip per batch instead of prepare + execute + close.
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	// Strict mode: a value that does not fit is an error, not a silent
	// truncation. NO_AUTO_VALUE_ON_ZERO: a copied key 0 stays 0 instead of
	// taking the next AUTO_INCREMENT value (and overwriting row 1).
	cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'"
	// Every string the driver sends is UTF-8 (canonical text): the
	// connection says so, whatever charset or collation the DSN asks for,
	// so the server converts each value into its column's character set
	// instead of storing UTF-8 bytes as latin1 characters.
	if err := utf8Connection(cfg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDSN, err)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDSN, err)
	}
	return sql.OpenDB(conn), nil
}

func (mysqlDialect) isAccessDenied(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1045 || me.Number == 1044 || me.Number == 1142
	}
	return false
}

func (mysqlDialect) quote(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

func (mysqlDialect) placeholder(int) string { return "?" }
func (mysqlDialect) maxParams() int         { return 65535 }
func (mysqlDialect) transactionalDDL() bool { return false }

// tableSuffix: binary collation, so keys that differ only in case or accents
// (distinct in PostgreSQL and SQLite) stay distinct rows.
func (mysqlDialect) tableSuffix() string {
	return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
}

func (mysqlDialect) listTables(ctx context.Context, db *sql.DB) ([]string, error) {
	return queryStrings(ctx, db, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`)
}

func (d mysqlDialect) introspect(ctx context.Context, db *sql.DB, name string) (*Table, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES', COLUMN_DEFAULT, EXTRA
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
		ORDER BY ORDINAL_POSITION`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &Table{Name: name, Engine: MySQL}
	for rows.Next() {
		var c Column
		var def sql.NullString
		var extra string
		if err := rows.Scan(&c.Name, &c.NativeType, &c.Nullable, &def, &extra); err != nil {
			return nil, err
		}
		c.Type = mysqlType(c.NativeType)
		c.AutoIncrement = strings.Contains(strings.ToLower(extra), "auto_increment")
		c.OnUpdateNow = strings.Contains(strings.ToLower(extra), "on update current_timestamp")
		if def.Valid {
			c.Default = parseDefault(def.String)
			// MySQL 8 writes string defaults unquoted (MariaDB quotes them).
			if c.Default != nil && c.Default.Kind == DefaultExpr && !strings.Contains(strings.ToLower(extra), "default_generated") && textual(c.Type.Kind) {
				c.Default = &Default{Kind: DefaultLiteral, Value: def.String, Quoted: true}
			}
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(t.Columns) == 0 {
		return nil, nil
	}
	if err := d.markJSON(ctx, db, t); err != nil {
		return nil, err
	}
	irows, err := db.QueryContext(ctx, `
		SELECT INDEX_NAME, NON_UNIQUE = 0, COLUMN_NAME, INDEX_TYPE
		FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
		ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`, name)
	if err != nil {
		return nil, err
	}
	defer irows.Close()
	byName := map[string]*Index{}
	functional := map[string]bool{}
	var order []string
	for irows.Next() {
		var iname string
		var unique bool
		var col sql.NullString
		var kind string
		if err := irows.Scan(&iname, &unique, &col, &kind); err != nil {
			return nil, err
		}
		idx := byName[iname]
		if idx == nil {
			idx = &Index{Name: iname, Unique: unique}
			// A FULLTEXT or SPATIAL index is no B-tree: elsewhere it would
			// become one (over a whole TEXT, which PostgreSQL refuses past
			// about 2.7 kB a row), so it keeps its kind (see Index.Method).
			if k := strings.ToLower(kind); k == "fulltext" || k == "spatial" {
				idx.Method = k
			}
			byName[iname] = idx
			order = append(order, iname)
		}
		if !col.Valid { // a functional index part
			functional[iname] = true
			continue
		}
		idx.Columns = append(idx.Columns, col.String)
	}
	if err := irows.Err(); err != nil {
		return nil, err
	}
	for _, iname := range order {
		idx := byName[iname]
		switch {
		case iname == "PRIMARY":
			t.PrimaryKey = idx.Columns
		case functional[iname]:
			t.Skipped = append(t.Skipped, "index "+iname+" (functional index)")
		default:
			t.Indexes = append(t.Indexes, *idx)
		}
	}
	fks, err := d.foreignKeys(ctx, db, name)
	if err != nil {
		return nil, fmt.Errorf("foreign keys of %s: %w", name, err)
	}
	t.ForeignKeys = fks
	triggers, err := mysqlTriggers(ctx, db, name)
	if err != nil {
		return nil, fmt.Errorf("triggers of %s: %w", name, err)
	}
	t.Skipped = append(t.Skipped, triggers...)
	return t, nil
}

// mysqlTriggers names the table's own triggers (Sakila's ins_film keeps
// film_text in step with film), which provision does not carry: a target
// whose tables they maintained must be told. Godwit's own (change capture,
// dual writes: godwit_...) are left out.
func mysqlTriggers(ctx context.Context, db *sql.DB, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION FROM information_schema.TRIGGERS
		WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ? ORDER BY TRIGGER_NAME`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, timing, event string
		if err := rows.Scan(&name, &timing, &event); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(strings.ToLower(name), "godwit_") {
			out = append(out, fmt.Sprintf("trigger %s (%s %s)", name, timing, event))
		}
	}
	return out, rows.Err()
}

// mysqlAction spells a referential action portably. InnoDB checks
// foreign keys at once, so RESTRICT and NO ACTION are one action, and
// MariaDB reports RESTRICT where none was given: NO ACTION, the portable
// default, says it.
func mysqlAction(a string) string {
	if strings.EqualFold(a, "RESTRICT") {
		return "NO ACTION"
	}
	return strings.ToUpper(a)
}

// foreignKeys reads a table's foreign keys, their columns in constraint
// order. One that references another database is left out.
func (mysqlDialect) foreignKeys(ctx context.Context, db *sql.DB, name string) ([]ForeignKey, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT k.CONSTRAINT_NAME, k.REFERENCED_TABLE_NAME, r.DELETE_RULE, r.UPDATE_RULE, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME
		FROM information_schema.KEY_COLUMN_USAGE k
		JOIN information_schema.REFERENTIAL_CONSTRAINTS r
		  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
		WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_SCHEMA = DATABASE()
		ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ForeignKey
	for rows.Next() {
		var cname, ref, del, upd, col, refCol string
		if err := rows.Scan(&cname, &ref, &del, &upd, &col, &refCol); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].Name != cname {
			out = append(out, ForeignKey{Name: cname, RefTable: ref, OnDelete: mysqlAction(del), OnUpdate: mysqlAction(upd)})
		}
		fk := &out[len(out)-1]
		fk.Columns = append(fk.Columns, col)
		fk.RefColumns = append(fk.RefColumns, refCol)
	}
	return out, rows.Err()
}

// markJSON finds MariaDB's JSON columns: MariaDB stores JSON as LONGTEXT
// with a json_valid() check named after the column.
func (mysqlDialect) markJSON(ctx context.Context, db *sql.DB, t *Table) error {
	hasLongtext := false
	for _, c := range t.Columns {
		hasLongtext = hasLongtext || strings.EqualFold(c.NativeType, "longtext")
	}
	if !hasLongtext {
		return nil
	}
	// MySQL 8 has no TABLE_NAME here (and reports JSON columns as json): ignore the error.
	clauses, err := queryStrings(ctx, db, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ?`, t.Name)
	if err != nil {
		return nil
	}
	for _, cl := range clauses {
		cl = strings.ToLower(strings.ReplaceAll(cl, " ", ""))
		for i := range t.Columns {
			c := &t.Columns[i]
			if strings.EqualFold(c.NativeType, "longtext") && cl == "json_valid(`"+strings.ToLower(c.Name)+"`)" {
				c.Type = Type{Kind: KindJSON}
			}
		}
	}
	return nil
}

func textual(k Kind) bool {
	switch k {
	case KindText, KindVarchar, KindUUID, KindJSON, KindDate, KindTimestamp, KindTimestampTZ:
		return true
	}
	return false
}

func mysqlType(native string) Type {
	n := strings.ToLower(native)
	unsigned := strings.Contains(n, "unsigned")
	// The base type is the word before any arguments: an ENUM's or SET's
	// arguments are quoted labels ("enum('G','PG-13')"), which typeArgs
	// (numbers only) does not strip.
	base := strings.TrimSpace(strings.Fields(typeArgs.ReplaceAllString(n, ""))[0])
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = base[:i]
	}
	a, b := args(n)
	switch base {
	case "tinyint":
		if a == 1 && !unsigned {
			return Type{Kind: KindBool}
		}
		return Type{Kind: KindSmallInt}
	case "smallint":
		if unsigned {
			return Type{Kind: KindInt}
		}
		return Type{Kind: KindSmallInt}
	case "mediumint":
		return Type{Kind: KindInt}
	case "int", "integer":
		if unsigned {
			return Type{Kind: KindBigInt}
		}
		return Type{Kind: KindInt}
	case "bigint":
		if unsigned {
			return Type{Kind: KindDecimal, Precision: 20}
		}
		return Type{Kind: KindBigInt}
	case "decimal", "numeric":
		return Type{Kind: KindDecimal, Precision: a, Scale: b}
	case "float":
		return Type{Kind: KindFloat}
	case "double", "real":
		return Type{Kind: KindDouble}
	case "char", "varchar":
		return Type{Kind: KindVarchar, Length: a}
	case "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return Type{Kind: KindText}
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return Type{Kind: KindBytes}
	case "date":
		return Type{Kind: KindDate}
	case "datetime":
		return timestampType(KindTimestamp, a) // no digits unless declared
	case "timestamp":
		return timestampType(KindTimestampTZ, a)
	case "json":
		return Type{Kind: KindJSON}
	case "uuid": // MariaDB 10.7+
		return Type{Kind: KindUUID}
	}
	return Type{Kind: KindUnsupported}
}

func (mysqlDialect) nativeType(c Column, key bool) (string, error) {
	t := c.Type
	switch t.Kind {
	case KindSmallInt:
		return "SMALLINT", nil
	case KindInt:
		return "INT", nil
	case KindBigInt:
		return "BIGINT", nil
	case KindDecimal:
		if t.Precision > 0 {
			return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale), nil
		}
		// An unbounded numeric gets MySQL's widest; a value beyond it is refused (strict mode).
		return "DECIMAL(65,30)", nil
	case KindFloat:
		return "FLOAT", nil
	case KindDouble:
		return "DOUBLE", nil
	case KindBool:
		return "TINYINT(1)", nil
	case KindText:
		if key {
			return "VARCHAR(255)", nil
		}
		return "LONGTEXT", nil
	case KindVarchar:
		if t.Length > 16383 && !key {
			return "LONGTEXT", nil
		}
		return fmt.Sprintf("VARCHAR(%d)", t.Length), nil
	case KindBytes:
		if key {
			return "VARBINARY(255)", nil
		}
		return "LONGBLOB", nil
	case KindDate:
		return "DATE", nil
	case KindTimestamp, KindTimestampTZ:
		if p := t.FractionDigits(); p > 0 {
			return fmt.Sprintf("DATETIME(%d)", p), nil
		}
		return "DATETIME", nil
	case KindJSON:
		return "JSON", nil
	case KindUUID:
		return "CHAR(36)", nil
	}
	return "", fmt.Errorf("column %s (%s): %w", c.Name, c.NativeType, ErrUnsupportedType)
}

func (mysqlDialect) autoIncrementClause(Column) string { return " AUTO_INCREMENT" }

func (mysqlDialect) renderDefault(c Column) (string, bool) {
	now := "CURRENT_TIMESTAMP"
	if p := c.Type.FractionDigits(); (c.Type.Kind == KindTimestamp || c.Type.Kind == KindTimestampTZ) && p > 0 {
		now = fmt.Sprintf("CURRENT_TIMESTAMP(%d)", p) // as many digits as the column: MySQL refuses others
	}
	if c.Type.Kind == KindDate {
		now = "(CURRENT_DATE)" // an expression default: MariaDB 10.2+, MySQL 8.0.13+
	}
	return renderPortableDefault(c, now, "1", "0")
}

func (d mysqlDialect) upsertSuffix(t *Table) string {
	isKey := map[string]bool{}
	for _, k := range t.PrimaryKey {
		isKey[k] = true
	}
	var sets []string
	for _, c := range t.Columns {
		if !isKey[c.Name] {
			sets = append(sets, fmt.Sprintf("%s = VALUES(%s)", d.quote(c.Name), d.quote(c.Name)))
		}
	}
	if len(sets) == 0 {
		k := d.quote(t.PrimaryKey[0])
		return " ON DUPLICATE KEY UPDATE " + k + " = " + k
	}
	return " ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
}

// keyAfter spells the row comparison out, led by "k1 >= ?", because MariaDB
// does not turn (k1, k2) > (?, ?) into an index range.
func (d mysqlDialect) keyAfter(t *Table, _ int) (string, []int) {
	k := t.PrimaryKey
	if len(k) == 1 {
		return d.quote(k[0]) + " > ?", []int{0}
	}
	uses := []int{0}
	var ors []string
	for i := range k {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, d.quote(k[j])+" = ?")
			uses = append(uses, j)
		}
		ands = append(ands, d.quote(k[i])+" > ?")
		uses = append(uses, i)
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return d.quote(k[0]) + " >= ? AND (" + strings.Join(ors, " OR ") + ")", uses
}

func (mysqlDialect) encode(t Type, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	return Canonical(t, v)
}

func (mysqlDialect) estimate(ctx context.Context, db *sql.DB, table string) (int64, error) {
	var n sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT TABLE_ROWS FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, table).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, fmt.Errorf("%w: %q", ErrUnknownTable, table)
	}
	if err != nil {
		return 0, err
	}
	if !n.Valid {
		return -1, nil
	}
	return n.Int64, nil
}

// utf8Connection makes cfg's connection charset utf8mb4: a DSN's
// charset=latin1 (or a latin1 collation) would have the server read the
// driver's UTF-8 as latin1. A utf8mb4 collation the DSN names is kept.
func utf8Connection(cfg *mysql.Config) error {
	coll := cfg.Collation
	utf8 := coll == "" || strings.HasPrefix(coll, "utf8mb4_")
	if !utf8 {
		coll = "utf8mb4_general_ci"
	}
	if strings.Contains(cfg.FormatDSN(), "charset=") {
		// Only SET NAMES overrides a DSN's charset (a round trip per
		// new connection, only for such DSNs).
		return cfg.Apply(mysql.Charset("utf8mb4", coll))
	}
	cfg.Collation = coll
	return nil
}
