package compat

import (
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Dialect is the SQL dialect the migration scripts are written in.
type Dialect string

// The dialects. The findings do not depend on the dialect; the scripts do.
const (
	// Postgres is PostgreSQL's SQL.
	Postgres Dialect = "postgres"
	// MySQL is MySQL 8 / MariaDB 10.5+ SQL (tested on MariaDB).
	MySQL Dialect = "mysql"
	// SQLite is SQLite 3.35+ SQL. Changes its ALTER TABLE cannot make
	// (types, nullability, defaults, keys, foreign keys, checks) rebuild
	// the table: create the new table, copy the rows, drop the old one,
	// rename (see rebuild.go).
	SQLite Dialect = "sqlite"
)

// ParseDialect checks a dialect name given on the command line.
func ParseDialect(s string) (Dialect, error) {
	switch strings.ToLower(s) {
	case "", "postgres", "postgresql", "pg":
		return Postgres, nil
	case "mysql", "mariadb":
		return MySQL, nil
	case "sqlite", "sqlite3":
		return SQLite, nil
	}
	return "", fmt.Errorf("dialect %q is not known: use postgres, mysql or sqlite", s)
}

// maxIdent is PostgreSQL's limit on identifier length.
const maxIdent = 63

// objectName names a constraint or index from its table and columns the
// way PostgreSQL does (orders_customer_id_fkey), so the name is stable
// across runs and unique within the schema; a name too long is cut and
// given a hash of the whole so two long names stay distinct.
func objectName(table string, cols []string, suffix string) string {
	name := table + "_" + strings.Join(cols, "_") + "_" + suffix
	if len(name) <= maxIdent {
		return name
	}
	h := shortHash(name)
	return name[:maxIdent-len(h)-1] + "_" + h
}

func shortHash(s string) string {
	f := fnv.New32a()
	f.Write([]byte(s))
	return fmt.Sprintf("%08x", f.Sum32())
}

func pkName(table string) string { return trimJoin(table, "pkey") }

// trimJoin joins table and suffix within the identifier limit.
func trimJoin(table, suffix string) string {
	name := table + "_" + suffix
	if len(name) <= maxIdent {
		return name
	}
	h := shortHash(name)
	return name[:maxIdent-len(h)-1] + "_" + h
}

func uniqueName(table string, cols []string) string { return objectName(table, cols, "key") }
func fkName(table string, cols []string) string     { return objectName(table, cols, "fkey") }
func checkName(table, expr string) string {
	return objectName(table, []string{shortHash(normalizeSpace(expr))}, "check")
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// reserved are the PostgreSQL reserved words most likely to be table or
// column names; they must be quoted.
var reserved = map[string]bool{
	"all": true, "analyse": true, "analyze": true, "and": true, "any": true, "array": true, "as": true,
	"asc": true, "both": true, "case": true, "cast": true, "check": true, "collate": true, "column": true,
	"constraint": true, "create": true, "current_date": true, "current_role": true, "current_time": true,
	"current_timestamp": true, "current_user": true, "default": true, "desc": true, "distinct": true,
	"do": true, "else": true, "end": true, "except": true, "false": true, "fetch": true, "for": true,
	"foreign": true, "from": true, "grant": true, "group": true, "having": true, "in": true,
	"initially": true, "intersect": true, "into": true, "leading": true, "limit": true, "localtime": true,
	"not": true, "null": true, "offset": true, "on": true, "only": true, "or": true, "order": true,
	"placing": true, "primary": true, "references": true, "returning": true, "select": true,
	"session_user": true, "some": true, "symmetric": true, "table": true, "then": true, "to": true,
	"trailing": true, "true": true, "union": true, "unique": true, "user": true, "using": true,
	"variadic": true, "when": true, "where": true, "window": true, "with": true,
}

// ident quotes an identifier when the dialect needs it quoted: with
// backticks on MySQL, double quotes elsewhere.
func (d Dialect) ident(s string) string {
	if plainIdent.MatchString(s) && !reserved[s] {
		return s
	}
	if d == MySQL {
		return "`" + strings.ReplaceAll(s, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func (d Dialect) idents(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = d.ident(c)
	}
	return strings.Join(q, ", ")
}

// ident and idents are PostgreSQL's, for what does not depend on the
// dialect (comparing definitions).
func ident(s string) string               { return Postgres.ident(s) }
func idents(cols []string) string         { return Postgres.idents(cols) }
func columnDef(n string, c Column) string { return Postgres.columnDef(n, c) }

// literal quotes a string as a SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

var (
	functionCall = regexp.MustCompile(`^[A-Za-z_][\w.]*\s*\(.*\)$`)
	sqlKeywords  = map[string]bool{
		"CURRENT_TIMESTAMP": true, "CURRENT_DATE": true, "CURRENT_TIME": true, "LOCALTIMESTAMP": true,
		"LOCALTIME": true, "CURRENT_USER": true, "NULL": true,
	}
	numberLiteral = regexp.MustCompile(`^-?\d+(\.\d+)?([eE][-+]?\d+)?$`)
)

// defaultSQL renders a column's default as SQL, or "" when it has none.
// A string is a literal (quoted) unless it is a function call or a SQL
// keyword; for numeric and boolean columns a string holding a number or
// true/false is written bare.
func defaultSQL(c Column) string {
	switch v := c.Default.(type) {
	case nil:
		return ""
	case bool:
		return strings.ToUpper(strconv.FormatBool(v))
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		t := columnType(c)
		switch {
		case functionCall.MatchString(v), sqlKeywords[strings.ToUpper(v)]:
			return v
		case (t.Family == "integer" || t.Family == "decimal" || t.Family == "float") && numberLiteral.MatchString(v):
			return v
		case t.Family == "bool" && (strings.EqualFold(v, "true") || strings.EqualFold(v, "false")):
			return strings.ToUpper(v)
		}
		return literal(v)
	}
	return literal(fmt.Sprint(c.Default))
}

// typeSQL writes a type in the dialect. SQLite's auto-increment is its
// rowid, which only a column declared INTEGER (and the primary key) is.
func (d Dialect) typeSQL(t SQLType, auto bool) string {
	switch d {
	case SQLite:
		if auto {
			return "INTEGER"
		}
	case MySQL:
		switch t.Name {
		case "varchar":
			if t.Length == 0 {
				return "text"
			}
		case "timestamp", "timestamptz":
			name := map[string]string{"timestamp": "datetime", "timestamptz": "timestamp"}[t.Name]
			if p := t.fractionDigits(); p > 0 { // d.columnType: none unless written
				return fmt.Sprintf("%s(%d)", name, p)
			}
			return name
		case "uuid":
			return "char(36)"
		case "jsonb":
			return "json"
		case "bytea":
			return "longblob"
		case "double precision":
			return "double"
		case "real":
			return "float"
		case "numeric":
			switch {
			case t.Precision > 0 && t.Scale > 0:
				return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
			case t.Precision > 0:
				return fmt.Sprintf("decimal(%d)", t.Precision)
			}
			return "decimal(65,30)"
		}
	}
	return t.String()
}

// columnDef writes a column's definition for CREATE TABLE or ADD COLUMN
// (and, on MySQL, MODIFY COLUMN: so nullability is always written).
func (d Dialect) columnDef(name string, c Column) string {
	var b strings.Builder
	b.WriteString(d.ident(name) + " " + d.typeSQL(d.columnType(c), c.AutoIncrement))
	if c.AutoIncrement && d == Postgres {
		b.WriteString(" GENERATED BY DEFAULT AS IDENTITY")
	}
	if !c.nullable() {
		b.WriteString(" NOT NULL")
	} else if d == MySQL {
		b.WriteString(" NULL") // a TIMESTAMP is NOT NULL unless told
	}
	if def := defaultSQL(c); def != "" && !c.AutoIncrement {
		if d == SQLite && functionCall.MatchString(def) {
			def = "(" + def + ")" // SQLite wants an expression default in parentheses
		}
		b.WriteString(" DEFAULT " + def)
	}
	if c.AutoIncrement && d == MySQL {
		b.WriteString(" AUTO_INCREMENT")
	}
	if c.OnUpdate != "" && d == MySQL {
		b.WriteString(" ON UPDATE " + c.OnUpdate) // elsewhere a trigger: onupdate.go
	}
	return b.String()
}

// columnOrder lists a table's columns primary key first, then by name: the
// description is a mapping, so its own order is not kept.
func columnOrder(t Table) []string {
	cols := append([]string(nil), t.Constraints.PrimaryKey...)
	for _, c := range slices.Sorted(maps.Keys(t.Columns)) {
		if !contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols
}

func (d Dialect) fkClause(fk ForeignKey) string {
	refTable, refCols, _ := parseReference(fk.References)
	s := fmt.Sprintf("FOREIGN KEY (%s) REFERENCES %s (%s)", d.idents(fk.Columns), d.ident(refTable), d.idents(refCols))
	if fk.OnDelete != "" {
		s += " ON DELETE " + strings.ToUpper(fk.OnDelete)
	}
	if fk.OnUpdate != "" {
		s += " ON UPDATE " + strings.ToUpper(fk.OnUpdate)
	}
	return s
}

// fkClause is PostgreSQL's, the key foreign keys are compared by.
func fkClause(fk ForeignKey) string { return Postgres.fkClause(fk) }

// createTable writes CREATE TABLE with its constraints, then its indexes.
func (d Dialect) createTable(name string, t Table) string {
	return strings.Join(d.createTableAs(name, name, t), "\n")
}

// createTableAs writes the statements that create t under the name
// created, its constraints named after table (SQLite's rebuild creates
// the new table under a temporary name). Unique constraints are unique
// indexes on SQLite, so they have a name that DROP INDEX can use.
func (d Dialect) createTableAs(created, table string, t Table) []string {
	var lines []string
	for _, c := range columnOrder(t) {
		lines = append(lines, "  "+d.columnDef(c, t.Columns[c]))
	}
	if pk := t.Constraints.PrimaryKey; len(pk) > 0 {
		lines = append(lines, fmt.Sprintf("  CONSTRAINT %s PRIMARY KEY (%s)", d.ident(pkName(table)), d.idents(pk)))
	}
	var after []string
	for _, u := range t.Constraints.Unique {
		if d == SQLite {
			after = append(after, d.addUnique(table, u))
			continue
		}
		lines = append(lines, fmt.Sprintf("  CONSTRAINT %s UNIQUE (%s)", d.ident(uniqueName(table, u)), d.idents(u)))
	}
	for _, c := range t.Constraints.Check {
		lines = append(lines, fmt.Sprintf("  CONSTRAINT %s CHECK (%s)", d.ident(checkName(table, c)), c))
	}
	for _, fk := range t.Constraints.ForeignKey {
		lines = append(lines, fmt.Sprintf("  CONSTRAINT %s %s", d.ident(fkName(table, fk.Columns)), d.fkClause(fk)))
	}
	stmts := []string{fmt.Sprintf("CREATE TABLE %s (\n%s\n);", d.ident(created), strings.Join(lines, ",\n"))}
	stmts = append(stmts, after...)
	for _, ix := range sortedIndexes(t.Indexes) {
		stmts = append(stmts, d.createIndex(table, ix))
	}
	return append(stmts, d.onUpdateTriggers(table, t)...)
}

func sortedIndexes(ixs []Index) []Index {
	out := append([]Index(nil), ixs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (d Dialect) createIndex(table string, ix Index) string {
	u := ""
	if ix.Unique {
		u = "UNIQUE "
	}
	return fmt.Sprintf("CREATE %sINDEX %s ON %s (%s);", u, d.ident(ix.Name), d.ident(table), d.idents(ix.Columns))
}

func (d Dialect) dropIndex(table, name string) string {
	if d == MySQL {
		return fmt.Sprintf("DROP INDEX %s ON %s;", d.ident(name), d.ident(table))
	}
	return fmt.Sprintf("DROP INDEX %s;", d.ident(name))
}

func (d Dialect) addUnique(table string, cols []string) string {
	name := uniqueName(table, cols)
	if d == SQLite {
		return fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s);", d.ident(name), d.ident(table), d.idents(cols))
	}
	return d.alterTable(table, fmt.Sprintf("ADD CONSTRAINT %s UNIQUE (%s)", d.ident(name), d.idents(cols)))
}

// dropUnique drops the unique constraint on cols of table, whose
// definition is t at that point.
func (d Dialect) dropUnique(table string, t Table, cols []string) string {
	name := uniqueName(table, cols)
	switch d {
	case SQLite:
		return d.dropIndex(table, name)
	case MySQL:
		without := t
		without.Constraints.Unique = nil
		for _, u := range t.Constraints.Unique {
			if strings.Join(u, ",") != strings.Join(cols, ",") {
				without.Constraints.Unique = append(without.Constraints.Unique, u)
			}
		}
		return d.alterTable(table, strings.Join(append(fkIndexes(table, t, without), "DROP INDEX "+d.ident(name)), ", "))
	}
	return d.alterTable(table, "DROP CONSTRAINT "+d.ident(name))
}

// fkIndexes are the indexes MySQL needs before an index of t is dropped
// (t becoming without): a foreign key whose index it was gets the index
// MySQL would have made for it, named as the key. MySQL refuses to drop
// the only index a foreign key can use; and it drops the index it made
// for a key once another index can serve, which is why one may be gone.
func fkIndexes(table string, t, without Table) []string {
	var out []string
	for _, fk := range t.Constraints.ForeignKey {
		if !needsFKIndex(t, fk) && needsFKIndex(without, fk) {
			out = append(out, fmt.Sprintf("ADD INDEX %s (%s)", MySQL.ident(fkName(table, fk.Columns)), MySQL.idents(fk.Columns)))
		}
	}
	return out
}

// needsFKIndex reports whether MySQL creates an index for the foreign key
// (named as the key): it does when no index of t starts with its columns.
// Dropping the key leaves that index, so the drop removes it too.
func needsFKIndex(t Table, fk ForeignKey) bool {
	prefix := func(cols []string) bool {
		if len(cols) < len(fk.Columns) {
			return false
		}
		for i, c := range fk.Columns {
			if cols[i] != c {
				return false
			}
		}
		return true
	}
	if prefix(t.Constraints.PrimaryKey) {
		return false
	}
	for _, u := range t.Constraints.Unique {
		if prefix(u) {
			return false
		}
	}
	for _, ix := range t.Indexes {
		if prefix(ix.Columns) {
			return false
		}
	}
	return true
}

// dropFK drops the foreign key fk of table (whose definition is t).
func (d Dialect) dropFK(table string, t Table, fk ForeignKey) string {
	name := d.ident(fkName(table, fk.Columns))
	if d == MySQL {
		s := d.alterTable(table, "DROP FOREIGN KEY "+name)
		if needsFKIndex(t, fk) {
			s += "\n" + d.alterTable(table, "DROP INDEX "+name)
		}
		return s
	}
	return d.alterTable(table, "DROP CONSTRAINT "+name)
}

func (d Dialect) addFK(table string, fk ForeignKey) string {
	return d.alterTable(table, fmt.Sprintf("ADD CONSTRAINT %s %s", d.ident(fkName(table, fk.Columns)), d.fkClause(fk)))
}

func (d Dialect) dropPK(table string) string {
	if d == MySQL {
		return d.alterTable(table, "DROP PRIMARY KEY")
	}
	return d.alterTable(table, "DROP CONSTRAINT "+d.ident(pkName(table)))
}

func (d Dialect) addPK(table string, cols []string) string {
	if d == MySQL {
		return d.alterTable(table, fmt.Sprintf("ADD PRIMARY KEY (%s)", d.idents(cols)))
	}
	return d.alterTable(table, fmt.Sprintf("ADD CONSTRAINT %s PRIMARY KEY (%s)", d.ident(pkName(table)), d.idents(cols)))
}

func (d Dialect) alterTable(table, action string) string {
	return fmt.Sprintf("ALTER TABLE %s %s;", d.ident(table), action)
}

// The validation queries return one row, ok = true when the named object
// exists (want true) or not (want false).

func (d Dialect) columnExists(table, col string, want bool) string {
	switch d {
	case MySQL:
		return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s) AS ok;",
			notIf(!want), literal(table), literal(col))
	case SQLite:
		return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM pragma_table_info(%s) WHERE name = %s) AS ok;", notIf(!want), literal(table), literal(col))
	}
	return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s AND column_name = %s) AS ok;",
		notIf(!want), literal(table), literal(col))
}

// tableExists also finds views.
func (d Dialect) tableExists(table string, want bool) string {
	switch d {
	case MySQL:
		return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s) AS ok;", notIf(!want), literal(table))
	case SQLite:
		return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = %s) AS ok;", notIf(!want), literal(table))
	}
	return fmt.Sprintf("SELECT to_regclass(%s) IS %sNULL AS ok;", literal(table), notIf(want))
}

// constraintExists finds a constraint by name; on MySQL a primary key is
// found by its kind (MySQL names every primary key PRIMARY).
func (d Dialect) constraintExists(table, name string, want bool) string {
	switch d {
	case MySQL:
		cond := "CONSTRAINT_NAME = " + literal(name)
		if name == pkName(table) {
			cond = "CONSTRAINT_TYPE = 'PRIMARY KEY'"
		}
		return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = %s AND %s) AS ok;",
			notIf(!want), literal(table), cond)
	case SQLite:
		if name == pkName(table) {
			return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM pragma_table_info(%s) WHERE pk > 0) AS ok;", notIf(!want), literal(table))
		}
		return d.indexExists(table, name, want) // unique constraints are named indexes
	}
	return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM pg_constraint WHERE conname = %s AND connamespace = current_schema()::regnamespace) AS ok;",
		notIf(!want), literal(name))
}

func (d Dialect) indexExists(table, name string, want bool) string {
	switch d {
	case MySQL:
		return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND INDEX_NAME = %s) AS ok;",
			notIf(!want), literal(table), literal(name))
	case SQLite:
		return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = %s) AS ok;", notIf(!want), literal(name))
	}
	return fmt.Sprintf("SELECT to_regclass(%s) IS %sNULL AS ok;", literal(name), notIf(want))
}

func notIf(b bool) string {
	if b {
		return "NOT "
	}
	return ""
}

// DDL returns the PostgreSQL statements that create s from nothing:
// tables in an order their foreign keys allow, then views. It is what a
// migration's rollback of a dropped schema would run, and what tests
// start from.
func DDL(s *Schema) []string { return DDLFor(Postgres, s) }

// DDLFor is DDL in a dialect.
func DDLFor(d Dialect, s *Schema) []string {
	var out []string
	for _, t := range topoOrder(slices.Sorted(maps.Keys(s.Tables)), s) {
		out = append(out, d.createTable(t, s.Tables[t]))
	}
	for _, v := range slices.Sorted(maps.Keys(s.Views)) {
		out = append(out, fmt.Sprintf("CREATE VIEW %s AS %s;", d.ident(v), strings.TrimSuffix(strings.TrimSpace(s.Views[v].Definition), ";")))
	}
	return out
}
