package compat

import (
	"fmt"
	"regexp"
	"strings"
)

// A column's on-update expression (MySQL's ON UPDATE CURRENT_TIMESTAMP) is
// its own attribute, not part of its default: MySQL declares it on the
// column; PostgreSQL and SQLite have no such clause, so a trigger sets the
// column on every UPDATE that leaves it unchanged, as MySQL does. The
// trigger (and PostgreSQL's trigger function) is named after the table and
// column (users_updated_at_on_update) so the rollback SQL can drop it.

// defaultOnUpdate splits MySQL's "CURRENT_TIMESTAMP ON UPDATE
// CURRENT_TIMESTAMP", written as a default, into its two parts.
var defaultOnUpdate = regexp.MustCompile(`(?is)^\s*(.*?)\s+ON\s+UPDATE\s+(.+?)\s*$`)

// splitOnUpdate moves an ON UPDATE clause written into the default to
// OnUpdate, so the default is a default in every dialect.
func splitOnUpdate(c Column) Column {
	s, ok := c.Default.(string)
	if !ok {
		return c
	}
	if m := defaultOnUpdate.FindStringSubmatch(s); m != nil {
		c.Default = m[1]
		if c.OnUpdate == "" {
			c.OnUpdate = m[2]
		}
	}
	c.OnUpdate = normalizeSpace(c.OnUpdate)
	return c
}

func onUpdateName(table, col string) string { return objectName(table, []string{col}, "on_update") }

// onUpdateTrigger is what makes column col of table take its on-update
// expression on PostgreSQL and SQLite (MySQL's column definition carries
// it: nothing here). The column keeps a value an UPDATE sets explicitly.
func (d Dialect) onUpdateTrigger(table, col string, c Column) []string {
	if c.OnUpdate == "" {
		return nil
	}
	name := d.ident(onUpdateName(table, col))
	q := d.ident(col)
	switch d {
	case Postgres:
		return []string{
			fmt.Sprintf("CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN IF NEW.%s IS NOT DISTINCT FROM OLD.%s AND NEW IS DISTINCT FROM OLD THEN NEW.%s := %s; END IF; RETURN NEW; END$$;",
				name, q, q, q, c.OnUpdate),
			fmt.Sprintf("CREATE TRIGGER %s BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s();", name, d.ident(table), name),
		}
	case SQLite:
		// An AFTER trigger writing the row again: SQLite cannot assign
		// NEW. Recursive triggers are off, so it does not fire itself.
		return []string{fmt.Sprintf("CREATE TRIGGER %s AFTER UPDATE ON %s FOR EACH ROW WHEN NEW.%s IS OLD.%s BEGIN UPDATE %s SET %s = %s WHERE rowid = NEW.rowid; END;",
			name, d.ident(table), q, q, d.ident(table), q, c.OnUpdate)}
	}
	return nil
}

// dropOnUpdateTrigger removes what onUpdateTrigger made.
func (d Dialect) dropOnUpdateTrigger(table, col string) []string {
	name := d.ident(onUpdateName(table, col))
	switch d {
	case Postgres:
		return []string{
			fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s;", name, d.ident(table)),
			fmt.Sprintf("DROP FUNCTION IF EXISTS %s();", name),
		}
	case SQLite:
		return []string{fmt.Sprintf("DROP TRIGGER IF EXISTS %s;", name)}
	}
	return nil
}

// onUpdateTriggers are the triggers of every on-update column of t.
func (d Dialect) onUpdateTriggers(table string, t Table) []string {
	var out []string
	for _, col := range columnOrder(t) {
		out = append(out, d.onUpdateTrigger(table, col, t.Columns[col])...)
	}
	return out
}

// dropTable drops a table and, on PostgreSQL, the trigger functions of its
// on-update columns, which outlive the table.
func (d Dialect) dropTable(table string, t Table) string {
	stmts := []string{fmt.Sprintf("DROP TABLE %s;", d.ident(table))}
	if d == Postgres {
		for _, col := range columnOrder(t) {
			if t.Columns[col].OnUpdate != "" {
				stmts = append(stmts, fmt.Sprintf("DROP FUNCTION IF EXISTS %s();", d.ident(onUpdateName(table, col))))
			}
		}
	}
	return strings.Join(stmts, "\n")
}

// onUpdateExists says ok when the column's on-update is in place (want
// true) or gone (want false).
func (d Dialect) onUpdateExists(table, col string, want bool) string {
	name := onUpdateName(table, col)
	switch d {
	case MySQL:
		return fmt.Sprintf("SELECT %s(lower(EXTRA) LIKE '%%on update%%') AS ok FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s;",
			notIf(!want), literal(table), literal(col))
	case SQLite:
		return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = %s) AS ok;", notIf(!want), literal(name))
	}
	return fmt.Sprintf("SELECT %sEXISTS (SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = %s::regclass) AS ok;", notIf(!want), literal(name), literal(table))
}

// onUpdateChanged reports a column whose on-update expression was added,
// removed or changed, with the SQL that sets and restores it.
func (c *comparison) onUpdateChanged(table, name, path string, b, a Column, key string) {
	d := c.opts.Dialect
	typ, desc := "column_on_update_changed", fmt.Sprintf("on-update of %s.%s changed from %s to %s", table, name, b.OnUpdate, a.OnUpdate)
	impact := "UPDATEs that leave the column unchanged set it to the new expression"
	switch {
	case b.OnUpdate == "":
		typ, desc = "column_on_update_added", fmt.Sprintf("%s.%s set to %s on every UPDATE", table, name, a.OnUpdate)
	case a.OnUpdate == "":
		typ, desc = "column_on_update_removed", fmt.Sprintf("%s.%s no longer set to %s on UPDATE", table, name, b.OnUpdate)
		impact = "UPDATEs no longer touch the column: writers that relied on it must set it themselves"
	}
	// The column as the other steps left it (MySQL restates it whole).
	now := mixColumn(b, a, 3)
	set := func(from, to string) string {
		if d == MySQL {
			col := now
			col.OnUpdate = to
			return d.alterTable(table, "MODIFY COLUMN "+d.columnDef(name, col))
		}
		var stmts []string
		if from != "" {
			stmts = append(stmts, d.dropOnUpdateTrigger(table, name)...)
		}
		col := now
		col.OnUpdate = to
		stmts = append(stmts, d.onUpdateTrigger(table, name, col)...)
		return strings.Join(stmts, "\n")
	}
	c.add(Issue{
		Type: typ, Severity: NonBreaking, FieldPath: path + ".on_update",
		Description: desc, OldValue: b.OnUpdate, NewValue: a.OnUpdate, Impact: impact,
		AffectedOperations: []string{"UPDATE"},
	}, staged{stage: stAlterColumn, key: key, script: Script{
		ForwardSQL:      set(b.OnUpdate, a.OnUpdate),
		RollbackSQL:     set(a.OnUpdate, b.OnUpdate),
		ValidationQuery: d.onUpdateExists(table, name, a.OnUpdate != ""),
	}})
}
