package datastore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/godwit/godwit/migration"
)

// Foreign keys cross engines like this (docs/data-plane.md):
//
//   - PostgreSQL and MySQL/MariaDB targets get them after the copy
//     (CreateForeignKeys), so the load needs no table order and no
//     per-row checks: on PostgreSQL ADD CONSTRAINT … NOT VALID, then
//     VALIDATE CONSTRAINT (which checks the rows without blocking writes);
//     on MySQL ADD CONSTRAINT, which checks the rows as it adds it.
//   - SQLite cannot add a constraint to an existing table: provision
//     declares them in CREATE TABLE (SQLite enforces them only on a
//     connection that turns foreign_keys on, which Godwit's never do), and
//     CreateForeignKeys runs PRAGMA foreign_key_check after the copy.
//
// A constraint that cannot be carried (its parent table is not on the
// target, the target refuses its action, rows violate it) is reported in a
// ForeignKeyResult, never dropped silently.

// ForeignKeyResult says which foreign keys a target has and which it has
// not, and why.
type ForeignKeyResult struct {
	// Carried are the constraints on the target, as "table.name".
	Carried []string `json:"carried,omitempty"`
	// NotCarried are the constraints the target lacks, each with why.
	NotCarried []string `json:"notCarried,omitempty"`
	// Violated are constraints declared on a SQLite target that rows of
	// the copy violate (SQLite keeps them; PRAGMA foreign_key_check lists them).
	Violated []string `json:"violated,omitempty"`
	// Changed are carried constraints whose action or deferral the
	// target spells otherwise, each with why (also in Carried).
	Changed []string `json:"changed,omitempty"`
	// Pending are the constraints of NotCarried left off only because
	// rows of the target violate them: under a live copy a child row may
	// arrive before its parent, which change capture brings later, so they
	// are worth trying again once the target has caught up
	// (RecordPendingForeignKeys, RetryPendingForeignKeys).
	Pending []PendingForeignKey `json:"pending,omitempty"`
}

// PendingForeignKey is a constraint of a target table that could not be
// added because rows violated it at the time.
type PendingForeignKey struct {
	Table string     `json:"table"`
	FK    ForeignKey `json:"fk"`
}

// add appends another result.
func (r *ForeignKeyResult) add(o ForeignKeyResult) {
	r.Carried = append(r.Carried, o.Carried...)
	r.NotCarried = append(r.NotCarried, o.NotCarried...)
	r.Violated = append(r.Violated, o.Violated...)
	r.Changed = append(r.Changed, o.Changed...)
	r.Pending = append(r.Pending, o.Pending...)
}

// Summary renders the result for a phase summary; empty when there were no
// foreign keys at all.
func (r ForeignKeyResult) Summary() string {
	var parts []string
	if len(r.Carried) > 0 {
		parts = append(parts, fmt.Sprintf("%s carried (%s)", migration.Count(len(r.Carried), "foreign key"), strings.Join(r.Carried, ", ")))
	}
	if len(r.Violated) > 0 {
		parts = append(parts, fmt.Sprintf("%d violated by copied rows: %s", len(r.Violated), strings.Join(r.Violated, "; ")))
	}
	if len(r.Changed) > 0 {
		parts = append(parts, fmt.Sprintf("%d with another action or deferral: %s", len(r.Changed), strings.Join(r.Changed, "; ")))
	}
	if len(r.NotCarried) > 0 {
		parts = append(parts, fmt.Sprintf("%s NOT carried: %s", migration.Count(len(r.NotCarried), "foreign key"), byReason(r.NotCarried)))
	}
	return strings.Join(parts, "; ")
}

// byReason joins "name: reason" entries with the keys that share a reason
// listed once before it ("a.fk, b.fk and 78 more: phase copy ... fanOut"),
// in the order the reasons first come: one reason 80 times over was most
// of a 300-table migration's status.
func byReason(entries []string) string {
	var reasons []string
	names := map[string][]string{}
	for _, e := range entries {
		name, reason, ok := strings.Cut(e, ": ")
		if !ok {
			name, reason = e, ""
		}
		if _, seen := names[reason]; !seen {
			reasons = append(reasons, reason)
		}
		names[reason] = append(names[reason], name)
	}
	out := make([]string, len(reasons))
	for i, reason := range reasons {
		out[i] = migration.Names(names[reason], migration.SummaryNames)
		if reason != "" {
			out[i] += ": " + reason
		}
	}
	return strings.Join(out, "; ")
}

// ForeignKeyName is the name a table's foreign key gets on a target:
// prefixed with the table's name (MySQL wants constraint names unique per
// database) and kept within 63 characters (PostgreSQL's limit).
func ForeignKeyName(table string, fk ForeignKey) string {
	n := IndexName(table, fk.Name)
	if len(n) <= 63 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(n))
	return fmt.Sprintf("%s_%08x", n[:54], h.Sum32())
}

// sameForeignKey reports whether two constraints have the same shape
// (names aside): a retried or hand-made constraint counts as present.
func sameForeignKey(a, b ForeignKey) bool {
	return a.RefTable == b.RefTable && strings.Join(a.Columns, "\x1f") == strings.Join(b.Columns, "\x1f") &&
		strings.Join(a.RefColumns, "\x1f") == strings.Join(b.RefColumns, "\x1f")
}

// foreignKeyClause renders CONSTRAINT … FOREIGN KEY … REFERENCES … for
// this store's engine, for a foreign key of t. changed, when not empty,
// says how the clause differs from the source's and why.
func (s *Store) foreignKeyClause(t *Table, fk ForeignKey) (clause, changed string, err error) {
	table := t.Name
	if len(fk.Columns) == 0 || len(fk.Columns) != len(fk.RefColumns) {
		return "", "", fmt.Errorf("it has %d columns referencing %d", len(fk.Columns), len(fk.RefColumns))
	}
	quoteAll := func(cols []string) string {
		q := make([]string, len(cols))
		for i, c := range cols {
			q[i] = s.d.quote(c)
		}
		return strings.Join(q, ", ")
	}
	clause = fmt.Sprintf("CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)",
		s.d.quote(ForeignKeyName(table, fk)), quoteAll(fk.Columns), s.d.quote(fk.RefTable), quoteAll(fk.RefColumns))
	var notes []string
	for _, a := range []struct{ on, action string }{{"DELETE", fk.OnDelete}, {"UPDATE", fk.OnUpdate}} {
		switch act := strings.ToUpper(strings.TrimSpace(a.action)); act {
		case "", "NO ACTION":
		case "SET DEFAULT":
			if s.Engine == MySQL {
				return "", "", fmt.Errorf("ON %s SET DEFAULT is not supported by InnoDB", a.on)
			}
			clause += " ON " + a.on + " " + act
		case "SET NULL":
			if s.Engine == MySQL {
				if c := notNullColumn(t, fk.Columns); c != "" {
					// InnoDB refuses the constraint; where the source has
					// it (PostgreSQL, SQLite) such a delete or update fails
					// on the NOT NULL column, as NO ACTION fails it.
					notes = append(notes, fmt.Sprintf("ON %s SET NULL on NOT NULL column %s is NO ACTION here (MySQL refuses SET NULL on a NOT NULL column; on the source such a change fails as well)", a.on, c))
					continue
				}
			}
			clause += " ON " + a.on + " " + act
		case "RESTRICT", "CASCADE":
			clause += " ON " + a.on + " " + act
		default:
			return "", "", fmt.Errorf("unknown action ON %s %s", a.on, act)
		}
	}
	// When the key is checked travels with it: an application that writes
	// a child before its parent in one transaction, which a deferred key
	// allows, must be able to on the target too.
	if fk.cycle != "" && s.Engine == Postgres {
		notes = append(notes, fmt.Sprintf("DEFERRABLE INITIALLY IMMEDIATE here, NOT DEFERRABLE on the source: it closes a cycle of keys (%s), "+
			"and change capture writes rows that reference each other across it (a new row of each) in one batch, checked at its commit; "+
			"a transaction that does not defer it sees no difference", fk.cycle))
	}
	switch fk.Deferrable {
	case "":
	case DeferrableImmediate, DeferrableDeferred:
		if s.Engine == MySQL {
			notes = append(notes, fmt.Sprintf("DEFERRABLE INITIALLY %s on the source: checked at each statement here (MySQL/MariaDB have no deferred constraints), so a transaction that writes a row before the row it references fails here", fk.Deferrable))
			break
		}
		clause += " DEFERRABLE INITIALLY " + fk.Deferrable
	default:
		return "", "", fmt.Errorf("unknown deferral %q", fk.Deferrable)
	}
	return clause, strings.Join(notes, "; "), nil
}

// notNullColumn is the first of cols that t declares NOT NULL ("" when
// none is, or t does not describe them).
func notNullColumn(t *Table, cols []string) string {
	for _, n := range cols {
		if c := t.Column(n); c != nil && !c.Nullable {
			return n
		}
	}
	return ""
}

// carryable returns t with only the foreign keys whose parent table is
// in present (the tables provisioned with it, and those already on the
// target); the others are reported as not carried.
func carryable(t *Table, present map[string]bool) (*Table, []string) {
	if len(t.ForeignKeys) == 0 {
		return t, nil
	}
	c := *t
	c.ForeignKeys = nil
	var not []string
	for _, fk := range t.ForeignKeys {
		if present[fk.RefTable] {
			c.ForeignKeys = append(c.ForeignKeys, fk)
			continue
		}
		not = append(not, fmt.Sprintf("%s.%s: references table %s, which is neither migrated nor on the target", t.Name, fk.Name, fk.RefTable))
	}
	return &c, not
}

// DependencyOrder sorts tables so that a table comes after those its
// foreign keys reference (self-references aside); a cycle is broken at its
// first table by name, and the tables that only depend on a cycle still
// come after it (Sakila's store and staff reference each other: customer,
// which references store, came first because it sorts first, and a batch
// writing a store and its customers was refused for good).
func DependencyOrder(tables []*Table) []*Table {
	byName := map[string]*Table{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	sorted := append([]*Table(nil), tables...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	done := map[string]bool{}
	var out []*Table
	for len(out) < len(sorted) {
		progress := false
		for _, t := range sorted {
			if done[t.Name] {
				continue
			}
			ready := true
			for _, fk := range t.ForeignKeys {
				if fk.RefTable != t.Name && byName[fk.RefTable] != nil && !done[fk.RefTable] {
					ready = false
				}
			}
			if ready {
				done[t.Name], progress = true, true
				out = append(out, t)
			}
		}
		if !progress { // a cycle: take the first left that is in one, by name
			var next *Table
			for _, t := range sorted {
				if done[t.Name] {
					continue
				}
				if next == nil {
					next = t
				}
				if inCycle(t, byName, done) {
					next = t
					break
				}
			}
			done[next.Name] = true
			out = append(out, next)
		}
	}
	return out
}

// inCycle says whether t reaches itself through the foreign keys of
// tables not yet done (self-references aside).
func inCycle(t *Table, byName map[string]*Table, done map[string]bool) bool {
	seen := map[string]bool{}
	var reaches func(from *Table) bool
	reaches = func(from *Table) bool {
		for _, fk := range from.ForeignKeys {
			next := byName[fk.RefTable]
			if next == nil || done[next.Name] || fk.RefTable == from.Name {
				continue
			}
			if next.Name == t.Name {
				return true
			}
			if !seen[next.Name] {
				seen[next.Name] = true
				if reaches(next) {
					return true
				}
			}
		}
		return false
	}
	return reaches(t)
}

// deferCycleKeys makes the keys of t (a copy, see carryable) that close a
// cycle among the tables of byName deferrable (INITIALLY IMMEDIATE): tables that
// reference each other (Sakila's store and staff) can have new rows that
// reference each other, which no order of writes lets in one by one, and
// change capture writes a batch table by table (cdc's apply defers the
// deferrable keys to the batch's commit). A key the source declares
// deferrable keeps its own deferral. Self-references are left: a table's
// rows are written by one statement, checked at its end.
func deferCycleKeys(t *Table, byName map[string]*Table) {
	for i := range t.ForeignKeys {
		fk := &t.ForeignKeys[i]
		if fk.Deferrable != "" || fk.RefTable == t.Name {
			continue
		}
		if path := keyPath(fk.RefTable, t.Name, byName, map[string]bool{}); path != nil {
			fk.Deferrable = DeferrableImmediate
			fk.cycle = strings.Join(append([]string{t.Name}, path...), " → ")
		}
	}
}

// keyPath is the tables from, …, to that foreign keys lead through (nil
// when none do), visiting each table once.
func keyPath(from, to string, byName map[string]*Table, seen map[string]bool) []string {
	if from == to {
		return []string{to}
	}
	t := byName[from]
	if t == nil || seen[from] {
		return nil
	}
	seen[from] = true
	for _, fk := range t.ForeignKeys {
		if fk.RefTable == from {
			continue
		}
		if rest := keyPath(fk.RefTable, to, byName, seen); rest != nil {
			return append([]string{from}, rest...)
		}
	}
	return nil
}

// CreateForeignKeys gives the target the (source) tables' foreign keys,
// after the copy, in dependency order; see the comment at the top of this
// file for each engine. It is idempotent: a constraint of the same shape
// already on the target counts as carried (on PostgreSQL it is validated
// again, in case an earlier attempt died between ADD and VALIDATE). A
// constraint the target refuses — its rows violate it, its parent is not
// there, its action is not supported — is reported in NotCarried and does
// not fail the call; an error is returned only for what a retry may fix
// (a lost connection).
func CreateForeignKeys(ctx context.Context, target *Store, tables []*Table) (ForeignKeyResult, error) {
	var res ForeignKeyResult
	names, err := target.ListTables(ctx)
	if err != nil {
		return res, fmt.Errorf("foreign keys: %w", err)
	}
	present := map[string]bool{}
	for _, n := range names {
		present[n] = true
	}
	byName := map[string]*Table{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	for _, src := range DependencyOrder(tables) {
		if len(src.ForeignKeys) == 0 {
			continue
		}
		if !present[src.Name] {
			for _, fk := range src.ForeignKeys {
				res.NotCarried = append(res.NotCarried, fmt.Sprintf("%s.%s: table %s is not on the target", src.Name, fk.Name, src.Name))
			}
			continue
		}
		t, not := carryable(src, present)
		res.NotCarried = append(res.NotCarried, not...)
		if target.Engine == Postgres {
			deferCycleKeys(t, byName)
		}
		have, err := target.Introspect(ctx, t.Name)
		if err != nil {
			return res, fmt.Errorf("foreign keys of %s: %w", t.Name, err)
		}
		var r ForeignKeyResult
		if target.Engine == SQLite {
			r, err = target.checkSQLiteForeignKeys(ctx, t, have)
		} else {
			r, err = target.addForeignKeys(ctx, t, have)
		}
		res.add(r)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// addForeignKeys adds t's foreign keys to a PostgreSQL or MySQL table.
func (s *Store) addForeignKeys(ctx context.Context, t, have *Table) (ForeignKeyResult, error) {
	var res ForeignKeyResult
	for _, fk := range t.ForeignKeys {
		label := t.Name + "." + fk.Name
		name := ForeignKeyName(t.Name, fk)
		var existing *ForeignKey
		for i := range have.ForeignKeys {
			if sameForeignKey(have.ForeignKeys[i], fk) {
				existing = &have.ForeignKeys[i]
			}
		}
		if existing == nil {
			clause, changed, err := s.foreignKeyClause(t, fk)
			if err != nil {
				res.NotCarried = append(res.NotCarried, fmt.Sprintf("%s: %v", label, err))
				continue
			}
			if changed != "" {
				res.Changed = append(res.Changed, label+": "+changed)
			}
			q := "ALTER TABLE " + s.d.quote(t.Name) + " ADD " + clause
			switch s.Engine {
			case Postgres:
				_, err = s.DB.ExecContext(ctx, q+" NOT VALID") // checked below, without holding writes off
			case MySQL:
				err = s.addForeignKeyInPlace(ctx, q)
			default:
				_, err = s.DB.ExecContext(ctx, q)
			}
			if err != nil {
				if !isServerError(err) {
					return res, fmt.Errorf("add foreign key %s: %w", label, err)
				}
				res.NotCarried = append(res.NotCarried, fmt.Sprintf("%s: the target refused it: %v", label, err))
				continue
			}
		} else {
			name = existing.Name
		}
		if s.Engine == Postgres || s.Engine == MySQL {
			if err := s.validateForeignKey(ctx, t.Name, name, fk); err != nil {
				if !isServerError(err) && !errors.Is(err, errOrphans) {
					return res, fmt.Errorf("validate foreign key %s: %w", label, err)
				}
				// A constraint NOT VALID would still refuse later writes
				// that the source accepts: take it away and say why.
				drop := fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", s.d.quote(t.Name), s.d.quote(name))
				if s.Engine == MySQL {
					drop = fmt.Sprintf("ALTER TABLE %s DROP FOREIGN KEY %s", s.d.quote(t.Name), s.d.quote(name))
				}
				if _, derr := s.DB.ExecContext(ctx, drop); derr != nil {
					return res, fmt.Errorf("foreign key %s failed validation (%v) and dropping it failed: %w", label, err, derr)
				}
				if errors.Is(err, errOrphans) || isForeignKeyViolation(err) {
					res.Pending = append(res.Pending, PendingForeignKey{Table: t.Name, FK: fk})
				}
				if !errors.Is(err, errOrphans) {
					err = fmt.Errorf("%w: %v", errOrphans, err)
				}
				res.NotCarried = append(res.NotCarried, fmt.Sprintf("%s: %v", label, err))
				continue
			}
		}
		res.Carried = append(res.Carried, t.Name+"."+name)
	}
	return res, nil
}

// addForeignKeyInPlace runs alter (ALTER TABLE … ADD CONSTRAINT … FOREIGN
// KEY) on MySQL/MariaDB without rebuilding the table: with
// foreign_key_checks on, InnoDB can add a foreign key only by copying the
// whole table while it refuses writes (22 s for a million rows here,
// hours for a large table, with the replication into it stalled); with
// them off, for this session only, it adds it in place (0.5 s). The
// constraint then holds for every later write of every session, and
// validateForeignKey checks the rows already there, as PostgreSQL's NOT
// VALID then VALIDATE does.
func (s *Store) addForeignKeyInPlace(ctx context.Context, alter string) error {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, alter+", ALGORITHM=INPLACE, LOCK=NONE")
	if s.IsAlgorithmRefused(err) {
		_, err = conn.ExecContext(ctx, alter)
	}
	if _, rerr := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 1"); rerr != nil {
		// Never hand a session with the checks off back to the pool.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return err
}

// errOrphans says a table holds rows its new foreign key refuses.
var errOrphans = errors.New("copied rows violate it")

// validateForeignKey checks that every row of table satisfies fk (named
// name on the target): PostgreSQL validates the NOT VALID constraint;
// on MySQL/MariaDB, where it was added with the checks off, a query
// looks for one row whose referenced row is missing (a row with a NULL
// in the key's columns references nothing, as MATCH SIMPLE says).
func (s *Store) validateForeignKey(ctx context.Context, table, name string, fk ForeignKey) error {
	if s.Engine == Postgres {
		_, err := s.DB.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", s.d.quote(table), s.d.quote(name)))
		return err
	}
	var notNull, match []string
	for i, c := range fk.Columns {
		notNull = append(notNull, "c."+s.d.quote(c)+" IS NOT NULL")
		match = append(match, "p."+s.d.quote(fk.RefColumns[i])+" = c."+s.d.quote(c))
	}
	q := fmt.Sprintf("SELECT 1 FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s) LIMIT 1",
		s.d.quote(table), strings.Join(notNull, " AND "), s.d.quote(fk.RefTable), strings.Join(match, " AND "))
	var one int
	switch err := s.DB.QueryRowContext(ctx, q).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%w: a row of %s references a missing row of %s", errOrphans, table, fk.RefTable)
}

// checkSQLiteForeignKeys reports which of t's foreign keys the SQLite
// table declares, and runs PRAGMA foreign_key_check on it.
func (s *Store) checkSQLiteForeignKeys(ctx context.Context, t, have *Table) (ForeignKeyResult, error) {
	var res ForeignKeyResult
	// foreign_key_check's fkid is pragma_foreign_key_list's id; the
	// introspected constraints are in the order of those ids.
	rows, err := s.DB.QueryContext(ctx, `SELECT fkid, count(*) FROM pragma_foreign_key_check(?) GROUP BY fkid`, t.Name)
	if err != nil {
		return res, fmt.Errorf("foreign_key_check on %s: %w", t.Name, err)
	}
	violations := map[int]int64{}
	for rows.Next() {
		var id int
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return res, err
		}
		violations[id] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("foreign_key_check on %s: %w", t.Name, err)
	}
	ids, err := queryInts(ctx, s, `SELECT DISTINCT id FROM pragma_foreign_key_list(?) ORDER BY id`, t.Name)
	if err != nil {
		return res, fmt.Errorf("foreign keys of %s: %w", t.Name, err)
	}
	for _, fk := range t.ForeignKeys {
		label := t.Name + "." + fk.Name
		found := -1
		for i := range have.ForeignKeys {
			if sameForeignKey(have.ForeignKeys[i], fk) && i < len(ids) {
				found = ids[i]
			}
		}
		switch {
		case found < 0:
			res.NotCarried = append(res.NotCarried, label+": SQLite cannot add a foreign key to an existing table, and this one was not declared when it was created")
		case violations[found] > 0:
			res.Violated = append(res.Violated, fmt.Sprintf("%s: %d rows of %s have no parent in %s (PRAGMA foreign_key_check)", label, violations[found], t.Name, fk.RefTable))
		default:
			res.Carried = append(res.Carried, label)
		}
	}
	return res, nil
}

func queryInts(ctx context.Context, s *Store, q string, args ...any) ([]int, error) {
	rows, err := s.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// isForeignKeyViolation reports whether PostgreSQL refused a VALIDATE
// CONSTRAINT because rows violate it (SQLSTATE 23503).
func isForeignKeyViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23503"
}

// isServerError reports whether the database answered with an error (the
// statement was refused) rather than the connection failing.
func isServerError(err error) bool {
	var pg *pgconn.PgError
	var my *mysql.MySQLError
	return errors.As(err, &pg) || errors.As(err, &my)
}

// DropForeignKeys drops every foreign key of the tables (those that
// exist), so they can then be dropped in any order; the compensation of
// provision runs it first. SQLite's go with their tables.
func DropForeignKeys(ctx context.Context, s *Store, tables []string) error {
	if s.Engine == SQLite {
		return nil
	}
	for _, name := range tables {
		t, err := s.d.introspect(ctx, s.DB, name)
		if err != nil {
			return fmt.Errorf("drop foreign keys of %s: %w", name, err)
		}
		if t == nil {
			continue
		}
		for _, fk := range t.ForeignKeys {
			q := fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", s.d.quote(name), s.d.quote(fk.Name))
			if s.Engine == MySQL {
				q = fmt.Sprintf("ALTER TABLE %s DROP FOREIGN KEY %s", s.d.quote(name), s.d.quote(fk.Name))
			}
			if _, err := s.DB.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("drop foreign key %s of %s: %w", fk.Name, name, err)
			}
		}
	}
	return nil
}
