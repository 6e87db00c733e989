package compat

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// mixColumn is column b with the first steps of its change to a made:
// step 0 the type, 1 the generator (auto-increment), 2 the default, 3
// the nullability. MySQL restates a whole column to change any of them
// (MODIFY COLUMN), so each step's script writes the column as it is at
// that step, and the rollback as it was before it.
func mixColumn(b, a Column, step int) Column {
	out := b
	if step >= 0 {
		out.Type, out.Length, out.Precision, out.Scale = a.Type, a.Length, a.Precision, a.Scale
	}
	if step >= 1 {
		out.AutoIncrement = a.AutoIncrement
	}
	if step >= 2 {
		out.Default = a.Default
	}
	if step >= 3 {
		out.Nullable = a.Nullable
	}
	return out
}

// setNotNull makes the column NOT NULL; col is the column as it is then
// (MySQL restates it).
func (d Dialect) setNotNull(table, name string, col Column) string {
	if d == MySQL {
		f := false
		col.Nullable = &f
		return d.alterTable(table, "MODIFY COLUMN "+d.columnDef(name, col))
	}
	return d.alterTable(table, fmt.Sprintf("ALTER COLUMN %s SET NOT NULL", d.ident(name)))
}

// setNullable lets the column hold NULL; col is the column as it is then.
func (d Dialect) setNullable(table, name string, col Column) string {
	if d == MySQL {
		t := true
		col.Nullable = &t
		return d.alterTable(table, "MODIFY COLUMN "+d.columnDef(name, col))
	}
	return d.alterTable(table, fmt.Sprintf("ALTER COLUMN %s DROP NOT NULL", d.ident(name)))
}

func (d Dialect) notNullQuery(table, name string) string {
	switch d {
	case MySQL:
		return fmt.Sprintf("SELECT IS_NULLABLE = 'NO' AS ok FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s;", literal(table), literal(name))
	case SQLite:
		return fmt.Sprintf(`SELECT "notnull" = 1 AS ok FROM pragma_table_info(%s) WHERE name = %s;`, literal(table), literal(name))
	}
	return fmt.Sprintf("SELECT is_nullable = 'NO' AS ok FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s AND column_name = %s;", literal(table), literal(name))
}

// mysqlColumnType is the LIKE pattern information_schema's COLUMN_TYPE
// matches for a type as typeSQL writes it (boolean is tinyint(1), an
// integer carries a display width on older servers).
func mysqlColumnType(t string) string {
	switch t {
	case "boolean":
		return "tinyint(1)"
	case "smallint", "integer", "bigint":
		return strings.TrimSuffix(t, "eger") + "%"
	}
	return t
}

// constantDefault reports whether a column's default is a constant, the
// only default SQLite's ADD COLUMN accepts.
func constantDefault(c Column) bool {
	v := defaultSQL(c)
	return v != "" && !functionCall.MatchString(v) && !sqlKeywords[strings.ToUpper(v)] || strings.EqualFold(v, "NULL")
}

// rebuildPrefix names the table a SQLite rebuild creates before it takes
// the old one's name.
const rebuildPrefix = "_godwit_new_"

// foldRebuilds replaces, on SQLite, the scripts of every change to a table
// that SQLite's ALTER TABLE cannot make with one rebuild of the table:
// the issues stay as they are, each without scripts, and the rebuild
// script carries the table's whole change (columns renamed, added,
// dropped and changed, keys, checks, indexes). A table added, removed or
// renamed keeps its own script; the rebuild runs after it.
func (c *comparison) foldRebuilds() {
	if c.opts.Dialect != SQLite || len(c.rebuild) == 0 {
		return
	}
	// What the rollbacks of the folded scripts warned of, the rollback of
	// the rebuild warns of.
	dataLoss := map[string]bool{}
	rollbackChecks := map[string][]string{}
	for i, ch := range c.changes {
		if ch.table != "" && !ch.tableLevel && c.rebuild[ch.table] {
			for _, s := range ch.scripts {
				dataLoss[ch.table] = dataLoss[ch.table] || s.script.DataLoss
				if q := s.script.RollbackPrecheckQuery; q != "" {
					rollbackChecks[ch.table] = append(rollbackChecks[ch.table], q)
				}
			}
			c.changes[i].scripts = nil
		}
	}
	tables := make([]string, 0, len(c.rebuild))
	for t := range c.rebuild {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		p := c.tablePairs[t]
		undo := map[string]string{}
		for from, to := range p.renames {
			undo[to] = from
		}
		c.changes = append(c.changes, change{noIssue: true, scripts: []staged{{stage: stAlterColumn, key: "tables." + t, script: Script{
			FieldPath:             "tables." + t,
			Description:           fmt.Sprintf("rebuild table %s with its new definition (SQLite's ALTER TABLE cannot make these changes)", t),
			ForwardSQL:            SQLite.rebuildTable(t, p.before, p.after, p.renames),
			RollbackSQL:           SQLite.rebuildTable(t, p.after, p.before, undo),
			ValidationQuery:       sqliteColumnsQuery(t, p.after),
			RollbackPrecheckQuery: sumCounts(rollbackChecks[t]),
			DataLoss:              dataLoss[t],
		}}}})
	}
}

// rebuildTable is SQLite's way to change a table beyond adding, renaming
// and dropping columns (https://www.sqlite.org/lang_altertable.html,
// "other kinds of table schema changes"): with foreign keys off, create
// the new table under another name, copy the rows, drop the old table,
// rename the new one, create its indexes. Columns keep their values
// across renames (renames: old name → new name); a column that becomes
// NOT NULL takes its default (else a placeholder of its type) where it was
// NULL; a new NOT NULL column without a default takes the placeholder.
// legacy_alter_table keeps the rename from checking views that name the
// table while it is away. foreign_keys is a no-op inside a transaction:
// run the script outside one.
func (d Dialect) rebuildTable(table string, from, to Table, renames map[string]string) string {
	tmp := rebuildPrefix + table
	create := d.createTableAs(tmp, table, to)
	source := map[string]string{}
	for col := range from.Columns {
		if n, ok := renames[col]; ok {
			source[n] = col
		} else {
			source[col] = col
		}
	}
	var cols, exprs []string
	for _, name := range columnOrder(to) {
		col := to.Columns[name]
		src, ok := source[name]
		fill := defaultSQL(col)
		if fill == "" {
			fill = backfillValue(col)
		}
		switch {
		case ok && !col.nullable() && from.Columns[src].nullable() && fill != "":
			exprs = append(exprs, fmt.Sprintf("coalesce(%s, %s)", d.ident(src), fill))
		case ok:
			exprs = append(exprs, d.ident(src))
		case !col.nullable() && defaultSQL(col) == "" && !col.AutoIncrement && fill != "":
			exprs = append(exprs, fill)
		default:
			continue // the new column takes its default
		}
		cols = append(cols, d.ident(name))
	}
	stmts := []string{
		"PRAGMA foreign_keys = OFF;",
		"PRAGMA legacy_alter_table = ON;",
		create[0],
		fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s;", d.ident(tmp), strings.Join(cols, ", "), strings.Join(exprs, ", "), d.ident(table)),
		fmt.Sprintf("DROP TABLE %s;", d.ident(table)),
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s;", d.ident(tmp), d.ident(table)),
	}
	stmts = append(stmts, create[1:]...)
	stmts = append(stmts, "PRAGMA legacy_alter_table = OFF;", "PRAGMA foreign_keys = ON;")
	return strings.Join(stmts, "\n")
}

// sqliteColumnsQuery says ok when the table has exactly t's columns.
func sqliteColumnsQuery(table string, t Table) string {
	names := slices.Sorted(maps.Keys(t.Columns))
	lits := make([]string, len(names))
	for i, n := range names {
		lits[i] = literal(n)
	}
	return fmt.Sprintf("SELECT count(*) = %d AND sum(name IN (%s)) = %d AS ok FROM pragma_table_info(%s);",
		len(names), strings.Join(lits, ", "), len(names), literal(table))
}

// sumCounts makes one query of several "SELECT count(*) ...;" queries: the
// sum of their counts; "" for none.
func sumCounts(queries []string) string {
	switch len(queries) {
	case 0:
		return ""
	case 1:
		return queries[0]
	}
	parts := make([]string, len(queries))
	for i, q := range queries {
		parts[i] = "(" + strings.TrimSuffix(strings.TrimSpace(q), ";") + ")"
	}
	return "SELECT " + strings.Join(parts, " + ") + ";"
}
