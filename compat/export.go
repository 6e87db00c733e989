package compat

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/godwit/godwit/datastore"
)

// ExportOptions tune ExportSchema.
type ExportOptions struct {
	// Tables are table names or glob patterns (orders_*); empty means
	// every table of the store's default schema (Godwit's own bookkeeping
	// table left out).
	Tables []string
	// SchemaVersion is written as the description's schema_version.
	SchemaVersion string
}

// ExportSchema describes a live database in the schema description format
// that LoadSchema reads, so a file and a database — or two databases —
// can be compared: tables (columns with their type, nullability, default
// and auto-increment; primary key; unique constraints and unique indexes,
// both as constraints.unique, since engines name them differently; other
// indexes), foreign keys, views and, on PostgreSQL and MySQL/MariaDB,
// procedures and functions; check constraints on PostgreSQL.
//
// Columns, keys and indexes come from the datastore package's
// introspection; a type with no portable kind is written as the engine
// names it. What introspection cannot carry (expression or partial
// indexes) is left out and returned as notes.
func ExportSchema(ctx context.Context, s *datastore.Store, opts ExportOptions) (*Schema, []string, error) {
	var names []string
	var err error
	if len(opts.Tables) > 0 {
		names, err = s.ResolveTables(ctx, opts.Tables)
	} else {
		names, err = s.ListTables(ctx)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("export schema: %w", err)
	}
	out := &Schema{SchemaVersion: opts.SchemaVersion, Database: string(s.Engine), Tables: map[string]Table{}}
	var notes []string
	for _, n := range names {
		t, err := s.Introspect(ctx, n)
		if err != nil {
			return nil, nil, fmt.Errorf("export schema: %w", err)
		}
		out.Tables[n] = exportTable(s.Engine, t)
		for _, sk := range t.Skipped {
			notes = append(notes, fmt.Sprintf("table %s: %s left out", n, sk))
		}
	}
	x := extrasFor(s.Engine)
	if err := x.foreignKeys(ctx, s.DB, out); err != nil {
		return nil, nil, fmt.Errorf("export schema: foreign keys: %w", err)
	}
	if err := x.checks(ctx, s.DB, out); err != nil {
		return nil, nil, fmt.Errorf("export schema: check constraints: %w", err)
	}
	if out.Views, err = x.views(ctx, s.DB); err != nil {
		return nil, nil, fmt.Errorf("export schema: views: %w", err)
	}
	if out.Procedures, err = x.procedures(ctx, s.DB); err != nil {
		return nil, nil, fmt.Errorf("export schema: procedures: %w", err)
	}
	out.Normalize()
	return out, notes, nil
}

func exportTable(engine datastore.Engine, t *datastore.Table) Table {
	out := Table{Columns: map[string]Column{}}
	for _, c := range t.Columns {
		nullable := c.Nullable && !contains(t.PrimaryKey, c.Name)
		col := Column{Nullable: &nullable, AutoIncrement: c.AutoIncrement, Default: exportDefault(c.Default)}
		col.Type, col.Length, col.Precision, col.Scale = exportType(engine, c)
		out.Columns[c.Name] = col
	}
	out.Constraints.PrimaryKey = t.PrimaryKey
	for _, ix := range t.Indexes {
		if ix.Unique {
			out.Constraints.Unique = append(out.Constraints.Unique, ix.Columns)
			continue
		}
		out.Indexes = append(out.Indexes, Index{Name: ix.Name, Columns: ix.Columns})
	}
	sort.Slice(out.Indexes, func(i, j int) bool { return out.Indexes[i].Name < out.Indexes[j].Name })
	return out
}

// portableTypes are the description's names for datastore's kinds.
var portableTypes = map[datastore.Kind]string{
	datastore.KindSmallInt: "smallint", datastore.KindInt: "integer", datastore.KindBigInt: "bigint",
	datastore.KindDecimal: "numeric", datastore.KindFloat: "real", datastore.KindDouble: "double precision",
	datastore.KindBool: "boolean", datastore.KindText: "text", datastore.KindVarchar: "varchar",
	datastore.KindBytes: "bytea", datastore.KindDate: "date", datastore.KindTimestamp: "timestamp",
	datastore.KindTimestampTZ: "timestamptz", datastore.KindJSON: "json", datastore.KindUUID: "uuid",
}

var leadingTypeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 _]*`)

// exportType writes a column's type. PostgreSQL's types are the
// description's, so they are kept, in their short names (varchar(40),
// timestamptz), when they parse (jsonb stays jsonb);
// other engines' columns are written by their portable kind (MySQL's
// tinyint(1) is a boolean, datetime a timestamp). A type without a
// portable kind keeps its engine name, cut to what a type name may hold.
func exportType(engine datastore.Engine, c datastore.Column) (string, int, int, int) {
	if engine == datastore.Postgres {
		if t, err := ParseType(c.NativeType, 0, 0, 0); err == nil && t.Family != "other" || aliases[t.Name] != "" {
			return t.String(), 0, 0, 0
		}
	}
	name, ok := portableTypes[c.Type.Kind]
	if !ok {
		if _, err := ParseType(c.NativeType, 0, 0, 0); err == nil {
			return strings.ToLower(c.NativeType), 0, 0, 0
		}
		name = strings.ToLower(strings.TrimSpace(leadingTypeName.FindString(c.NativeType)))
		if name == "" {
			name = "unknown"
		}
		return name, 0, 0, 0
	}
	if k := c.Type.Kind; engine == datastore.MySQL && (k == datastore.KindTimestamp || k == datastore.KindTimestampTZ) {
		// Digits always written: a timestamp without them means none on
		// MySQL (its DATETIME) but six on PostgreSQL.
		return fmt.Sprintf("%s(%d)", name, c.Type.FractionDigits()), 0, 0, 0
	}
	return name, c.Type.Length, c.Type.Precision, c.Type.Scale
}

// exportDefault writes a default as the description holds it: a string
// literal as a string, a number as a number, true/false as booleans, the
// current time as CURRENT_TIMESTAMP, another expression as written.
func exportDefault(d *datastore.Default) any {
	if d == nil {
		return nil
	}
	switch d.Kind {
	case datastore.DefaultNow:
		return "CURRENT_TIMESTAMP"
	case datastore.DefaultExpr:
		return d.Value
	}
	if d.Quoted {
		return d.Value
	}
	switch d.Value {
	case "true":
		return true
	case "false":
		return false
	}
	if n, err := strconv.ParseInt(d.Value, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(d.Value, 64); err == nil {
		return f
	}
	return d.Value
}

// extras reads what datastore's introspection does not: foreign keys,
// check constraints, views, procedures. Each engine answers differently.
type extras interface {
	foreignKeys(ctx context.Context, db *sql.DB, s *Schema) error
	checks(ctx context.Context, db *sql.DB, s *Schema) error
	views(ctx context.Context, db *sql.DB) (map[string]View, error)
	procedures(ctx context.Context, db *sql.DB) ([]Procedure, error)
}

func extrasFor(e datastore.Engine) extras {
	switch e {
	case datastore.Postgres:
		return postgresExtras{}
	case datastore.MySQL:
		return mysqlExtras{}
	}
	return sqliteExtras{}
}

// fkRow is one column pair of a foreign key, in key order.
type fkRow struct {
	name, table, column, refTable, refColumn, onDelete, onUpdate string
}

// addForeignKeys groups rows by constraint and adds them to the tables
// exported (a key from or to a table left out is left out).
func addForeignKeys(s *Schema, rows []fkRow) {
	type key struct{ table, name string }
	byKey := map[key]*ForeignKey{}
	refs := map[key]string{}
	var refCols = map[key][]string{}
	var order []key
	for _, r := range rows {
		k := key{r.table, r.name}
		fk := byKey[k]
		if fk == nil {
			fk = &ForeignKey{OnDelete: action(r.onDelete), OnUpdate: action(r.onUpdate)}
			byKey[k], refs[k] = fk, r.refTable
			order = append(order, k)
		}
		fk.Columns = append(fk.Columns, r.column)
		refCols[k] = append(refCols[k], r.refColumn)
	}
	for _, k := range order {
		t, ok := s.Tables[k.table]
		if _, refOK := s.Tables[refs[k]]; !ok || !refOK {
			continue
		}
		fk := byKey[k]
		fk.References = fmt.Sprintf("%s(%s)", refs[k], strings.Join(refCols[k], ", "))
		t.Constraints.ForeignKey = append(t.Constraints.ForeignKey, *fk)
		s.Tables[k.table] = t
	}
	for name, t := range s.Tables {
		fks := t.Constraints.ForeignKey
		sort.Slice(fks, func(i, j int) bool {
			return strings.Join(fks[i].Columns, ",")+fks[i].References < strings.Join(fks[j].Columns, ",")+fks[j].References
		})
		s.Tables[name] = t
	}
}

// action writes a referential action; NO ACTION, the default everywhere,
// is left out so a description that does not say it compares equal.
func action(a string) string {
	a = strings.ToUpper(strings.TrimSpace(a))
	if a == "NO ACTION" || a == "" {
		return ""
	}
	return a
}

func scanFKs(ctx context.Context, db *sql.DB, q string, args ...any) ([]fkRow, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fkRow
	for rows.Next() {
		var r fkRow
		if err := rows.Scan(&r.name, &r.table, &r.column, &r.refTable, &r.refColumn, &r.onDelete, &r.onUpdate); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// scanPairs reads (name, text) rows.
func scanPairs(ctx context.Context, db *sql.DB, q string) ([][2]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		var text sql.NullString
		if err := rows.Scan(&p[0], &text); err != nil {
			return nil, err
		}
		p[1] = text.String
		out = append(out, p)
	}
	return out, rows.Err()
}

// viewColumns lists each view's columns through the engine's
// information_schema (PostgreSQL and MySQL both have one).
func viewColumns(ctx context.Context, db *sql.DB, q string, views map[string]View) error {
	pairs, err := scanPairs(ctx, db, q)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if v, ok := views[p[0]]; ok {
			v.Columns = append(v.Columns, p[1])
			views[p[0]] = v
		}
	}
	return nil
}

type postgresExtras struct{}

func (postgresExtras) foreignKeys(ctx context.Context, db *sql.DB, s *Schema) error {
	rows, err := scanFKs(ctx, db, `
		SELECT con.conname, c.relname, a.attname, rc.relname, ra.attname,
		       CASE con.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END,
		       CASE con.confupdtype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END
		FROM pg_constraint con
		JOIN pg_class c ON c.oid = con.conrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_class rc ON rc.oid = con.confrelid
		CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY k(col, refcol, ord)
		JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col
		JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refcol
		WHERE con.contype = 'f' AND n.nspname = current_schema()
		ORDER BY c.relname, con.conname, k.ord`)
	if err != nil {
		return err
	}
	addForeignKeys(s, rows)
	return nil
}

// pgCheck strips the CHECK (...) around a constraint's definition.
var pgCheck = regexp.MustCompile(`^CHECK \((.*)\)( NOT VALID)?$`)

func (postgresExtras) checks(ctx context.Context, db *sql.DB, s *Schema) error {
	rows, err := db.QueryContext(ctx, `
		SELECT c.relname, pg_get_constraintdef(con.oid)
		FROM pg_constraint con
		JOIN pg_class c ON c.oid = con.conrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE con.contype = 'c' AND n.nspname = current_schema()
		ORDER BY c.relname, 2`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var table, def string
		if err := rows.Scan(&table, &def); err != nil {
			return err
		}
		t, ok := s.Tables[table]
		if !ok {
			continue
		}
		if m := pgCheck.FindStringSubmatch(def); m != nil {
			def = stripParens(m[1])
		}
		t.Constraints.Check = append(t.Constraints.Check, def)
		s.Tables[table] = t
	}
	return rows.Err()
}

// stripParens removes parentheses around the whole of s: PostgreSQL
// writes CHECK ((amount >= 0)), a description "amount >= 0".
func stripParens(s string) string {
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		depth := 0
		for i, r := range s {
			switch r {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 && i < len(s)-1 {
				return s // the first parenthesis closes before the end
			}
		}
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

func (postgresExtras) views(ctx context.Context, db *sql.DB) (map[string]View, error) {
	pairs, err := scanPairs(ctx, db, `SELECT c.relname, pg_get_viewdef(c.oid)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('v', 'm') AND n.nspname = current_schema() ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	views := map[string]View{}
	for _, p := range pairs {
		views[p[0]] = View{Definition: normalizeSpace(strings.TrimSuffix(strings.TrimSpace(p[1]), ";"))}
	}
	if err := viewColumns(ctx, db, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`, views); err != nil {
		return nil, err
	}
	return nilIfEmpty(views), nil
}

func (postgresExtras) procedures(ctx context.Context, db *sql.DB) ([]Procedure, error) {
	// Functions that belong to an extension are the extension's, not the
	// application's: leave them out.
	rows, err := db.QueryContext(ctx, `
		SELECT p.proname, pg_get_function_identity_arguments(p.oid), coalesce(p.prosrc, '')
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p')
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Procedure
	seen := map[string]int{}
	for rows.Next() {
		var name, args, body string
		if err := rows.Scan(&name, &args, &body); err != nil {
			return nil, err
		}
		// Overloads share a name; the description keys procedures by name.
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s(%s)", name, args)
		}
		out = append(out, Procedure{Name: name, Parameters: splitParams(args), Definition: strings.TrimSpace(body)})
	}
	return out, rows.Err()
}

func splitParams(args string) []any {
	var out []any
	for _, a := range strings.Split(args, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

type mysqlExtras struct{}

func (mysqlExtras) foreignKeys(ctx context.Context, db *sql.DB, s *Schema) error {
	rows, err := scanFKs(ctx, db, `
		SELECT k.CONSTRAINT_NAME, k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME,
		       r.DELETE_RULE, r.UPDATE_RULE
		FROM information_schema.KEY_COLUMN_USAGE k
		JOIN information_schema.REFERENTIAL_CONSTRAINTS r
		  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
		WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
		ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`)
	if err != nil {
		return err
	}
	// InnoDB's RESTRICT is its NO ACTION, which MariaDB reports as RESTRICT.
	for i := range rows {
		for _, a := range []*string{&rows[i].onDelete, &rows[i].onUpdate} {
			if strings.EqualFold(*a, "RESTRICT") {
				*a = "NO ACTION"
			}
		}
	}
	addForeignKeys(s, rows)
	return nil
}

// checks are not read on MySQL/MariaDB: MariaDB adds its own json_valid()
// checks to JSON columns, and older servers have no CHECK_CONSTRAINTS.
func (mysqlExtras) checks(context.Context, *sql.DB, *Schema) error { return nil }

func (mysqlExtras) views(ctx context.Context, db *sql.DB) (map[string]View, error) {
	pairs, err := scanPairs(ctx, db, `SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS
		WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	views := map[string]View{}
	for _, p := range pairs {
		views[p[0]] = View{Definition: normalizeSpace(p[1])}
	}
	if err := viewColumns(ctx, db, `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`, views); err != nil {
		return nil, err
	}
	return nilIfEmpty(views), nil
}

func (mysqlExtras) procedures(ctx context.Context, db *sql.DB) ([]Procedure, error) {
	pairs, err := scanPairs(ctx, db, `SELECT ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES
		WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	params, err := db.QueryContext(ctx, `SELECT SPECIFIC_NAME, concat_ws(' ', PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER)
		FROM information_schema.PARAMETERS
		WHERE SPECIFIC_SCHEMA = DATABASE() AND ORDINAL_POSITION > 0 ORDER BY SPECIFIC_NAME, ORDINAL_POSITION`)
	if err != nil {
		return nil, err
	}
	defer params.Close()
	byName := map[string][]any{}
	for params.Next() {
		var name, p string
		if err := params.Scan(&name, &p); err != nil {
			return nil, err
		}
		byName[name] = append(byName[name], p)
	}
	if err := params.Err(); err != nil {
		return nil, err
	}
	var out []Procedure
	for _, p := range pairs {
		out = append(out, Procedure{Name: p[0], Parameters: byName[p[0]], Definition: strings.TrimSpace(p[1])})
	}
	return out, nil
}

type sqliteExtras struct{}

func (sqliteExtras) foreignKeys(ctx context.Context, db *sql.DB, s *Schema) error {
	var rows []fkRow
	for _, table := range slices.Sorted(maps.Keys(s.Tables)) {
		r, err := db.QueryContext(ctx, `SELECT id, "table", "from", coalesce("to", ''), on_update, on_delete
			FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table)
		if err != nil {
			return err
		}
		for r.Next() {
			var id int
			row := fkRow{table: table}
			if err := r.Scan(&id, &row.refTable, &row.column, &row.refColumn, &row.onUpdate, &row.onDelete); err != nil {
				r.Close()
				return err
			}
			row.name = strconv.Itoa(id)
			rows = append(rows, row)
		}
		r.Close()
		if err := r.Err(); err != nil {
			return err
		}
	}
	// A key naming no column references the other table's primary key.
	for i, r := range rows {
		if r.refColumn == "" {
			if t, ok := s.Tables[r.refTable]; ok && len(t.Constraints.PrimaryKey) == 1 {
				rows[i].refColumn = t.Constraints.PrimaryKey[0]
			}
		}
	}
	addForeignKeys(s, rows)
	return nil
}

// checks are not read on SQLite: they exist only inside each table's
// CREATE TABLE text.
func (sqliteExtras) checks(context.Context, *sql.DB, *Schema) error { return nil }

var sqliteViewHead = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:TEMP\w*\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?\S+\s+(?:\([^)]*\)\s+)?AS\s+`)

func (sqliteExtras) views(ctx context.Context, db *sql.DB) (map[string]View, error) {
	pairs, err := scanPairs(ctx, db, `SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	views := map[string]View{}
	for _, p := range pairs {
		v := View{Definition: normalizeSpace(sqliteViewHead.ReplaceAllString(p[1], ""))}
		cols, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, p[0])
		if err != nil {
			return nil, err
		}
		for cols.Next() {
			var c string
			if err := cols.Scan(&c); err != nil {
				cols.Close()
				return nil, err
			}
			v.Columns = append(v.Columns, c)
		}
		cols.Close()
		views[p[0]] = v
	}
	return nilIfEmpty(views), nil
}

func (sqliteExtras) procedures(context.Context, *sql.DB) ([]Procedure, error) { return nil, nil }

func nilIfEmpty(m map[string]View) map[string]View {
	if len(m) == 0 {
		return nil
	}
	return m
}
