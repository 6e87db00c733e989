package compat

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Dialect is the SQL dialect the migration scripts are written in.
type Dialect string

// The dialects. Only PostgreSQL is generated today.
const (
	Postgres Dialect = "postgres"
)

// ParseDialect checks a dialect name given on the command line.
func ParseDialect(s string) (Dialect, error) {
	switch strings.ToLower(s) {
	case "", "postgres", "postgresql", "pg":
		return Postgres, nil
	case "mysql", "mariadb", "sqlite":
		return "", fmt.Errorf("dialect %q is not generated yet: use --dialect postgres (the findings do not depend on the dialect)", s)
	}
	return "", fmt.Errorf("dialect %q is not known: use postgres", s)
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

// ident quotes an identifier when PostgreSQL needs it quoted.
func ident(s string) string {
	if plainIdent.MatchString(s) && !reserved[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func idents(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = ident(c)
	}
	return strings.Join(q, ", ")
}

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

// columnDef writes a column's definition for CREATE TABLE or ADD COLUMN.
func columnDef(name string, c Column) string {
	var b strings.Builder
	b.WriteString(ident(name) + " " + columnType(c).String())
	if c.AutoIncrement {
		b.WriteString(" GENERATED BY DEFAULT AS IDENTITY")
	}
	if !c.nullable() {
		b.WriteString(" NOT NULL")
	}
	if d := defaultSQL(c); d != "" && !c.AutoIncrement {
		b.WriteString(" DEFAULT " + d)
	}
	return b.String()
}

// columnOrder lists a table's columns primary key first, then by name: the
// description is a mapping, so its own order is not kept.
func columnOrder(t Table) []string {
	cols := append([]string(nil), t.Constraints.PrimaryKey...)
	for _, c := range sortedKeys(t.Columns) {
		if !contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols
}

func fkClause(fk ForeignKey) string {
	refTable, refCols, _ := parseReference(fk.References)
	s := fmt.Sprintf("FOREIGN KEY (%s) REFERENCES %s (%s)", idents(fk.Columns), ident(refTable), idents(refCols))
	if fk.OnDelete != "" {
		s += " ON DELETE " + strings.ToUpper(fk.OnDelete)
	}
	if fk.OnUpdate != "" {
		s += " ON UPDATE " + strings.ToUpper(fk.OnUpdate)
	}
	return s
}

// createTable writes CREATE TABLE with its constraints, then its indexes.
func createTable(name string, t Table) string {
	var lines []string
	for _, c := range columnOrder(t) {
		lines = append(lines, "  "+columnDef(c, t.Columns[c]))
	}
	if pk := t.Constraints.PrimaryKey; len(pk) > 0 {
		lines = append(lines, fmt.Sprintf("  CONSTRAINT %s PRIMARY KEY (%s)", ident(pkName(name)), idents(pk)))
	}
	for _, u := range t.Constraints.Unique {
		lines = append(lines, fmt.Sprintf("  CONSTRAINT %s UNIQUE (%s)", ident(uniqueName(name, u)), idents(u)))
	}
	for _, c := range t.Constraints.Check {
		lines = append(lines, fmt.Sprintf("  CONSTRAINT %s CHECK (%s)", ident(checkName(name, c)), c))
	}
	for _, fk := range t.Constraints.ForeignKey {
		lines = append(lines, fmt.Sprintf("  CONSTRAINT %s %s", ident(fkName(name, fk.Columns)), fkClause(fk)))
	}
	stmts := []string{fmt.Sprintf("CREATE TABLE %s (\n%s\n);", ident(name), strings.Join(lines, ",\n"))}
	for _, ix := range sortedIndexes(t.Indexes) {
		stmts = append(stmts, createIndex(name, ix))
	}
	return strings.Join(stmts, "\n")
}

func sortedIndexes(ixs []Index) []Index {
	out := append([]Index(nil), ixs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func createIndex(table string, ix Index) string {
	u := ""
	if ix.Unique {
		u = "UNIQUE "
	}
	return fmt.Sprintf("CREATE %sINDEX %s ON %s (%s);", u, ident(ix.Name), ident(table), idents(ix.Columns))
}

func alterTable(table, action string) string {
	return fmt.Sprintf("ALTER TABLE %s %s;", ident(table), action)
}

// existsQuery is a validation query: it returns ok = true when the named
// object exists (want true) or not (want false).
func columnExists(table, col string, want bool) string {
	return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s AND column_name = %s) AS ok;",
		notIf(!want), literal(table), literal(col))
}

func tableExists(table string, want bool) string {
	return fmt.Sprintf("SELECT to_regclass(%s) IS %sNULL AS ok;", literal(table), notIf(want))
}

func constraintExists(name string, want bool) string {
	return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM pg_constraint WHERE conname = %s AND connamespace = current_schema()::regnamespace) AS ok;",
		notIf(!want), literal(name))
}

func indexExists(name string, want bool) string {
	return fmt.Sprintf("SELECT to_regclass(%s) IS %sNULL AS ok;", literal(name), notIf(want))
}

func notIf(b bool) string {
	if b {
		return "NOT "
	}
	return ""
}

// DDL returns the statements that create s from nothing: tables in an
// order their foreign keys allow, then views. It is what a migration's
// rollback of a dropped schema would run, and what tests start from.
func DDL(s *Schema) []string {
	var out []string
	for _, t := range topoOrder(sortedKeys(s.Tables), s) {
		out = append(out, createTable(t, s.Tables[t]))
	}
	for _, v := range sortedKeys(s.Views) {
		out = append(out, fmt.Sprintf("CREATE VIEW %s AS %s;", ident(v), strings.TrimSuffix(strings.TrimSpace(s.Views[v].Definition), ";")))
	}
	return out
}
