package compat

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/godwit/godwit/suggest"
)

// Options tune a schema comparison.
type Options struct {
	// Dialect of the generated SQL; empty means PostgreSQL.
	Dialect Dialect
	// NoRenames turns off rename detection: a renamed column is then
	// reported as one removed and one added.
	NoRenames bool
	// Before and After name the two versions in the report.
	Before, After string
}

// stage orders the scripts so each runs after what it depends on: views
// and constraints that depend on a column go before the column, tables
// before the constraints that reference them.
type stage int

const (
	// Views go first (their old definitions name old columns), then
	// renames: later steps name objects by their new names.
	stDropView stage = iota
	stRenameTable
	stRenameColumn
	stDropForeignKey
	stDropConstraint
	stCreateTable
	stAddColumn
	stAlterColumn
	stDropColumn
	stDropTable
	stAddConstraint
	stAddIndex
	stAddForeignKey
	stCreateView
)

// change is one finding with its scripts, before sorting.
type change struct {
	issue   Issue
	scripts []staged
	// table is the (after) table the change belongs to, "" for views and
	// procedures; tableLevel marks a table added, removed or renamed.
	table      string
	tableLevel bool
	// noIssue marks scripts that belong to no single issue (a rebuild).
	noIssue bool
}

type staged struct {
	stage stage
	// key orders scripts within a stage.
	key    string
	script Script
}

// comparison holds the state of one CompareSchemas call.
type comparison struct {
	before, after *Schema
	opts          Options
	changes       []change
	// rebuild lists the tables SQLite must rebuild, and tablePairs what
	// the rebuild needs of each table compared.
	rebuild    map[string]bool
	tablePairs map[string]tablePair
}

// tablePair is a table present in both versions: its definitions and the
// columns renamed (old name → new name).
type tablePair struct {
	before, after Table
	renames       map[string]string
}

// CompareSchemas reports every change from before to after, with its
// severity and the SQL that applies and undoes it. Both schemas must have
// been loaded by LoadSchema or ParseSchema (or normalized).
func CompareSchemas(before, after *Schema, opts Options) *Report {
	if opts.Dialect == "" {
		opts.Dialect = Postgres
	}
	c := &comparison{before: before, after: after, opts: opts, rebuild: map[string]bool{}, tablePairs: map[string]tablePair{}}
	c.tables()
	c.views()
	c.procedures()
	c.foldRebuilds()
	r := &Report{Kind: "schema", Before: opts.Before, After: opts.After, Dialect: opts.Dialect}
	r.Warnings = append(append(r.Warnings, before.Warnings...), after.Warnings...)
	var all []staged
	for _, ch := range c.changes {
		if !ch.noIssue {
			r.Issues = append(r.Issues, ch.issue)
		}
		all = append(all, ch.scripts...)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].stage != all[j].stage {
			return all[i].stage < all[j].stage
		}
		return all[i].key < all[j].key
	})
	added := addedColumns(before, after)
	for i, s := range all {
		s.script.Order = i + 1
		s.script = markAfterExpand(s.script, added)
		r.MigrationScripts = append(r.MigrationScripts, s.script)
	}
	r.finish()
	return r
}

func (c *comparison) add(issue Issue, scripts ...staged) {
	for i := range scripts {
		if scripts[i].script.FieldPath == "" {
			scripts[i].script.FieldPath = issue.FieldPath
		}
		if scripts[i].script.Description == "" {
			scripts[i].script.Description = issue.Description
		}
		if scripts[i].key == "" {
			scripts[i].key = issue.FieldPath
		}
	}
	ch := change{issue: issue, scripts: scripts}
	if rest, ok := strings.CutPrefix(issue.FieldPath, "tables."); ok {
		ch.table, _, _ = strings.Cut(rest, ".")
		ch.tableLevel = !strings.Contains(rest, ".")
	}
	c.changes = append(c.changes, ch)
}

// needRebuild records that SQLite cannot make a change of table in place
// (its ALTER TABLE adds, renames and drops columns, nothing else); it
// reports whether it did, i.e. whether the dialect is SQLite.
func (c *comparison) needRebuild(table string) bool {
	if c.opts.Dialect != SQLite {
		return false
	}
	c.rebuild[table] = true
	return true
}

// ---- tables ----

func (c *comparison) tables() {
	var removed, added []string
	for _, n := range slices.Sorted(maps.Keys(c.before.Tables)) {
		if _, ok := c.after.Tables[n]; !ok {
			removed = append(removed, n)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(c.after.Tables)) {
		if _, ok := c.before.Tables[n]; !ok {
			added = append(added, n)
		}
	}
	renames := map[string]string{}
	if !c.opts.NoRenames {
		renames = pairRenames(removed, added, func(r, a string) bool {
			return sameColumns(c.before.Tables[r], c.after.Tables[a])
		}, false)
	}
	renamedTo := map[string]bool{}
	for _, r := range removed {
		if a, ok := renames[r]; ok {
			renamedTo[a] = true
			c.tableRenamed(r, a)
			continue
		}
		c.tableRemoved(r)
	}
	for i, a := range topoOrder(added, c.after) {
		if !renamedTo[a] {
			c.tableAdded(a, i)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(c.before.Tables)) {
		if _, ok := c.after.Tables[n]; ok {
			c.table(n, c.before.Tables[n], n, c.after.Tables[n])
		}
	}
}

// sameColumns reports whether two tables have the same columns, by name
// and definition: the evidence for a table rename.
func sameColumns(a, b Table) bool {
	if len(a.Columns) != len(b.Columns) || len(a.Columns) == 0 {
		return false
	}
	for n, col := range a.Columns {
		other, ok := b.Columns[n]
		if !ok || columnDef(n, col) != columnDef(n, other) {
			return false
		}
	}
	return true
}

// pairRenames pairs removed and added names that match and, when
// needSimilarName, have similar names; a name with more than one candidate
// is ambiguous and not paired.
func pairRenames(removed, added []string, match func(r, a string) bool, needSimilarName bool) map[string]string {
	cands := map[string][]string{}
	back := map[string][]string{}
	for _, r := range removed {
		for _, a := range added {
			if match(r, a) && (!needSimilarName || similarNames(r, a)) {
				cands[r] = append(cands[r], a)
				back[a] = append(back[a], r)
			}
		}
	}
	pairs := map[string]string{}
	for r, as := range cands {
		if len(as) == 1 && len(back[as[0]]) == 1 {
			pairs[r] = as[0]
		}
	}
	return pairs
}

// similarNames is the name evidence for a column rename: one name holds
// the other (email, email_address), they share a word (user_name,
// customer_name), or they are a small edit apart (username, user_name).
// Two columns with the same type and unrelated names (legacy_flag,
// is_active) are not taken for a rename: a wrong guess would carry the
// old values into a column that means something else.
func similarNames(a, b string) bool {
	la, lb := strings.ToLower(a), strings.ToLower(b)
	if strings.Contains(la, lb) || strings.Contains(lb, la) {
		return true
	}
	if suggest.Distance(la, lb) <= max(1, min(len(la), len(lb))/4) {
		return true
	}
	words := map[string]bool{}
	for _, w := range strings.Split(la, "_") {
		if len(w) > 2 && w != "is" && w != "id" {
			words[w] = true
		}
	}
	for _, w := range strings.Split(lb, "_") {
		if words[w] {
			return true
		}
	}
	return false
}

// topoOrder orders new tables so a table comes after the new tables its
// foreign keys reference (cycles keep their name order).
func topoOrder(names []string, s *Schema) []string {
	in := map[string]bool{}
	for _, n := range names {
		in[n] = true
	}
	var out []string
	done, visiting := map[string]bool{}, map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		if done[n] || visiting[n] {
			return
		}
		visiting[n] = true
		for _, fk := range s.Tables[n].Constraints.ForeignKey {
			if ref, _, ok := parseReference(fk.References); ok && in[ref] && ref != n {
				visit(ref)
			}
		}
		visiting[n] = false
		done[n] = true
		out = append(out, n)
	}
	for _, n := range names {
		visit(n)
	}
	return out
}

func (c *comparison) tableAdded(name string, order int) {
	d := c.opts.Dialect
	t := c.after.Tables[name]
	c.add(Issue{
		Type: "table_added", Severity: Additive, FieldPath: "tables." + name,
		Description: fmt.Sprintf("table %s added with %d column(s)", name, len(t.Columns)),
		NewValue:    columnOrder(t),
		Impact:      "none for existing code: nothing uses the table yet",
	}, staged{stage: stCreateTable, key: fmt.Sprintf("%04d", order), script: Script{
		ForwardSQL:      d.createTable(name, t),
		RollbackSQL:     d.dropTable(name, t),
		ValidationQuery: d.tableExists(name, true),
	}})
}

func (c *comparison) tableRemoved(name string) {
	d := c.opts.Dialect
	t := c.before.Tables[name]
	c.add(Issue{
		Type: "table_removed", Severity: Breaking, FieldPath: "tables." + name,
		Description:        fmt.Sprintf("table %s removed", name),
		OldValue:           columnOrder(t),
		Impact:             "every query that reads or writes the table fails; its data is deleted",
		SuggestedMigration: "stop every use of the table first; keep a backup: the rollback recreates it empty",
		AffectedOperations: []string{"SELECT", "INSERT", "UPDATE", "DELETE"},
	}, staged{stage: stDropTable, key: reverseKey(name, c.before), script: Script{
		ForwardSQL:      d.dropTable(name, t),
		RollbackSQL:     d.createTable(name, t),
		ValidationQuery: d.tableExists(name, false),
		DataLoss:        true,
	}})
}

// reverseKey orders dropped tables so a table that references another is
// dropped first.
func reverseKey(name string, s *Schema) string {
	names := slices.Sorted(maps.Keys(s.Tables))
	order := topoOrder(names, s)
	for i, n := range order {
		if n == name {
			return fmt.Sprintf("%04d", len(order)-i)
		}
	}
	return name
}

func (c *comparison) tableRenamed(from, to string) {
	d := c.opts.Dialect
	bt := c.before.Tables[from]
	forward := []string{d.alterTable(from, "RENAME TO "+d.ident(to))}
	rollback := []string{d.alterTable(to, "RENAME TO "+d.ident(from))}
	// Engines keep constraint names on a rename; rename the derived ones
	// so the result matches a table created under the new name.
	for _, p := range constraintNames(from, bt, to, bt) {
		if fwd := d.renameConstraint(to, bt, p, false); fwd != "" {
			forward = append(forward, fwd)
			rollback = append([]string{d.renameConstraint(to, bt, p, true)}, rollback...)
		}
	}
	c.add(Issue{
		Type: "table_renamed", Severity: Breaking, FieldPath: "tables." + to,
		Description: fmt.Sprintf("table %s renamed to %s (same columns; detected as a rename)", from, to),
		OldValue:    from, NewValue: to,
		Impact:             fmt.Sprintf("queries that name %s fail", from),
		SuggestedMigration: fmt.Sprintf("expand–contract: create %s, dual-write, backfill, switch reads, drop %s; or leave a view named %s during the release", to, from, from),
		AffectedOperations: []string{"SELECT", "INSERT", "UPDATE", "DELETE"},
	}, staged{stage: stRenameTable, script: Script{
		ForwardSQL:      strings.Join(forward, "\n"),
		RollbackSQL:     strings.Join(rollback, "\n"),
		ValidationQuery: d.tableExists(to, true),
	}})
	c.table(to, bt, to, c.after.Tables[to])
}

// constraintNames pairs the derived names of t's constraints under table
// name a (columns as in ta) with their names under b (columns as in tb),
// for those that differ. ta and tb list the same constraints in the same
// order.
func constraintNames(a string, ta Table, b string, tb Table) []renamedConstraint {
	var out []renamedConstraint
	add := func(r renamedConstraint) {
		if r.from != r.to {
			out = append(out, r)
		}
	}
	if len(ta.Constraints.PrimaryKey) > 0 {
		add(renamedConstraint{kind: "pk", from: pkName(a), to: pkName(b)})
	}
	for i := range ta.Constraints.Unique {
		add(renamedConstraint{kind: "unique", from: uniqueName(a, ta.Constraints.Unique[i]), to: uniqueName(b, tb.Constraints.Unique[i]), cols: tb.Constraints.Unique[i]})
	}
	for i := range ta.Constraints.ForeignKey {
		add(renamedConstraint{kind: "fk", from: fkName(a, ta.Constraints.ForeignKey[i].Columns), to: fkName(b, tb.Constraints.ForeignKey[i].Columns), fk: tb.Constraints.ForeignKey[i]})
	}
	for i := range ta.Constraints.Check {
		add(renamedConstraint{kind: "check", from: checkName(a, ta.Constraints.Check[i]), to: checkName(b, tb.Constraints.Check[i]), check: tb.Constraints.Check[i]})
	}
	return out
}

// renamedConstraint is a constraint whose derived name changes, with what
// re-creating it takes on engines that cannot rename it (written with the
// columns' new names, which they have whenever it is renamed).
type renamedConstraint struct {
	kind, from, to string
	cols           []string
	fk             ForeignKey
	check          string
}

// renameConstraint renames r on table (whose definition is t), back when
// undo; "" when the engine has nothing to rename. MySQL renames indexes
// (so unique constraints) but re-creates foreign keys and checks; its
// primary key is always named PRIMARY. SQLite renames a unique
// constraint's index; the names of its other constraints live only in the
// CREATE TABLE text and are left as they are.
func (d Dialect) renameConstraint(table string, t Table, r renamedConstraint, undo bool) string {
	from, to := r.from, r.to
	if undo {
		from, to = to, from
	}
	switch d {
	case Postgres:
		return d.alterTable(table, fmt.Sprintf("RENAME CONSTRAINT %s TO %s", d.ident(from), d.ident(to)))
	case MySQL:
		switch r.kind {
		case "unique":
			return d.alterTable(table, fmt.Sprintf("RENAME INDEX %s TO %s", d.ident(from), d.ident(to)))
		case "fk":
			stmts := []string{d.alterTable(table, "DROP FOREIGN KEY "+d.ident(from))}
			if needsFKIndex(t, r.fk) {
				stmts = append(stmts, d.alterTable(table, fmt.Sprintf("RENAME INDEX %s TO %s", d.ident(from), d.ident(to))))
			}
			stmts = append(stmts, d.alterTable(table, fmt.Sprintf("ADD CONSTRAINT %s %s", d.ident(to), d.fkClause(r.fk))))
			return strings.Join(stmts, "\n")
		case "check":
			return d.alterTable(table, fmt.Sprintf("DROP CONSTRAINT %s", d.ident(from))) + "\n" +
				d.alterTable(table, fmt.Sprintf("ADD CONSTRAINT %s CHECK (%s)", d.ident(to), r.check))
		}
	case SQLite:
		if r.kind == "unique" {
			return d.dropIndex(table, from) + "\n" +
				fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s);", d.ident(to), d.ident(table), d.idents(r.cols))
		}
	}
	return ""
}

// table compares one table present in both versions (under name bn
// before and an after).
func (c *comparison) table(bn string, bt Table, an string, at Table) {
	path := "tables." + an
	var removed, added []string
	for _, n := range slices.Sorted(maps.Keys(bt.Columns)) {
		if _, ok := at.Columns[n]; !ok {
			removed = append(removed, n)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(at.Columns)) {
		if _, ok := bt.Columns[n]; !ok {
			added = append(added, n)
		}
	}
	renames := map[string]string{}
	if !c.opts.NoRenames {
		renames = pairRenames(removed, added, func(r, a string) bool {
			return columnDef("x", bt.Columns[r]) == columnDef("x", at.Columns[a])
		}, true)
	}
	c.tablePairs[an] = tablePair{before: bt, after: at, renames: renames}
	// Compare constraints as if the renames had happened, since the
	// database carries them over.
	renamed := renameColumns(bt, renames)
	for _, r := range removed {
		if a, ok := renames[r]; ok {
			c.columnRenamed(an, bt, renamed, r, a)
		} else {
			c.columnRemoved(an, r, bt.Columns[r], at)
		}
	}
	isRenamed := map[string]bool{}
	for _, a := range renames {
		isRenamed[a] = true
	}
	for _, a := range added {
		if !isRenamed[a] {
			c.columnAdded(an, a, at.Columns[a])
		}
	}
	for _, n := range slices.Sorted(maps.Keys(bt.Columns)) {
		if ac, ok := at.Columns[n]; ok {
			c.column(an, n, bt.Columns[n], ac)
		}
	}
	c.constraints(path, an, renamed, at)
	c.indexes(path, an, renamed, at)
}

// renameColumns returns t with its constraints and indexes written with
// the renamed columns.
func renameColumns(t Table, renames map[string]string) Table {
	if len(renames) == 0 {
		return t
	}
	ren := func(cols []string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			if n, ok := renames[c]; ok {
				c = n
			}
			out[i] = c
		}
		return out
	}
	out := Table{Columns: t.Columns}
	out.Constraints.PrimaryKey = ren(t.Constraints.PrimaryKey)
	for _, u := range t.Constraints.Unique {
		out.Constraints.Unique = append(out.Constraints.Unique, ren(u))
	}
	for _, fk := range t.Constraints.ForeignKey {
		fk.Columns = ren(fk.Columns)
		out.Constraints.ForeignKey = append(out.Constraints.ForeignKey, fk)
	}
	for _, ck := range t.Constraints.Check {
		for from, to := range renames {
			ck = regexp.MustCompile(`\b`+regexp.QuoteMeta(from)+`\b`).ReplaceAllString(ck, to)
		}
		out.Constraints.Check = append(out.Constraints.Check, ck)
	}
	for _, ix := range t.Indexes {
		ix.Columns = ren(ix.Columns)
		out.Indexes = append(out.Indexes, ix)
	}
	return out
}

// ---- columns ----

func (c *comparison) columnAdded(table, name string, col Column) {
	d := c.opts.Dialect
	path := fmt.Sprintf("tables.%s.columns.%s", table, name)
	issue := Issue{
		Type: "column_added", Severity: Additive, FieldPath: path,
		Description: fmt.Sprintf("column %s.%s %s added", table, name, columnDef(name, col)[len(ident(name))+1:]),
		NewValue:    columnType(col).String(),
		Impact:      "none for existing code",
	}
	s := Script{
		ForwardSQL:      d.alterTable(table, "ADD COLUMN "+d.columnDef(name, col)),
		RollbackSQL:     d.alterTable(table, "DROP COLUMN "+d.ident(name)),
		ValidationQuery: d.columnExists(table, name, true),
	}
	// SQLite adds a NOT NULL column only with a constant default.
	if d == SQLite && (col.AutoIncrement || !col.nullable() && (defaultSQL(col) == "" || !constantDefault(col))) {
		c.needRebuild(table)
	}
	if !col.nullable() && defaultSQL(col) == "" && !col.AutoIncrement {
		issue.Severity = Breaking
		issue.Impact = "INSERTs from code that does not know the column fail (NOT NULL without a default), and the column cannot be added NOT NULL to a table with rows without a backfill"
		issue.SuggestedMigration = "add the column nullable, deploy writers that set it, backfill, then SET NOT NULL (the forward SQL does the backfill with a placeholder value: replace it)"
		issue.AffectedOperations = []string{"INSERT"}
		nullable := col
		t := true
		nullable.Nullable = &t
		stmts := []string{d.alterTable(table, "ADD COLUMN "+d.columnDef(name, nullable))}
		if v := backfillValue(col); v != "" {
			stmts = append(stmts, fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s IS NULL;", d.ident(table), d.ident(name), v, d.ident(name)))
		} else {
			stmts = append(stmts, fmt.Sprintf("-- backfill %s.%s here: no placeholder value for type %s", table, name, columnType(col)))
		}
		stmts = append(stmts, d.setNotNull(table, name, col))
		s.ForwardSQL = strings.Join(stmts, "\n")
	}
	if trig := d.onUpdateTrigger(table, name, col); len(trig) > 0 {
		s.ForwardSQL = strings.Join(append([]string{s.ForwardSQL}, trig...), "\n")
		s.RollbackSQL = strings.Join(append(d.dropOnUpdateTrigger(table, name), s.RollbackSQL), "\n")
	}
	c.add(issue, staged{stage: stAddColumn, script: s})
}

// backfillValue is a placeholder value of the column's type for the
// backfill of a new NOT NULL column.
func backfillValue(col Column) string {
	switch t := columnType(col); {
	case t.Family == "string":
		return "''"
	case t.Family == "integer", t.Family == "decimal", t.Family == "float":
		return "0"
	case t.Family == "bool":
		return "FALSE"
	case t.Name == "date":
		return "CURRENT_DATE"
	case t.Family == "time":
		return "CURRENT_TIMESTAMP"
	case t.Name == "uuid":
		return "gen_random_uuid()"
	case t.Name == "json", t.Name == "jsonb":
		return "'{}'"
	}
	return ""
}

func (c *comparison) columnRemoved(table, name string, col Column, after Table) {
	d := c.opts.Dialect
	path := fmt.Sprintf("tables.%s.columns.%s", table, name)
	// SQLite drops a column only when no key, index or check names it;
	// the rebuild always works.
	c.needRebuild(table)
	restore := col
	rollback := []string{d.alterTable(table, "ADD COLUMN "+d.columnDef(name, col))}
	if !col.nullable() && defaultSQL(col) == "" && !col.AutoIncrement {
		t := true
		restore.Nullable = &t
		rollback = []string{
			d.alterTable(table, "ADD COLUMN "+d.columnDef(name, restore)),
			fmt.Sprintf("-- restore %s.%s from a backup here: the values were dropped", table, name),
			d.setNotNull(table, name, col),
		}
	}
	var dropTrigger []string
	if col.OnUpdate != "" {
		dropTrigger = d.dropOnUpdateTrigger(table, name)
	}
	c.add(Issue{
		Type: "column_removed", Severity: Breaking, FieldPath: path,
		Description:        fmt.Sprintf("column %s.%s removed", table, name),
		OldValue:           columnType(col).String(),
		Impact:             "queries that read or write the column fail; its values are deleted",
		SuggestedMigration: "release code that no longer uses the column first; drop it one release later (contract)",
		AffectedOperations: []string{"SELECT", "INSERT", "UPDATE"},
	}, staged{stage: stDropColumn, script: Script{
		ForwardSQL:      strings.Join(append(dropTrigger, d.alterTable(table, "DROP COLUMN "+d.ident(name))), "\n"),
		RollbackSQL:     strings.Join(append(rollback, d.onUpdateTrigger(table, name, col)...), "\n"),
		ValidationQuery: d.columnExists(table, name, false),
		DataLoss:        true,
	}})
}

func (c *comparison) columnRenamed(table string, before, renamed Table, from, to string) {
	d := c.opts.Dialect
	forward := []string{d.alterTable(table, fmt.Sprintf("RENAME COLUMN %s TO %s", d.ident(from), d.ident(to)))}
	rollback := []string{d.alterTable(table, fmt.Sprintf("RENAME COLUMN %s TO %s", d.ident(to), d.ident(from)))}
	for _, p := range constraintNames(table, before, table, renamed) {
		if !involves(p.from, from) {
			continue
		}
		if p.kind != "unique" {
			c.needRebuild(table) // SQLite cannot rename the others
		}
		if fwd := d.renameConstraint(table, renamed, p, false); fwd != "" {
			forward = append(forward, fwd)
			rollback = append([]string{d.renameConstraint(table, renamed, p, true)}, rollback...)
		}
	}
	// A trigger names the column in its body and its name: made again.
	if col := before.Columns[from]; col.OnUpdate != "" && d != MySQL {
		forward = append(append(forward, d.dropOnUpdateTrigger(table, from)...), d.onUpdateTrigger(table, to, col)...)
		rollback = append(append(d.dropOnUpdateTrigger(table, to), rollback...), d.onUpdateTrigger(table, from, col)...)
	}
	var split *RenameSplit
	if len(forward) == 1 {
		split = d.renameSplit(table, from, to, before.Columns[from])
	}
	c.add(Issue{
		Type: "column_renamed", Severity: Breaking, FieldPath: fmt.Sprintf("tables.%s.columns.%s", table, to),
		Description: fmt.Sprintf("column %s.%s renamed to %s (same definition, similar name; detected as a rename)", table, from, to),
		OldValue:    from, NewValue: to,
		Impact:             fmt.Sprintf("queries that name %s fail", from),
		SuggestedMigration: fmt.Sprintf("expand–contract: add %s, dual-write %s and %s, backfill, switch reads, then drop %s", to, from, to, from),
		AffectedOperations: []string{"SELECT", "INSERT", "UPDATE"},
	}, staged{stage: stRenameColumn, script: Script{
		ForwardSQL:      strings.Join(forward, "\n"),
		RollbackSQL:     strings.Join(rollback, "\n"),
		ValidationQuery: d.columnExists(table, to, true),
		ExpandContract:  split,
	}})
}

// renameSplit writes a column rename as expand–contract: add the new
// column nullable, drop the old one at contract. A NOT NULL column
// becomes NOT NULL at contract, once the backfill has filled it; SQLite
// cannot add NOT NULL in place, so it gets no split there.
func (d Dialect) renameSplit(table, from, to string, col Column) *RenameSplit {
	if !col.nullable() && d == SQLite {
		return nil
	}
	added := col
	t := true
	added.Nullable = &t
	contract := []string{}
	if !col.nullable() {
		contract = append(contract, d.setNotNull(table, to, col))
	}
	contract = append(contract, d.alterTable(table, "DROP COLUMN "+d.ident(from)))
	return &RenameSplit{
		Table: table, From: from, To: to,
		ExpandSQL:         d.alterTable(table, "ADD COLUMN "+d.columnDef(to, added)),
		ExpandRollbackSQL: d.alterTable(table, "DROP COLUMN "+d.ident(to)),
		ContractSQL:       strings.Join(contract, "\n"),
	}
}

// involves reports whether a derived constraint name may name the column
// (check constraint names are hashes, so they always may).
func involves(name, col string) bool {
	return strings.Contains(name, "_"+col+"_") || strings.HasSuffix(name, "_check")
}

// column compares a column present in both versions.
func (c *comparison) column(table, name string, b, a Column) {
	d := c.opts.Dialect
	path := fmt.Sprintf("tables.%s.columns.%s", table, name)
	col := d.ident(name)
	key := func(n int) string { return fmt.Sprintf("%s.%d", path, n) }
	bt, at := d.columnType(b), d.columnType(a)
	if change := CompareTypes(bt, at); change != TypeSame {
		c.needRebuild(table)
		c.typeChanged(table, name, path, b, a, change, key(0))
	}
	bd, ad := defaultSQL(b), defaultSQL(a)
	if b.AutoIncrement != a.AutoIncrement {
		c.needRebuild(table)
		c.autoIncrement(table, name, path, b, a, key(1))
	}
	if bd != ad && !a.AutoIncrement && !b.AutoIncrement {
		c.needRebuild(table)
		sev, typ, impact := NonBreaking, "column_default_changed", "new rows that omit the column get the new default"
		fwd, back := d.alterTable(table, fmt.Sprintf("ALTER COLUMN %s SET DEFAULT %s", col, ad)), d.alterTable(table, fmt.Sprintf("ALTER COLUMN %s SET DEFAULT %s", col, bd))
		switch {
		case bd == "":
			typ = "column_default_added"
			back = d.alterTable(table, fmt.Sprintf("ALTER COLUMN %s DROP DEFAULT", col))
		case ad == "":
			typ = "column_default_removed"
			fwd = d.alterTable(table, fmt.Sprintf("ALTER COLUMN %s DROP DEFAULT", col))
			impact = "new rows that omit the column get NULL"
			if !a.nullable() {
				sev, impact = PotentiallyBreaking, "INSERTs that omit the column fail: it is NOT NULL and has no default any more"
			}
		}
		c.add(Issue{
			Type: typ, Severity: sev, FieldPath: path + ".default",
			Description: fmt.Sprintf("default of %s.%s changed from %s to %s", table, name, orNone(bd), orNone(ad)),
			OldValue:    b.Default, NewValue: a.Default, Impact: impact,
			AffectedOperations: []string{"INSERT"},
		}, staged{stage: stAlterColumn, key: key(2), script: Script{ForwardSQL: fwd, RollbackSQL: back}})
	}
	if b.OnUpdate != a.OnUpdate {
		// SQLite rebuilds only when another change needs it: the
		// trigger is made or dropped on its own.
		c.onUpdateChanged(table, name, path, b, a, key(4))
	}
	// MySQL changes nullability with MODIFY COLUMN, which restates the
	// whole column: as it is once type, generator and default are changed.
	now := mixColumn(b, a, 2)
	if b.nullable() && !a.nullable() {
		c.needRebuild(table)
		issue := Issue{
			Type: "column_made_not_null", Severity: Breaking, FieldPath: path + ".nullable",
			Description: fmt.Sprintf("column %s.%s made NOT NULL without a default", table, name),
			OldValue:    true, NewValue: false,
			Impact:             "existing NULLs make the change fail; writers that leave the column NULL fail",
			SuggestedMigration: "deploy writers that always set the column, backfill the NULLs, then SET NOT NULL",
			AffectedOperations: []string{"INSERT", "UPDATE"},
		}
		stmts := []string{}
		s := Script{RollbackSQL: d.setNullable(table, name, now)}
		if ad != "" {
			issue.Severity = PotentiallyBreaking
			issue.Description = fmt.Sprintf("column %s.%s made NOT NULL (default %s)", table, name, ad)
			issue.Impact = "writers that set the column to NULL explicitly fail; existing NULLs are backfilled with the default"
			stmts = append(stmts, fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s IS NULL;", d.ident(table), col, ad, col))
		} else {
			s.PrecheckQuery = fmt.Sprintf("SELECT count(*) FROM %s WHERE %s IS NULL;", d.ident(table), col)
		}
		s.ForwardSQL = strings.Join(append(stmts, d.setNotNull(table, name, now)), "\n")
		s.ValidationQuery = d.notNullQuery(table, name)
		c.add(issue, staged{stage: stAlterColumn, key: key(3), script: s})
	}
	if !b.nullable() && a.nullable() {
		c.needRebuild(table)
		c.add(Issue{
			Type: "column_made_nullable", Severity: NonBreaking, FieldPath: path + ".nullable",
			Description: fmt.Sprintf("column %s.%s made nullable", table, name),
			OldValue:    false, NewValue: true,
			Impact: "writers are unaffected; readers that assume a value must handle NULL",
		}, staged{stage: stAlterColumn, key: key(3), script: Script{
			ForwardSQL:    d.setNullable(table, name, now),
			RollbackSQL:   d.setNotNull(table, name, now),
			PrecheckQuery: "",
		}})
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (c *comparison) typeChanged(table, name, path string, b, a Column, change TypeChange, key string) {
	d := c.opts.Dialect
	col := d.ident(name)
	bt, at := d.columnType(b), d.columnType(a)
	alter := func(t SQLType, cast bool, now Column) string {
		if d == MySQL {
			return d.alterTable(table, "MODIFY COLUMN "+d.columnDef(name, now))
		}
		using := ""
		if cast {
			using = fmt.Sprintf(" USING %s::%s", col, t)
		}
		return d.alterTable(table, fmt.Sprintf("ALTER COLUMN %s TYPE %s%s", col, t, using))
	}
	cast := bt.Family != at.Family
	issue := Issue{
		FieldPath: path + ".type", OldValue: bt.String(), NewValue: at.String(),
		AffectedOperations: []string{"INSERT", "UPDATE"},
	}
	s := Script{ForwardSQL: alter(at, cast, mixColumn(b, a, 0)), RollbackSQL: alter(bt, cast, b)}
	switch change {
	case TypeWidened:
		issue.Type, issue.Severity = "column_type_widened", NonBreaking
		issue.Description = fmt.Sprintf("column %s.%s widened from %s to %s", table, name, bt, at)
		issue.Impact = "every existing value fits; the rollback fails if longer or larger values were written meanwhile"
		issue.AffectedOperations = nil
		// The rollback narrows: values written since may not fit.
		if q := narrowingPrecheck(d, table, col, at, bt); q != "" {
			s.RollbackPrecheckQuery = q
			s.DataLoss = true
		}
	case TypeNarrowed:
		issue.Type, issue.Severity = "column_type_narrowed", Breaking
		issue.Description = fmt.Sprintf("column %s.%s narrowed from %s to %s", table, name, bt, at)
		issue.Impact = "existing values that do not fit make the change fail; writers sending them fail afterwards"
		issue.SuggestedMigration = "run the precheck query, shorten or migrate the values that do not fit, and release writers that respect the new limit first"
		s.PrecheckQuery = narrowingPrecheck(d, table, col, bt, at)
		if timestamp(at) && timestamp(bt) {
			issue.Impact = "existing values lose their fractional-second digits beyond the new precision (PostgreSQL rounds them, MySQL cuts them): the change does not fail; writers' fractions are cut afterwards"
			issue.SuggestedMigration = "run the precheck query to count the values that change; release writers that do not rely on the digits first"
			s.DataLoss = true
		}
	default:
		issue.Type, issue.Severity = "column_type_changed", Breaking
		issue.Description = fmt.Sprintf("column %s.%s changed type from %s to %s", table, name, bt, at)
		issue.Impact = "readers and writers see a different kind of value; values that do not convert make the change fail"
		issue.SuggestedMigration = fmt.Sprintf("expand–contract: add a %s column, dual-write, backfill with a conversion, switch reads, drop the old column", at)
		issue.AffectedOperations = []string{"SELECT", "INSERT", "UPDATE"}
	}
	switch d {
	case Postgres:
		s.ValidationQuery = fmt.Sprintf("SELECT format_type(atttypid, atttypmod) = %s AS ok FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s;",
			literal(pgFormatType(at)), literal(table), literal(name))
	case MySQL:
		s.ValidationQuery = fmt.Sprintf("SELECT COLUMN_TYPE LIKE %s AS ok FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s;",
			literal(mysqlColumnType(d.typeSQL(at, a.AutoIncrement))), literal(table), literal(name))
	}
	c.add(issue, staged{stage: stAlterColumn, key: key, script: s})
}

// pgFormatType is how PostgreSQL's format_type prints t.
func pgFormatType(t SQLType) string {
	switch t.Name {
	case "varchar":
		if t.Length > 0 {
			return fmt.Sprintf("character varying(%d)", t.Length)
		}
		return "character varying"
	case "char":
		return fmt.Sprintf("character(%d)", t.Length)
	case "timestamp", "timestamptz":
		zone := map[string]string{"timestamp": " without time zone", "timestamptz": " with time zone"}[t.Name]
		if p := t.fractionDigits(); p < 6 {
			return fmt.Sprintf("timestamp(%d)%s", p, zone)
		}
		return "timestamp" + zone
	case "time":
		return "time without time zone"
	}
	return t.String()
}

// narrowingPrecheck counts the rows whose value would not fit.
func narrowingPrecheck(d Dialect, table, col string, from, to SQLType) string {
	switch {
	case to.Family == "string" && to.Length > 0:
		length := "char_length" // SQLite's length counts characters too
		if d == SQLite {
			length = "length"
		}
		return fmt.Sprintf("SELECT count(*) FROM %s WHERE %s(%s) > %d;", d.ident(table), length, col, to.Length)
	case to.Family == "integer":
		limits := map[string][2]string{"smallint": {"-32768", "32767"}, "integer": {"-2147483648", "2147483647"}}
		if l, ok := limits[to.Name]; ok {
			return fmt.Sprintf("SELECT count(*) FROM %s WHERE %s NOT BETWEEN %s AND %s;", d.ident(table), col, l[0], l[1])
		}
	case timestamp(to) && to.fractionDigits() < from.fractionDigits():
		// Rounded (PostgreSQL) or cut (MySQL), not refused: count the
		// values that change.
		switch d {
		case Postgres:
			return fmt.Sprintf("SELECT count(*) FROM %s WHERE %s <> %s::%s;", d.ident(table), col, col, to)
		case MySQL:
			return fmt.Sprintf("SELECT count(*) FROM %s WHERE %s <> CAST(%s AS DATETIME(%d));", d.ident(table), col, col, to.fractionDigits())
		}
	case to.Family == "decimal" && to.Precision > 0:
		return fmt.Sprintf("SELECT count(*) FROM %s WHERE abs(%s) >= 1e%d OR %s <> round(%s, %d);", d.ident(table), col, to.Precision-to.Scale, col, col, to.Scale)
	}
	return ""
}

func (c *comparison) autoIncrement(table, name, path string, b, a Column, key string) {
	d := c.opts.Dialect
	added := a.AutoIncrement
	col := d.ident(name)
	addIdentity := strings.Join([]string{
		d.alterTable(table, fmt.Sprintf("ALTER COLUMN %s ADD GENERATED BY DEFAULT AS IDENTITY", col)),
		// Start after the values already there, or the next insert collides.
		fmt.Sprintf("SELECT setval(pg_get_serial_sequence(%s, %s), coalesce(max(%s), 0) + 1, false) FROM %s;", literal(ident(table)), literal(name), col, ident(table)),
	}, "\n")
	dropIdentity := d.alterTable(table, fmt.Sprintf("ALTER COLUMN %s DROP IDENTITY", col))
	if d == MySQL {
		// MySQL's AUTO_INCREMENT starts after the values already there.
		with, without := mixColumn(b, a, 1), mixColumn(b, a, 0)
		if !added {
			with, without = without, with
		}
		addIdentity = d.alterTable(table, "MODIFY COLUMN "+d.columnDef(name, with))
		dropIdentity = d.alterTable(table, "MODIFY COLUMN "+d.columnDef(name, without))
	}
	if added {
		c.add(Issue{
			Type: "auto_increment_added", Severity: NonBreaking, FieldPath: path + ".auto_increment",
			Description: fmt.Sprintf("column %s.%s now generated (auto-increment)", table, name),
			OldValue:    false, NewValue: true,
			Impact: "writers that set the value still work; new rows may omit it",
		}, staged{stage: stAlterColumn, key: key, script: Script{ForwardSQL: addIdentity, RollbackSQL: dropIdentity}})
		return
	}
	c.add(Issue{
		Type: "auto_increment_removed", Severity: Breaking, FieldPath: path + ".auto_increment",
		Description: fmt.Sprintf("column %s.%s no longer generated (auto-increment removed)", table, name),
		OldValue:    true, NewValue: false,
		Impact:             "INSERTs that rely on the generated value fail",
		SuggestedMigration: "release writers that set the key themselves before removing the generator",
		AffectedOperations: []string{"INSERT"},
	}, staged{stage: stAlterColumn, key: key, script: Script{ForwardSQL: dropIdentity, RollbackSQL: addIdentity}})
}

// ---- constraints and indexes ----

func (c *comparison) constraints(path, table string, b, a Table) {
	d := c.opts.Dialect
	bpk, apk := b.Constraints.PrimaryKey, a.Constraints.PrimaryKey
	addPK := d.addPK(table, apk)
	oldPK := d.addPK(table, bpk)
	dropPK := d.dropPK(table)
	dupes := func(cols []string) string {
		return fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s GROUP BY %s HAVING count(*) > 1) AS duplicates;", d.ident(table), d.idents(cols))
	}
	ppath := path + ".constraints.primary_key"
	if strings.Join(bpk, ",") != strings.Join(apk, ",") {
		c.needRebuild(table)
	}
	switch {
	case strings.Join(bpk, ",") == strings.Join(apk, ","):
	case len(bpk) == 0:
		c.add(Issue{
			Type: "primary_key_added", Severity: Breaking, FieldPath: ppath, NewValue: apk,
			Description:        fmt.Sprintf("primary key (%s) added to %s", strings.Join(apk, ", "), table),
			Impact:             "existing duplicates or NULLs make it fail; writers that insert duplicates fail",
			SuggestedMigration: "remove duplicates (precheck query) first",
			AffectedOperations: []string{"INSERT", "UPDATE"},
		}, staged{stage: stAddConstraint, script: Script{ForwardSQL: addPK, RollbackSQL: dropPK, PrecheckQuery: dupes(apk), ValidationQuery: d.constraintExists(table, pkName(table), true)}})
	case len(apk) == 0:
		c.add(Issue{
			Type: "primary_key_removed", Severity: PotentiallyBreaking, FieldPath: ppath, OldValue: bpk,
			Description:        fmt.Sprintf("primary key (%s) removed from %s", strings.Join(bpk, ", "), table),
			Impact:             "duplicates become possible; replication and ORMs that need a key may stop working",
			AffectedOperations: []string{"INSERT", "UPDATE", "DELETE"},
		}, staged{stage: stDropConstraint, script: Script{ForwardSQL: dropPK, RollbackSQL: oldPK, ValidationQuery: d.constraintExists(table, pkName(table), false)}})
	default:
		c.add(Issue{
			Type: "primary_key_changed", Severity: Breaking, FieldPath: ppath, OldValue: bpk, NewValue: apk,
			Description:        fmt.Sprintf("primary key of %s changed from (%s) to (%s)", table, strings.Join(bpk, ", "), strings.Join(apk, ", ")),
			Impact:             "lookups and references by the old key break; duplicates of the new key make it fail",
			SuggestedMigration: "remove duplicates of the new key (precheck query) and move references first",
			AffectedOperations: []string{"SELECT", "INSERT", "UPDATE", "DELETE"},
		},
			staged{stage: stDropConstraint, script: Script{Description: "drop the old primary key of " + table, ForwardSQL: dropPK, RollbackSQL: oldPK}},
			staged{stage: stAddConstraint, script: Script{Description: "add the new primary key of " + table, ForwardSQL: addPK, RollbackSQL: dropPK, PrecheckQuery: dupes(apk), ValidationQuery: d.constraintExists(table, pkName(table), true)}})
	}

	// Unique constraints.
	bu, au := keyed(b.Constraints.Unique), keyed(a.Constraints.Unique)
	for _, k := range slices.Sorted(maps.Keys(bu)) {
		if _, ok := au[k]; ok {
			continue
		}
		cols, name := bu[k], uniqueName(table, bu[k])
		c.add(Issue{
			Type: "unique_constraint_removed", Severity: NonBreaking, FieldPath: path + ".constraints.unique",
			Description: fmt.Sprintf("unique constraint on %s(%s) removed", table, strings.Join(cols, ", ")), OldValue: cols,
			Impact: "duplicates become possible; nothing that worked fails",
		}, staged{stage: stDropConstraint, key: name, script: Script{
			ForwardSQL:      d.dropUnique(table, b, cols),
			RollbackSQL:     d.addUnique(table, cols),
			ValidationQuery: d.constraintExists(table, name, false),
		}})
	}
	for _, k := range slices.Sorted(maps.Keys(au)) {
		if _, ok := bu[k]; ok {
			continue
		}
		cols, name := au[k], uniqueName(table, au[k])
		c.add(Issue{
			Type: "unique_constraint_added", Severity: Breaking, FieldPath: path + ".constraints.unique",
			Description: fmt.Sprintf("unique constraint on %s(%s) added", table, strings.Join(cols, ", ")), NewValue: cols,
			Impact:             "existing duplicates make it fail; writers that insert duplicates fail",
			SuggestedMigration: "remove duplicates (precheck query) and release writers that avoid them first",
			AffectedOperations: []string{"INSERT", "UPDATE"},
		}, staged{stage: stAddConstraint, key: name, script: Script{
			ForwardSQL:      d.addUnique(table, cols),
			RollbackSQL:     d.dropUnique(table, a, cols),
			PrecheckQuery:   dupes(cols),
			ValidationQuery: d.constraintExists(table, name, true),
		}})
	}

	// Foreign keys.
	bf, af := map[string]ForeignKey{}, map[string]ForeignKey{}
	for _, fk := range b.Constraints.ForeignKey {
		bf[fkClause(fk)] = fk
	}
	for _, fk := range a.Constraints.ForeignKey {
		af[fkClause(fk)] = fk
	}
	for _, k := range slices.Sorted(maps.Keys(bf)) {
		if _, ok := af[k]; ok {
			continue
		}
		fk, name := bf[k], fkName(table, bf[k].Columns)
		c.needRebuild(table)
		c.add(Issue{
			Type: "foreign_key_removed", Severity: NonBreaking, FieldPath: path + ".constraints.foreign_key",
			Description: fmt.Sprintf("foreign key %s(%s) → %s removed", table, strings.Join(fk.Columns, ", "), fk.References), OldValue: k,
			Impact: "orphan rows become possible; nothing that worked fails",
		}, staged{stage: stDropForeignKey, key: name, script: Script{
			ForwardSQL:      d.dropFK(table, b, fk),
			RollbackSQL:     d.addFK(table, fk),
			ValidationQuery: d.constraintExists(table, name, false),
		}})
	}
	for _, k := range slices.Sorted(maps.Keys(af)) {
		if _, ok := bf[k]; ok {
			continue
		}
		fk, name := af[k], fkName(table, af[k].Columns)
		c.needRebuild(table)
		refTable, refCols, _ := parseReference(fk.References)
		var on []string
		for i, col := range fk.Columns {
			on = append(on, fmt.Sprintf("p.%s = c.%s", d.ident(refCols[i]), d.ident(col)))
		}
		c.add(Issue{
			Type: "foreign_key_added", Severity: Breaking, FieldPath: path + ".constraints.foreign_key",
			Description: fmt.Sprintf("foreign key %s(%s) → %s added", table, strings.Join(fk.Columns, ", "), fk.References), NewValue: k,
			Impact:             "existing orphan rows make it fail; writers that insert orphans or delete referenced rows fail",
			SuggestedMigration: "fix orphans (precheck query); on large tables add it NOT VALID, then VALIDATE CONSTRAINT",
			AffectedOperations: []string{"INSERT", "UPDATE", "DELETE"},
		}, staged{stage: stAddForeignKey, key: name, script: Script{
			ForwardSQL:      d.addFK(table, fk),
			RollbackSQL:     d.dropFK(table, a, fk),
			PrecheckQuery:   fmt.Sprintf("SELECT count(*) FROM %s c WHERE %s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s);", d.ident(table), "c."+d.ident(fk.Columns[0]), d.ident(refTable), strings.Join(on, " AND ")),
			ValidationQuery: d.constraintExists(table, name, true),
		}})
	}

	// Check constraints.
	bc, ac := set(b.Constraints.Check), set(a.Constraints.Check)
	for _, k := range slices.Sorted(maps.Keys(bc)) {
		if ac[k] {
			continue
		}
		name := checkName(table, k)
		c.needRebuild(table)
		c.add(Issue{
			Type: "check_constraint_removed", Severity: NonBreaking, FieldPath: path + ".constraints.check",
			Description: fmt.Sprintf("check constraint on %s removed: %s", table, k), OldValue: k,
			Impact: "values the check refused become possible; nothing that worked fails",
		}, staged{stage: stDropConstraint, key: name, script: Script{
			ForwardSQL:      d.alterTable(table, "DROP CONSTRAINT "+d.ident(name)),
			RollbackSQL:     d.alterTable(table, fmt.Sprintf("ADD CONSTRAINT %s CHECK (%s)", d.ident(name), k)),
			ValidationQuery: d.constraintExists(table, name, false),
		}})
	}
	for _, k := range slices.Sorted(maps.Keys(ac)) {
		if bc[k] {
			continue
		}
		name := checkName(table, k)
		c.needRebuild(table)
		c.add(Issue{
			Type: "check_constraint_added", Severity: Breaking, FieldPath: path + ".constraints.check",
			Description: fmt.Sprintf("check constraint on %s added: %s", table, k), NewValue: k,
			Impact:             "existing rows that fail the check make it fail; writers of such values fail",
			SuggestedMigration: "fix the rows the precheck query counts; on large tables add it NOT VALID, then VALIDATE CONSTRAINT",
			AffectedOperations: []string{"INSERT", "UPDATE"},
		}, staged{stage: stAddConstraint, key: name, script: Script{
			ForwardSQL:      d.alterTable(table, fmt.Sprintf("ADD CONSTRAINT %s CHECK (%s)", d.ident(name), k)),
			RollbackSQL:     d.alterTable(table, "DROP CONSTRAINT "+d.ident(name)),
			PrecheckQuery:   fmt.Sprintf("SELECT count(*) FROM %s WHERE NOT (%s);", d.ident(table), k),
			ValidationQuery: d.constraintExists(table, name, true),
		}})
	}
}

func keyed[L ~[]string](lists []L) map[string][]string {
	m := map[string][]string{}
	for _, l := range lists {
		m[strings.Join(l, ",")] = l
	}
	return m
}

func set(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

func (c *comparison) indexes(path, table string, b, a Table) {
	d := c.opts.Dialect
	bi, ai := map[string]Index{}, map[string]Index{}
	for _, ix := range b.Indexes {
		bi[ix.Name] = ix
	}
	for _, ix := range a.Indexes {
		ai[ix.Name] = ix
	}
	describe := func(ix Index) string {
		u := ""
		if ix.Unique {
			u = "unique "
		}
		return fmt.Sprintf("%sindex %s on %s(%s)", u, ix.Name, table, strings.Join(ix.Columns, ", "))
	}
	drop := func(ix Index) string { return d.dropIndex(table, ix.Name) }
	for _, n := range slices.Sorted(maps.Keys(bi)) {
		old := bi[n]
		nw, ok := ai[n]
		ipath := fmt.Sprintf("%s.indexes.%s", path, n)
		switch {
		case !ok:
			c.add(Issue{
				Type: "index_removed", Severity: PotentiallyBreaking, FieldPath: ipath, OldValue: old.Columns,
				Description: describe(old) + " removed",
				Impact:      "queries that used the index may become slow; a removed unique index allows duplicates",
			}, staged{stage: stDropConstraint, key: n, script: Script{ForwardSQL: drop(old), RollbackSQL: d.createIndex(table, old), ValidationQuery: d.indexExists(table, n, false)}})
		case strings.Join(old.Columns, ",") != strings.Join(nw.Columns, ",") || old.Unique != nw.Unique:
			sev, impact := PotentiallyBreaking, "queries planned for the old columns may become slow"
			if nw.Unique && !old.Unique {
				sev, impact = Breaking, "existing duplicates make it fail; writers that insert duplicates fail"
			}
			c.add(Issue{
				Type: "index_changed", Severity: sev, FieldPath: ipath, OldValue: old.Columns, NewValue: nw.Columns,
				Description: fmt.Sprintf("%s changed to %s", describe(old), describe(nw)),
				Impact:      impact,
			},
				staged{stage: stDropConstraint, key: n, script: Script{Description: "drop the old " + describe(old), ForwardSQL: drop(old), RollbackSQL: d.createIndex(table, old)}},
				staged{stage: stAddIndex, key: n, script: Script{Description: "create the new " + describe(nw), ForwardSQL: d.createIndex(table, nw), RollbackSQL: drop(nw), ValidationQuery: d.indexExists(table, n, true)}})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(ai)) {
		if _, ok := bi[n]; ok {
			continue
		}
		ix := ai[n]
		issue := Issue{
			Type: "index_added", Severity: Additive, FieldPath: fmt.Sprintf("%s.indexes.%s", path, n), NewValue: ix.Columns,
			Description: describe(ix) + " added",
			Impact:      "none for existing code; writes lock the table while it builds (use CREATE INDEX CONCURRENTLY on large tables)",
		}
		s := Script{ForwardSQL: d.createIndex(table, ix), RollbackSQL: drop(ix), ValidationQuery: d.indexExists(table, n, true)}
		if ix.Unique {
			issue.Severity = Breaking
			issue.Impact = "existing duplicates make it fail; writers that insert duplicates fail"
			issue.AffectedOperations = []string{"INSERT", "UPDATE"}
			s.PrecheckQuery = fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s GROUP BY %s HAVING count(*) > 1) AS duplicates;", d.ident(table), d.idents(ix.Columns))
		}
		c.add(issue, staged{stage: stAddIndex, key: n, script: s})
	}
}

// ---- views and procedures ----

func (c *comparison) views() {
	d := c.opts.Dialect
	createView := func(n string, v View) string {
		return fmt.Sprintf("CREATE VIEW %s AS %s;", d.ident(n), strings.TrimSuffix(strings.TrimSpace(v.Definition), ";"))
	}
	dropView := func(n string) string { return fmt.Sprintf("DROP VIEW %s;", d.ident(n)) }
	for _, n := range slices.Sorted(maps.Keys(c.before.Views)) {
		old := c.before.Views[n]
		nw, ok := c.after.Views[n]
		path := "views." + n
		if !ok {
			c.add(Issue{
				Type: "view_removed", Severity: Breaking, FieldPath: path, OldValue: old.Columns,
				Description: fmt.Sprintf("view %s removed", n), Impact: "queries that read the view fail",
				SuggestedMigration: "keep the view, possibly over the new tables, until its readers have moved",
				AffectedOperations: []string{"SELECT"},
			}, staged{stage: stDropView, key: n, script: Script{ForwardSQL: dropView(n), RollbackSQL: createView(n, old), ValidationQuery: d.tableExists(n, false)}})
			continue
		}
		if normalizeSpace(old.Definition) == normalizeSpace(nw.Definition) && strings.Join(old.Columns, ",") == strings.Join(nw.Columns, ",") {
			continue
		}
		var gone []string
		for _, col := range old.Columns {
			if !contains(nw.Columns, col) {
				gone = append(gone, col)
			}
		}
		sev, impact := PotentiallyBreaking, "readers see the rows the new definition selects"
		if len(gone) > 0 {
			sev, impact = Breaking, fmt.Sprintf("queries that read column(s) %s of the view fail", strings.Join(gone, ", "))
		}
		// The old view may depend on columns dropped in between, so it is
		// dropped first and created again last.
		c.add(Issue{
			Type: "view_changed", Severity: sev, FieldPath: path,
			Description: fmt.Sprintf("view %s definition changed", n), OldValue: old.Definition, NewValue: nw.Definition,
			Impact: impact, AffectedOperations: []string{"SELECT"},
		},
			staged{stage: stDropView, key: n, script: Script{Description: "drop the old view " + n, ForwardSQL: dropView(n), RollbackSQL: createView(n, old)}},
			staged{stage: stCreateView, key: n, script: Script{Description: "create the new view " + n, ForwardSQL: createView(n, nw), RollbackSQL: dropView(n), ValidationQuery: d.tableExists(n, true)}})
	}
	for _, n := range slices.Sorted(maps.Keys(c.after.Views)) {
		if _, ok := c.before.Views[n]; ok {
			continue
		}
		v := c.after.Views[n]
		c.add(Issue{
			Type: "view_added", Severity: Additive, FieldPath: "views." + n, NewValue: v.Columns,
			Description: fmt.Sprintf("view %s added", n), Impact: "none for existing code",
		}, staged{stage: stCreateView, key: n, script: Script{ForwardSQL: createView(n, v), RollbackSQL: dropView(n), ValidationQuery: d.tableExists(n, true)}})
	}
}

// procedures compares stored procedures. No SQL is generated: their
// definitions are engine-specific bodies, not statements to replay.
func (c *comparison) procedures() {
	bp, ap := map[string]Procedure{}, map[string]Procedure{}
	for _, p := range c.before.Procedures {
		bp[p.Name] = p
	}
	for _, p := range c.after.Procedures {
		ap[p.Name] = p
	}
	for _, n := range slices.Sorted(maps.Keys(bp)) {
		old := bp[n]
		nw, ok := ap[n]
		path := "procedures." + n
		switch {
		case !ok:
			c.add(Issue{
				Type: "procedure_removed", Severity: Breaking, FieldPath: path,
				Description: fmt.Sprintf("procedure %s removed", n), Impact: "callers of the procedure fail",
				SuggestedMigration: "keep the procedure until its callers have moved", AffectedOperations: []string{"CALL"},
			})
		case fmt.Sprint(old.Parameters) != fmt.Sprint(nw.Parameters):
			c.add(Issue{
				Type: "procedure_signature_changed", Severity: Breaking, FieldPath: path + ".parameters",
				Description: fmt.Sprintf("parameters of procedure %s changed", n), OldValue: old.Parameters, NewValue: nw.Parameters,
				Impact: "callers that pass the old parameters fail", AffectedOperations: []string{"CALL"},
			})
		case normalizeSpace(old.Definition) != normalizeSpace(nw.Definition):
			c.add(Issue{
				Type: "procedure_changed", Severity: PotentiallyBreaking, FieldPath: path + ".definition",
				Description: fmt.Sprintf("body of procedure %s changed", n),
				Impact:      "callers get the new behaviour", AffectedOperations: []string{"CALL"},
			})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(ap)) {
		if _, ok := bp[n]; !ok {
			c.add(Issue{
				Type: "procedure_added", Severity: Additive, FieldPath: "procedures." + n,
				Description: fmt.Sprintf("procedure %s added", n), Impact: "none for existing code",
			})
		}
	}
}

// addedColumns lists, per table present in both versions, the columns the
// after version adds.
func addedColumns(before, after *Schema) map[string][]string {
	out := map[string][]string{}
	for name, at := range after.Tables {
		bt, ok := before.Tables[name]
		if !ok {
			continue
		}
		for _, col := range slices.Sorted(maps.Keys(at.Columns)) {
			if _, ok := bt.Columns[col]; !ok {
				out[name] = append(out[name], col)
			}
		}
	}
	return out
}

var word = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// markAfterExpand marks a precheck that reads a column the migration adds
// (a check constraint on a new column): run before the ADD COLUMN, it
// fails; the report says to run it after the expand step.
func markAfterExpand(s Script, added map[string][]string) Script {
	if s.PrecheckQuery == "" {
		return s
	}
	table, _, _ := strings.Cut(strings.TrimPrefix(s.FieldPath, "tables."), ".")
	cols := added[table]
	if len(cols) == 0 {
		return s
	}
	var reads []string
	for _, w := range word.FindAllString(s.PrecheckQuery, -1) {
		if contains(cols, w) && !contains(reads, w) {
			reads = append(reads, w)
		}
	}
	if len(reads) == 0 {
		return s
	}
	s.PrecheckAfterExpand = true
	s.PrecheckQuery = fmt.Sprintf("-- run after expand: it reads %s, which this migration adds\n%s", strings.Join(reads, ", "), s.PrecheckQuery)
	return s
}
