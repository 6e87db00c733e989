package cdc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/godwit/godwit/datastore"
)

// The changelog's own columns; the source's key columns follow under their
// own names (the prefix keeps them apart from a source key called id).
const (
	colSeq = "godwit_seq" // order of capture, never reused
	colOp  = "godwit_op"  // I, U or D: for people reading the table; the drain reads the row's state (T: the table was truncated)
	colAt  = "godwit_at"  // capture time (UTC), for the lag

	opTruncate = "T" // a PostgreSQL TRUNCATE: the entry has no key
)

// triggerTable is one captured table of the triggers method.
type triggerTable struct {
	src *datastore.Table
	// view is what the drain reads of a changed row: src, or its mapped
	// view (tablePair.view).
	view      *datastore.Table
	changelog string
	keyTypes  []string // DDL of the key columns in the changelog
}

func (t *triggerTable) keyCols() []string { return t.src.PrimaryKey }

// setupTriggers creates, for each table, the changelog and the triggers
// that fill it. Objects that exist are kept, so it can be repeated; a
// trigger is never dropped and re-created (a change made in between would
// be lost).
func setupTriggers(ctx context.Context, o Options) ([]string, error) {
	var created []string
	if o.Source.Engine == datastore.SQLite {
		made, err := createOriginTable(ctx, o.Source)
		if err != nil {
			return nil, err
		}
		created = append(created, made...)
	}
	captured := map[string]*triggerTable{}
	for _, name := range o.Tables {
		tt, err := loadTriggerTable(ctx, o.Source, o.Name, name)
		if err != nil {
			return created, err
		}
		captured[tt.src.Name] = tt
		made, err := createCapture(ctx, o.Source, o.Name, tt)
		created = append(created, made...)
		if err != nil {
			return created, fmt.Errorf("set up triggers on %s: %w", name, err)
		}
		if o.Source.Engine == datastore.Postgres {
			made, err := captureInheritors(ctx, o.Source, o.Name, tt)
			created = append(created, made...)
			if err != nil {
				return created, fmt.Errorf("set up triggers on the tables that inherit from %s: %w", name, err)
			}
		}
	}
	// Every changelog exists now: the triggers that record what a foreign
	// key's action does to other captured tables can name them.
	if o.Source.Engine == datastore.MySQL {
		for _, name := range o.Tables {
			tt := captured[name]
			made, err := createTriggers(ctx, o.Source, tt, fkActionTriggers(o.Source, o.Name, tt, captured))
			created = append(created, made...)
			if err != nil {
				return created, fmt.Errorf("set up triggers on %s: %w", name, err)
			}
		}
		// A parent that is not captured changes its captured children
		// through its keys' actions all the same (Sakila's payment,
		// captured without rental: a rental's key change moved payments
		// to the new key, a delete nulled their rental_id, and no
		// trigger heard of it): it gets the triggers that record them,
		// and no changelog of its own. Teardown finds them by the
		// capture's prefix like the others.
		for _, parent := range uncapturedParents(captured) {
			pt, err := o.Source.Introspect(ctx, parent)
			if err != nil {
				return created, fmt.Errorf("set up foreign-key action triggers on %s, a parent of captured tables: %w", parent, err)
			}
			tt := &triggerTable{src: pt}
			made, err := createTriggers(ctx, o.Source, tt, fkActionTriggers(o.Source, o.Name, tt, captured))
			created = append(created, made...)
			if err != nil {
				return created, fmt.Errorf("set up foreign-key action triggers on %s, a parent of captured tables: %w", parent, err)
			}
		}
	}
	return created, nil
}

// captureInheritors gives each table that inherits from tt on PostgreSQL
// (INHERITS, not a partition: PostgreSQL clones a partitioned table's
// trigger onto its partitions itself) tt's row trigger, recording into
// tt's changelog. A read of tt includes their rows, so the copy carried
// them, and the drain reads them back through tt by key; but a write to
// one fires only its own triggers: jOOQ's Sakila routes each 2007
// payment into payment_p2007_NN by a rule, and such a payment inserted
// during the capture never reached the target. Teardown drops these
// triggers with the others (listObjects finds them by name).
func captureInheritors(ctx context.Context, s *datastore.Store, capture string, tt *triggerTable) ([]string, error) {
	rows, err := s.DB.QueryContext(ctx, `WITH RECURSIVE kids AS (
			SELECT i.inhrelid FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
			JOIN pg_namespace n ON n.oid = p.relnamespace
			WHERE n.nspname = current_schema() AND p.relname = $1
			UNION
			SELECT i.inhrelid FROM pg_inherits i JOIN kids k ON i.inhparent = k.inhrelid)
		SELECT c.relname FROM kids k JOIN pg_class c ON c.oid = k.inhrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r' AND NOT c.relispartition
		ORDER BY c.relname`, tt.src.Name)
	if err != nil {
		return nil, fmt.Errorf("list the tables that inherit from %s: %w", tt.src.Name, err)
	}
	var kids []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, err
		}
		kids = append(kids, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	name := triggerName(capture, tt.src.Name, "iud")
	fn := functionName(capture, tt.src.Name)
	var created []string
	for _, k := range kids {
		def := triggerDef{name: name, stmts: []string{fmt.Sprintf(
			"CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s()",
			s.Quote(name), s.Quote(k), s.Quote(fn))}}
		made, err := createTriggers(ctx, s, &triggerTable{src: &datastore.Table{Name: k}}, []triggerDef{def})
		created = append(created, made...)
		if err != nil {
			return created, err
		}
	}
	return created, nil
}

// uncapturedParents are the tables, not captured themselves, that a
// captured table references through a foreign key with an action that
// changes child rows (ON DELETE or ON UPDATE CASCADE, SET NULL, SET
// DEFAULT), sorted. A self-reference is captured with its table.
func uncapturedParents(captured map[string]*triggerTable) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range captured {
		for _, fk := range c.src.ForeignKeys {
			if _, in := captured[fk.RefTable]; in || seen[fk.RefTable] {
				continue
			}
			if acts(fk.OnDelete) || acts(fk.OnUpdate) {
				seen[fk.RefTable] = true
				out = append(out, fk.RefTable)
			}
		}
	}
	sort.Strings(out)
	return out
}

func loadTriggerTable(ctx context.Context, s *datastore.Store, capture, name string) (*triggerTable, error) {
	src, err := s.Introspect(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := src.CheckCopyable(); err != nil {
		return nil, err
	}
	tt := &triggerTable{src: src, changelog: changelogName(capture, name)}
	for _, k := range src.PrimaryKey {
		typ, err := keyColumnDDL(ctx, s, src, k)
		if err != nil {
			return nil, fmt.Errorf("key column %s.%s: %w", name, k, err)
		}
		tt.keyTypes = append(tt.keyTypes, typ)
	}
	return tt, nil
}

// keyColumnDDL is a key column's type as the changelog declares it: the
// source's own type (with its collation on MySQL, so the join back to the
// table uses its primary key).
func keyColumnDDL(ctx context.Context, s *datastore.Store, t *datastore.Table, col string) (string, error) {
	c := t.Column(col)
	if s.Engine != datastore.MySQL {
		if c.NativeType == "" {
			return "TEXT", nil
		}
		return c.NativeType, nil
	}
	var coll sql.NullString
	err := s.DB.QueryRowContext(ctx, `SELECT COLLATION_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?`, t.Name, col).Scan(&coll)
	if err != nil {
		return "", err
	}
	if coll.Valid && coll.String != "" {
		return c.NativeType + " COLLATE " + coll.String, nil
	}
	return c.NativeType, nil
}

func createCapture(ctx context.Context, s *datastore.Store, capture string, tt *triggerTable) ([]string, error) {
	var created []string
	exists, err := tableExists(ctx, s, tt.changelog)
	if err != nil {
		return nil, err
	}
	if !exists {
		if _, err := s.DB.ExecContext(ctx, changelogDDL(s, tt)); err != nil {
			return nil, fmt.Errorf("create changelog %s: %w", tt.changelog, err)
		}
		created = append(created, "table "+tt.changelog)
	}
	made, err := createTriggers(ctx, s, tt, triggerDDL(s, capture, tt))
	return append(created, made...), err
}

// createTriggers creates those of defs the table does not have yet.
func createTriggers(ctx context.Context, s *datastore.Store, tt *triggerTable, defs []triggerDef) ([]string, error) {
	if len(defs) == 0 {
		return nil, nil
	}
	var created []string
	have, err := listTriggers(ctx, s, tt.src.Name)
	if err != nil {
		return created, err
	}
	for _, tr := range defs {
		if have[tr.name] {
			continue
		}
		for _, stmt := range tr.stmts {
			if _, err := s.DB.ExecContext(ctx, stmt); err != nil {
				return created, fmt.Errorf("create trigger %s: %w", tr.name, err)
			}
		}
		created = append(created, "trigger "+tr.name)
		if tr.also != "" {
			created = append(created, tr.also)
		}
	}
	return created, nil
}

func changelogDDL(s *datastore.Store, tt *triggerTable) string {
	q := s.Quote
	var cols []string
	switch s.Engine {
	case datastore.Postgres:
		cols = append(cols, q(colSeq)+" bigserial PRIMARY KEY", q(colOp)+" char(1) NOT NULL",
			q(colAt)+" timestamptz NOT NULL DEFAULT clock_timestamp()")
	case datastore.MySQL:
		cols = append(cols, q(colSeq)+" BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", q(colOp)+" CHAR(1) NOT NULL",
			q(colAt)+" DATETIME(6) NOT NULL")
	default:
		cols = append(cols, q(colSeq)+" INTEGER PRIMARY KEY AUTOINCREMENT", q(colOp)+" TEXT NOT NULL",
			q(colAt)+" REAL NOT NULL")
	}
	for i, k := range tt.keyCols() {
		cols = append(cols, q(k)+" "+tt.keyTypes[i])
	}
	ddl := "CREATE TABLE " + q(tt.changelog) + " (" + strings.Join(cols, ", ") + ")"
	if s.Engine == datastore.MySQL {
		ddl += " ENGINE=InnoDB"
	}
	return ddl
}

type triggerDef struct {
	name  string
	stmts []string
	also  string // another object the statements create (PostgreSQL's function)
}

// triggerDDL is the engine's triggers for one table. An update that moves
// a row to another key records the old key too, so the old row is deleted
// on the target.
func triggerDDL(s *datastore.Store, capture string, tt *triggerTable) []triggerDef {
	q := s.Quote
	keys := tt.keyCols()
	var keyList, newList, oldList, distinct []string
	for _, k := range keys {
		keyList = append(keyList, q(k))
		newList = append(newList, "NEW."+q(k))
		oldList = append(oldList, "OLD."+q(k))
	}
	cl, tbl := q(tt.changelog), q(tt.src.Name)
	into := "INSERT INTO " + cl + " (" + q(colOp) + ", " + q(colAt) + ", " + strings.Join(keyList, ", ") + ")"
	switch s.Engine {
	case datastore.Postgres:
		into = "INSERT INTO " + cl + " (" + q(colOp) + ", " + strings.Join(keyList, ", ") + ")"
		fn := functionName(capture, tt.src.Name)
		body := fmt.Sprintf(`CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $godwit$
BEGIN
  IF coalesce(current_setting('%s', true), '') <> '' THEN
    RETURN NULL; -- written by a replication stream: not captured again
  END IF;
  IF TG_OP = 'DELETE' THEN
    %s VALUES ('D', %s);
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND (%s) IS DISTINCT FROM (%s) THEN
    %s VALUES ('D', %s);
  END IF;
  %s VALUES (left(TG_OP, 1), %s);
  RETURN NEW;
END
$godwit$`, q(fn), originSetting, into, strings.Join(oldList, ", "),
			rowExpr(oldList), rowExpr(newList), into, strings.Join(oldList, ", "), into, strings.Join(newList, ", "))
		name := triggerName(capture, tt.src.Name, "iud")
		// TRUNCATE fires no row trigger: a statement trigger records it
		// as one entry (op T, no key) that the drain turns into emptying
		// the target table before the entries after it.
		tfn := functionName(capture, tt.src.Name+"_t")
		tbody := fmt.Sprintf(`CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $godwit$
BEGIN
  IF coalesce(current_setting('%s', true), '') <> '' THEN
    RETURN NULL;
  END IF;
  INSERT INTO %s (%s) VALUES ('%s');
  RETURN NULL;
END
$godwit$`, q(tfn), originSetting, cl, q(colOp), opTruncate)
		tname := triggerName(capture, tt.src.Name, "t")
		return []triggerDef{
			{name: name, also: "function " + fn, stmts: []string{body,
				fmt.Sprintf("CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s()", q(name), tbl, q(fn))}},
			{name: tname, also: "function " + tfn, stmts: []string{tbody,
				fmt.Sprintf("CREATE TRIGGER %s AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s()", q(tname), tbl, q(tfn))}},
		}
	case datastore.MySQL:
		now := "UTC_TIMESTAMP(6)"
		for _, k := range keys {
			distinct = append(distinct, "OLD."+q(k)+" <=> NEW."+q(k))
		}
		ins := triggerName(capture, tt.src.Name, "i")
		upd := triggerName(capture, tt.src.Name, "u")
		del := triggerName(capture, tt.src.Name, "d")
		// Nothing is recorded for a write of a replication stream.
		skip := "IF " + originVar + " IS NULL THEN "
		return []triggerDef{
			{name: ins, stmts: []string{fmt.Sprintf("CREATE TRIGGER %s AFTER INSERT ON %s FOR EACH ROW BEGIN %s%s VALUES ('I', %s, %s); END IF; END",
				q(ins), tbl, skip, into, now, strings.Join(newList, ", "))}},
			{name: upd, stmts: []string{fmt.Sprintf("CREATE TRIGGER %s AFTER UPDATE ON %s FOR EACH ROW BEGIN %sIF NOT (%s) THEN %s VALUES ('D', %s, %s); END IF; %s VALUES ('U', %s, %s); END IF; END",
				q(upd), tbl, skip, strings.Join(distinct, " AND "), into, now, strings.Join(oldList, ", "), into, now, strings.Join(newList, ", "))}},
			{name: del, stmts: []string{fmt.Sprintf("CREATE TRIGGER %s AFTER DELETE ON %s FOR EACH ROW BEGIN %s%s VALUES ('D', %s, %s); END IF; END",
				q(del), tbl, skip, into, now, strings.Join(oldList, ", "))}},
		}
	default:
		now := "julianday('now')"
		for _, k := range keys {
			distinct = append(distinct, "OLD."+q(k)+" IS NEW."+q(k))
		}
		ins := triggerName(capture, tt.src.Name, "i")
		upd := triggerName(capture, tt.src.Name, "u")
		del := triggerName(capture, tt.src.Name, "d")
		// Nothing is recorded while the applier's marker row exists (see
		// origin.go).
		when := "WHEN NOT EXISTS (SELECT 1 FROM " + q(originTable) + ")"
		return []triggerDef{
			{name: ins, stmts: []string{fmt.Sprintf("CREATE TRIGGER %s AFTER INSERT ON %s %s BEGIN %s VALUES ('I', %s, %s); END",
				q(ins), tbl, when, into, now, strings.Join(newList, ", "))}},
			{name: upd, stmts: []string{fmt.Sprintf("CREATE TRIGGER %s AFTER UPDATE ON %s %s BEGIN %s SELECT 'D', %s, %s WHERE NOT (%s); %s VALUES ('U', %s, %s); END",
				q(upd), tbl, when, into, now, strings.Join(oldList, ", "), strings.Join(distinct, " AND "), into, now, strings.Join(newList, ", "))}},
			{name: del, stmts: []string{fmt.Sprintf("CREATE TRIGGER %s AFTER DELETE ON %s %s BEGIN %s VALUES ('D', %s, %s); END",
				q(del), tbl, when, into, now, strings.Join(oldList, ", "))}},
		}
	}
}

func rowExpr(cols []string) string {
	if len(cols) == 1 {
		return cols[0]
	}
	return "ROW(" + strings.Join(cols, ", ") + ")"
}

// teardownTriggers drops the triggers first (so no write lands in a
// changelog about to go), then the changelogs and functions. Objects
// already gone are skipped.
func teardownTriggers(ctx context.Context, s *datastore.Store, capture string) ([]string, error) {
	objs, err := listObjects(ctx, s, capture)
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, kind := range []string{"trigger", "table", "function"} {
		for _, o := range objs {
			if o.Kind != kind {
				continue
			}
			var stmt string
			switch {
			case kind == "trigger" && s.Engine == datastore.Postgres:
				stmt = "DROP TRIGGER IF EXISTS " + s.Quote(o.Name) + " ON " + s.Quote(o.Table)
			case kind == "trigger":
				stmt = "DROP TRIGGER IF EXISTS " + s.Quote(o.Name)
			case kind == "table":
				stmt = "DROP TABLE IF EXISTS " + s.Quote(o.Name)
			case kind == "function":
				stmt = "DROP FUNCTION IF EXISTS " + s.Quote(o.Name) + "()"
			}
			if _, err := s.DB.ExecContext(ctx, stmt); err != nil {
				return dropped, fmt.Errorf("drop %s %s: %w", kind, o.Name, err)
			}
			dropped = append(dropped, kind+" "+o.Name)
		}
	}
	more, err := dropOriginTable(ctx, s)
	return append(dropped, more...), err
}

func tableExists(ctx context.Context, s *datastore.Store, name string) (bool, error) {
	var n int
	var err error
	switch s.Engine {
	case datastore.Postgres:
		err = s.DB.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = $1`, name).Scan(&n)
	case datastore.MySQL:
		err = s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES
			WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, name).Scan(&n)
	default:
		err = s.DB.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("look for table %s: %w", name, err)
	}
	return n > 0, nil
}

func listTriggers(ctx context.Context, s *datastore.Store, table string) (map[string]bool, error) {
	var q string
	switch s.Engine {
	case datastore.Postgres:
		q = `SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relname = $1 AND NOT t.tgisinternal`
	case datastore.MySQL:
		q = `SELECT TRIGGER_NAME FROM information_schema.TRIGGERS
			WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ?`
	default:
		q = `SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?`
	}
	rows, err := s.DB.QueryContext(ctx, q, table)
	if err != nil {
		return nil, fmt.Errorf("list triggers of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

// triggerReader drains the changelogs: it reads the oldest entries with
// the row's current state (a LEFT JOIN on the key: no row means deleted),
// and once they are applied deletes exactly the entries it read. An entry
// committed late with a lower number is still there for the next read,
// which a "last number read" position would skip.
type triggerReader struct {
	s      *datastore.Store
	tables []*triggerTable
	keyIdx map[string][]int
	// checked is when the tables' columns were last compared with the
	// shape the run started with (triggers record keys only, so a column
	// added on the source would otherwise be left out without a word).
	checked time.Time
}

// drainPoll is how often an empty changelog is read again.
const drainPoll = 50 * time.Millisecond

// driftEvery is how often a trigger run introspects its source tables
// again to notice a changed shape (schema drift).
const driftEvery = 2 * time.Second

func openTriggers(ctx context.Context, o Options, tables map[string]tablePair) (*triggerReader, error) {
	r := &triggerReader{s: o.Source, keyIdx: map[string][]int{}, checked: time.Now()}
	for _, name := range sortedNames(tables) {
		src, view := tables[name].src, tables[name].view
		tt := &triggerTable{src: src, view: view, changelog: changelogName(o.Name, name)}
		ok, err := tableExists(ctx, o.Source, tt.changelog)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: changelog %s of table %s does not exist", ErrNotSetUp, tt.changelog, name)
		}
		r.tables = append(r.tables, tt)
		r.keyIdx[name] = view.KeyIndexes()
	}
	return r, nil
}

func (r *triggerReader) close() {}

func (r *triggerReader) next(ctx context.Context, maxChanges int, wait time.Duration) (batch, error) {
	if err := r.checkDrift(ctx); err != nil {
		return batch{}, err
	}
	deadline := time.Now().Add(wait)
	for {
		b, err := r.readAll(ctx, maxChanges)
		if err != nil {
			return batch{}, err
		}
		if b.n > 0 || !time.Now().Before(deadline) {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return batch{}, ctx.Err()
		case <-time.After(min(drainPoll, time.Until(deadline))):
		}
	}
}

// afterTableRead, when set (by tests), runs after each changelog's read.
var afterTableRead func(table string)

// readAll reads up to room entries of the changelogs in one read-only
// snapshot of the source: the rows a batch carries are then one state of
// the source, which its foreign keys held. Read one by one, a parent and
// its child deleted between two reads gave a batch with the parent's
// delete and not the child's, which a target with the foreign key refused.
//
// Each changelog gets an equal share of room; when some have more entries
// than their share, the room the others left is shared among those and
// they are read again (in the same snapshot). Without it, a table
// reloaded in one transaction (TRUNCATE, then more rows than its share)
// never got more than its share however wide applyGrowing made the batch,
// and a child row referencing one of its last rows was refused for good.
func (r *triggerReader) readAll(ctx context.Context, room int) (batch, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if r.s.Engine != datastore.SQLite { // SQLite: a read transaction is a snapshot already
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := r.s.DB.BeginTx(ctx, opts)
	if err != nil {
		return batch{}, fmt.Errorf("read the changelogs: %w", err)
	}
	defer tx.Rollback()
	per := max(room/max(len(r.tables), 1), 1)
	limits := map[string]int{}
	for _, tt := range r.tables {
		limits[tt.changelog] = per
	}
	b, counts, err := r.readTables(ctx, tx, limits)
	if err != nil || !b.cut {
		return b, err
	}
	left, full := room, 0
	for _, tt := range r.tables {
		if counts[tt.changelog] < per {
			left -= counts[tt.changelog]
		} else {
			full++
		}
	}
	share := left / max(full, 1)
	if share <= per {
		return b, nil
	}
	for _, tt := range r.tables {
		if counts[tt.changelog] >= per {
			limits[tt.changelog] = share
		}
	}
	b, _, err = r.readTables(ctx, tx, limits)
	return b, err
}

// readTables reads every changelog, up to its limit, in tx; counts are the
// entries read of each.
func (r *triggerReader) readTables(ctx context.Context, tx *sql.Tx, limits map[string]int) (batch, map[string]int, error) {
	b := batch{seqs: map[string][]int64{}}
	for _, tt := range r.tables {
		if err := r.read(ctx, tx, tt, limits[tt.changelog], &b); err != nil {
			return batch{}, nil, err
		}
		if afterTableRead != nil {
			afterTableRead(tt.src.Name)
		}
	}
	counts := map[string]int{}
	for cl, seqs := range b.seqs {
		counts[cl] = len(seqs)
	}
	return b, counts, nil
}

// checkDrift fails the run with ErrSchemaDrift, naming the change, when a
// source table's columns are no longer those the run started with, at
// most every driftEvery. Changes read before the check are all applied,
// with the shape they were read in.
func (r *triggerReader) checkDrift(ctx context.Context) error {
	if time.Since(r.checked) < driftEvery {
		return nil
	}
	for _, tt := range r.tables {
		err := r.s.CheckDrift(ctx, tt.src)
		var d *datastore.DriftError
		switch {
		case errors.As(err, &d):
			return fmt.Errorf("%w: table %s: %s", ErrSchemaDrift, d.Table, strings.Join(d.Changes, "; "))
		case err != nil:
			return fmt.Errorf("table %s: %w", tt.src.Name, err)
		}
	}
	r.checked = time.Now()
	return nil
}

// colPasses is the drain's own column of a mapped read: 1 when the row
// passes the mapping's filter, else 0 (NULL: no row).
const colPasses = "godwit_passes"

// readFrom is what the drain joins the changelog to: the table, or for a
// mapped view a derived table of the view's columns as the source
// computes them, named by the view's names, and whether the row passes
// the filter, so that no expression meets the changelog's columns.
func readFrom(s *datastore.Store, view *datastore.Table) string {
	if !view.Mapped {
		return s.Quote(view.Name)
	}
	passes := "1"
	if view.Where != "" {
		passes = "CASE WHEN (" + view.Where + ") THEN 1 ELSE 0 END"
	}
	cols := append(s.SelectNamed(view), passes+" AS "+s.Quote(colPasses))
	return "(SELECT " + strings.Join(cols, ", ") + " FROM " + s.Quote(view.Name) + ")"
}

func (r *triggerReader) read(ctx context.Context, tx *sql.Tx, tt *triggerTable, limit int, b *batch) error {
	q := r.s.Quote
	src := tt.view
	var cols, on []string
	cols = append(cols, "c."+q(colSeq), "c."+q(colOp))
	for _, k := range src.PrimaryKey {
		cols = append(cols, "c."+q(k))
		on = append(on, "t."+q(k)+" = c."+q(k))
	}
	for _, c := range src.Columns {
		cols = append(cols, "t."+q(c.Name))
	}
	if src.Mapped {
		cols = append(cols, "t."+q(colPasses))
	}
	stmt := fmt.Sprintf("SELECT %s FROM %s c LEFT JOIN %s t ON %s ORDER BY c.%s LIMIT %d",
		strings.Join(cols, ", "), q(tt.changelog), readFrom(r.s, src), strings.Join(on, " AND "), q(colSeq), limit)
	rows, err := tx.QueryContext(ctx, stmt)
	if err != nil {
		return fmt.Errorf("read changelog %s: %w", tt.changelog, err)
	}
	defer rows.Close()
	nk := len(src.PrimaryKey)
	keyIdx := r.keyIdx[src.Name]
	read := 0
	defer func() { b.cut = b.cut || read >= limit }()
	for rows.Next() {
		read++
		raw, err := datastore.ScanValues(rows, len(cols))
		if err != nil {
			return fmt.Errorf("read changelog %s: %w", tt.changelog, err)
		}
		seq, err := datastore.Canonical(datastore.Type{Kind: datastore.KindBigInt}, raw[0])
		if err != nil {
			return fmt.Errorf("read changelog %s: %w", tt.changelog, err)
		}
		b.seqs[tt.changelog] = append(b.seqs[tt.changelog], seq.(int64))
		raw = raw[1:]
		if op, _ := datastore.Canonical(datastore.Type{Kind: datastore.KindText}, raw[0]); op == opTruncate {
			b.add(src.Name, keyIdx, change{truncate: true})
			continue
		}
		key := make([]any, nk)
		for i, ci := range keyIdx {
			if key[i], err = datastore.Canonical(src.Columns[ci].Type, raw[1+i]); err != nil {
				return fmt.Errorf("read changelog %s key %s: %w", tt.changelog, src.PrimaryKey[i], err)
			}
		}
		var passes any
		if src.Mapped {
			passes = raw[len(raw)-1]
		}
		// The row's current state by the changelog's key: gone (or,
		// mapped, failing the filter now) is a delete by that key.
		c, err := currentChange(src, keyIdx, key, raw[1+nk:1+nk+len(src.Columns)], passes)
		if err != nil {
			return err
		}
		b.add(src.Name, keyIdx, c)
	}
	return rows.Err()
}

// confirm deletes the changelog entries the batch read.
func (r *triggerReader) confirm(ctx context.Context, b batch) error {
	for cl, seqs := range b.seqs {
		for start := 0; start < len(seqs); start += 500 {
			chunk := seqs[start:min(start+500, len(seqs))]
			ph := make([]string, len(chunk))
			args := make([]any, len(chunk))
			for i, s := range chunk {
				ph[i], args[i] = r.s.Placeholder(i+1), s
			}
			stmt := "DELETE FROM " + r.s.Quote(cl) + " WHERE " + r.s.Quote(colSeq) + " IN (" + strings.Join(ph, ", ") + ")"
			if _, err := r.s.DB.ExecContext(ctx, stmt, args...); err != nil {
				return fmt.Errorf("remove drained changes from %s: %w", cl, err)
			}
		}
	}
	return nil
}

// lag counts the entries left and the age of the oldest, by the source's
// clock (the triggers stamp entries with it).
func (r *triggerReader) lag(ctx context.Context, now time.Time) (Lag, error) {
	l := Lag{Measured: now}
	for _, tt := range r.tables {
		var age string
		switch r.s.Engine {
		case datastore.Postgres:
			age = "extract(epoch from clock_timestamp() - min(" + r.s.Quote(colAt) + "))::float8"
		case datastore.MySQL:
			age = "TIMESTAMPDIFF(MICROSECOND, MIN(" + r.s.Quote(colAt) + "), UTC_TIMESTAMP(6)) / 1000000.0"
		default:
			age = "(julianday('now') - min(" + r.s.Quote(colAt) + ")) * 86400.0"
		}
		var n int64
		var secs sql.NullFloat64
		if err := r.s.DB.QueryRowContext(ctx, "SELECT count(*), "+age+" FROM "+r.s.Quote(tt.changelog)).Scan(&n, &secs); err != nil {
			return l, fmt.Errorf("measure lag of %s: %w", tt.changelog, err)
		}
		l.Changes += n
		if secs.Valid && n > 0 {
			l.Seconds = max(l.Seconds, secs.Float64)
		}
	}
	l.Through = now.Add(-time.Duration(l.Seconds * float64(time.Second)))
	return l, nil
}
