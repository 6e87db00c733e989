package datastore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ProvisionFromDDL is Provision with the target's DDL taken from a script
// (a file the spec names) instead of rendered from the source. The script
// must create exactly the given (source) tables, and may index or alter
// them; nothing else (see ParseDDL). It is all or nothing: on PostgreSQL
// and SQLite the records and every statement run in one transaction; on
// MySQL, where DDL commits by itself, a failing statement makes it drop
// the tables the statements before it created. The created tables must
// then fit the source for the copy — every source column, the source's
// primary key, no other NOT NULL column without a default — or they are
// dropped again and the call fails with ErrShapeMismatch saying what is
// missing. What it created is recorded under opts.Owner, as Provision does,
// so DropProvisioned drops exactly that. name labels the script in errors.
func ProvisionFromDDL(ctx context.Context, target *Store, tables []*Table, script, name string, opts ProvisionOptions) (ProvisionResult, error) {
	var res ProvisionResult
	if opts.Owner == "" {
		return res, fmt.Errorf("provision: an owner is required")
	}
	for _, t := range tables {
		if err := t.CheckCopyable(); err != nil {
			return res, fmt.Errorf("provision: %w", err)
		}
	}
	stmts, err := ParseDDL(target.Engine, script)
	if err == nil {
		err = matchScript(target.Engine, stmts, tables)
	}
	if err != nil {
		return res, fmt.Errorf("provision from %s: %w", name, err)
	}
	if err := target.ensureProvisionTable(ctx); err != nil {
		return res, err
	}
	var mine, todo []string
	for _, t := range tables {
		owner, exists, err := target.provisionState(ctx, t.Name)
		switch {
		case err != nil:
			return res, err
		case exists && owner == opts.Owner:
			mine = append(mine, t.Name)
		case exists:
			who := "it existed before"
			if owner != "" {
				who = "provisioned by " + owner
			}
			return res, fmt.Errorf("provision %s: %w (%s); drop or rename it, or leave it out of the tables and the script", t.Name, ErrTableExists, who)
		default:
			todo = append(todo, t.Name)
		}
	}
	if len(todo) == 0 {
		res.Already = mine
		return res, target.checkScriptShapes(ctx, tables, name, opts.Owner, nil)
	}
	if len(mine) > 0 {
		// An earlier attempt on MySQL died part way through the script:
		// its tables are ours and empty (the copy comes after provision),
		// so they go, and the script runs whole.
		if _, err := target.dropRecorded(ctx, opts.Owner, mine, false); err != nil {
			return res, fmt.Errorf("provision from %s: drop the tables of an unfinished attempt: %w", name, err)
		}
	}
	all := append(mine, todo...)
	if err := target.applyScript(ctx, stmts, all, opts.Owner); err != nil {
		return res, fmt.Errorf("provision from %s: %w", name, err)
	}
	if err := target.checkScriptShapes(ctx, tables, name, opts.Owner, all); err != nil {
		return res, err
	}
	for _, t := range tables {
		res.Created = append(res.Created, t.Name)
	}
	if opts.Logger != nil {
		opts.Logger.Info("created tables from a DDL script", "script", name, "tables", res.Created, "statements", len(stmts))
	}
	return res, nil
}

// matchScript checks that the script creates exactly the tables, and
// indexes or alters only those; it sets each statement's Table to the
// listed name.
func matchScript(engine Engine, stmts []Statement, tables []*Table) error {
	listed := make([]string, len(tables))
	for i, t := range tables {
		listed[i] = t.Name
	}
	find := func(n string) string {
		for _, l := range listed {
			if l == n || engine == SQLite && strings.EqualFold(l, n) {
				return l
			}
		}
		return ""
	}
	created := map[string]int{}
	for i := range stmts {
		st := &stmts[i]
		where := fmt.Sprintf("statement %d (line %d)", i+1, st.Line)
		t := find(st.Table)
		switch {
		case st.Kind == CreateTable && t == "":
			return fmt.Errorf("%w: %s creates table %s, which is not in tables (%s): add it to tables or take it out of the script", ErrBadDDL, where, st.Table, strings.Join(listed, ", "))
		case st.Kind == CreateTable && created[t] > 0:
			return fmt.Errorf("%w: %s creates table %s again (statement %d did)", ErrBadDDL, where, t, created[t])
		case st.Kind == CreateTable:
			created[t] = i + 1
		case t == "" || created[t] == 0:
			return fmt.Errorf("%w: %s is %s on %s, which the script has not created before it: a script may change only the tables it creates", ErrBadDDL, where, strings.ToUpper(string(st.Kind)), st.Table)
		}
		st.Table = t
	}
	for _, l := range listed {
		if created[l] == 0 {
			return fmt.Errorf("%w: table %s is in tables but the script does not create it: add its CREATE TABLE, or leave it out of tables", ErrBadDDL, l)
		}
	}
	return nil
}

// applyScript records the tables under owner and runs the statements, all
// or nothing.
func (s *Store) applyScript(ctx context.Context, stmts []Statement, tables []string, owner string) error {
	record := fmt.Sprintf("INSERT INTO %s (owner, table_name, created_at) VALUES (%s, %s, %s)",
		s.d.quote(provisionTable), s.d.placeholder(1), s.d.placeholder(2), s.d.placeholder(3))
	clear := fmt.Sprintf("DELETE FROM %s WHERE owner = %s AND table_name = %s",
		s.d.quote(provisionTable), s.d.placeholder(1), s.d.placeholder(2))
	now := time.Now().UTC().Format(time.RFC3339)
	failed := func(i int, err error) error {
		return fmt.Errorf("statement %d of %d (line %d) failed: %w", i+1, len(stmts), stmts[i].Line, err)
	}
	if s.d.transactionalDDL() {
		tx, err := s.DB.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, t := range tables {
			if _, err := tx.ExecContext(ctx, clear, owner, t); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, record, owner, t, now); err != nil {
				return err
			}
		}
		for i, st := range stmts {
			if _, err := tx.ExecContext(ctx, st.SQL); err != nil {
				return fmt.Errorf("%w; nothing was created (one transaction)", failed(i, err))
			}
		}
		return tx.Commit()
	}
	// MySQL: records first, so a table of ours never lacks one.
	for _, t := range tables {
		if _, err := s.DB.ExecContext(ctx, clear, owner, t); err != nil {
			return err
		}
		if _, err := s.DB.ExecContext(ctx, record, owner, t, now); err != nil {
			return err
		}
	}
	var created []string
	for i, st := range stmts {
		if _, err := s.DB.ExecContext(ctx, st.SQL); err != nil {
			if _, derr := s.dropRecorded(context.WithoutCancel(ctx), owner, tables, true); derr != nil {
				return fmt.Errorf("%w; dropping the %d tables created before it failed too: %v", failed(i, err), len(created), derr)
			}
			if len(created) == 0 {
				return fmt.Errorf("%w; nothing had been created", failed(i, err))
			}
			return fmt.Errorf("%w; the tables the statements before it created were dropped (%s)", failed(i, err), strings.Join(created, ", "))
		}
		if st.Kind == CreateTable {
			created = append(created, st.Table)
		}
	}
	return nil
}

// dropRecorded drops tables recorded under owner (they must be ours)
// and, with forget, their records; it returns those it dropped, sorted. A
// table another of them references by foreign key cannot go first, so
// the drops repeat, in passes, while each pass drops one more.
func (s *Store) dropRecorded(ctx context.Context, owner string, tables []string, forget bool) ([]string, error) {
	var dropped []string
	left := tables
	for len(left) > 0 {
		var failed []string
		var lastErr error
		for _, t := range left {
			if _, err := s.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+s.d.quote(t)); err != nil {
				failed, lastErr = append(failed, t), fmt.Errorf("%s: %w", t, err)
				continue
			}
			if forget {
				if _, err := s.DB.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE owner = %s AND table_name = %s",
					s.d.quote(provisionTable), s.d.placeholder(1), s.d.placeholder(2)), owner, t); err != nil {
					sort.Strings(dropped)
					return dropped, fmt.Errorf("%s: remove its record: %w", t, err)
				}
			}
			dropped = append(dropped, t)
		}
		if len(failed) == len(left) {
			sort.Strings(dropped)
			return dropped, lastErr
		}
		left = failed
	}
	sort.Strings(dropped)
	return dropped, nil
}

// checkScriptShapes checks that the tables as the script created them fit
// the source; if not, it drops created (the tables this call made) and
// says what is wrong with each.
func (s *Store) checkScriptShapes(ctx context.Context, tables []*Table, name, owner string, created []string) error {
	var problems []string
	for _, src := range tables {
		dst, err := s.Introspect(ctx, src.Name)
		if err != nil {
			return fmt.Errorf("provision from %s: %w", name, err)
		}
		if p := ShapeProblems(src, dst); len(p) > 0 {
			problems = append(problems, fmt.Sprintf("table %s %s", src.Name, strings.Join(p, "; ")))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	undo := "fix the script"
	if len(created) > 0 {
		undo = "the tables it created were dropped; fix the script"
		if _, err := s.dropRecorded(context.WithoutCancel(ctx), owner, created, true); err != nil {
			undo = fmt.Sprintf("dropping the tables it created failed (%v); drop them and fix the script", err)
		}
	}
	return fmt.Errorf("provision from %s: %w: %s (%s)", name, ErrShapeMismatch, strings.Join(problems, "; "), undo)
}

// ShapeProblems says why a target table cannot take a copy of src: a
// source column it lacks, another primary key (the copy upserts by the
// source's key), a NOT NULL column without a default the source cannot
// fill. Empty: it fits.
func ShapeProblems(src, dst *Table) []string {
	var problems []string
	var missing []string
	for _, c := range src.Columns {
		if dst.Column(c.Name) == nil {
			missing = append(missing, fmt.Sprintf("%q", c.Name))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("lacks the source's column %s (it has %s)", strings.Join(missing, ", "), strings.Join(dst.ColumnNames(), ", ")))
	}
	if !sameSet(src.PrimaryKey, dst.PrimaryKey) {
		problems = append(problems, fmt.Sprintf("has primary key (%s) where the source has (%s): the copy writes by the source's key",
			strings.Join(dst.PrimaryKey, ", "), strings.Join(src.PrimaryKey, ", ")))
	}
	for _, c := range dst.Columns {
		if src.Column(c.Name) == nil && !c.Nullable && c.Default == nil && !c.AutoIncrement {
			problems = append(problems, fmt.Sprintf("has column %q NOT NULL without a default, which the source has no column to fill", c.Name))
		}
	}
	return problems
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

// CheckScript is ProvisionFromDDL's check of a script against the tables,
// changing nothing (for preflight): it parses, and must create exactly
// the tables and touch no other.
func CheckScript(engine Engine, script string, tables []*Table) error {
	stmts, err := ParseDDL(engine, script)
	if err != nil {
		return err
	}
	return matchScript(engine, stmts, tables)
}

// EmptyAll empties the tables (Empty), also when some reference others by
// foreign key, as a DDL script's tables may: PostgreSQL truncates them in
// one statement; elsewhere a table that cannot be emptied yet (its rows
// still referenced, or MySQL refusing TRUNCATE of a referenced table) is
// emptied by DELETE in a later pass, after the tables referencing it. On
// MySQL the checks are off for the session that empties them (a
// self-referencing table's rows could otherwise not go in one DELETE).
func (s *Store) EmptyAll(ctx context.Context, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	if s.Engine == MySQL {
		return s.emptyUnchecked(ctx, tables)
	}
	if s.Engine == Postgres {
		quoted := make([]string, len(tables))
		for i, t := range tables {
			quoted[i] = s.d.quote(t)
		}
		if _, err := s.DB.ExecContext(ctx, "TRUNCATE TABLE "+strings.Join(quoted, ", ")); err != nil {
			return fmt.Errorf("empty %s: %w", strings.Join(tables, ", "), err)
		}
		return nil
	}
	left := tables
	for len(left) > 0 {
		var failed []string
		var lastErr error
		for _, t := range left {
			if err := s.Empty(ctx, t); err != nil {
				if _, derr := s.DB.ExecContext(ctx, "DELETE FROM "+s.d.quote(t)); derr != nil {
					failed, lastErr = append(failed, t), fmt.Errorf("empty %s: %w", t, derr)
				}
			}
		}
		if len(failed) == len(left) {
			return lastErr
		}
		left = failed
	}
	return nil
}

// emptyUnchecked truncates MySQL tables on one connection with
// foreign_key_checks off; it is set back before the connection returns to
// the pool.
func (s *Store) emptyUnchecked(ctx context.Context, tables []string) error {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET foreign_key_checks = 0"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET foreign_key_checks = 1")
	for _, t := range tables {
		if _, err := conn.ExecContext(ctx, "TRUNCATE TABLE "+s.d.quote(t)); err != nil {
			return fmt.Errorf("empty %s: %w", t, err)
		}
	}
	return nil
}
