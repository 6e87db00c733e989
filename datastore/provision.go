package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// provisionTable records, in the target database itself, which tables a
// provision created and for whom. Keeping the record next to the tables
// (and, where DDL is transactional, in the same transaction as the CREATE)
// is what makes Provision safe to retry and DropProvisioned safe to run:
// a table without a record was not ours, and is never dropped.
const provisionTable = "godwit_provisioned"

// ProvisionOptions tune Provision.
type ProvisionOptions struct {
	// Owner names who provisions (the migration's name); required. The
	// compensation drops exactly the tables recorded under this owner.
	Owner string
	// DeferIndexes leaves secondary indexes and unique constraints to a
	// later CreateIndexes call, after the bulk load (faster loads).
	DeferIndexes bool
	// TypeOverrides gives a column's target type in the target's own terms,
	// keyed "table.column" — the opt-in for a type without a lossless
	// mapping (e.g. a PostgreSQL interval into MySQL "VARCHAR(64)").
	TypeOverrides map[string]string
	// WithoutKey says a table may be created without a primary key (it is
	// copied in one non-resumable pass, see FullCopy); nil: none may.
	WithoutKey func(table string) bool
	// ForeignKeysNow creates the foreign keys on a PostgreSQL or MySQL
	// target at once, for tables no copy will fill; without it they are
	// left to CreateForeignKeys after the copy. SQLite targets declare
	// them in CREATE TABLE either way.
	ForeignKeysNow bool
	Logger         hclog.Logger // nil = no logging
}

// ProvisionResult says what Provision did.
type ProvisionResult struct {
	Created []string `json:"created"`           // tables created by this call
	Already []string `json:"already,omitempty"` // tables this owner had created before (a retry)
	Notes   []string `json:"notes,omitempty"`   // what was not carried over (defaults, indexes)
	// ForeignKeys says which foreign keys the target has now and which it
	// will not have; ForeignKeysLater counts those left for after the copy.
	ForeignKeys      ForeignKeyResult `json:"foreignKeys"`
	ForeignKeysLater int              `json:"foreignKeysLater,omitempty"`
}

// Provision creates the given (source) tables on the target, mapped to the
// target's engine, and records each one under opts.Owner. Every table's DDL
// is rendered and every name checked before anything is created, so a type
// that cannot be mapped or a table that already exists (and is not this
// owner's) fails the call with nothing created. Retrying after a crash is
// safe: tables this owner already created are left as they are.
func Provision(ctx context.Context, target *Store, tables []*Table, opts ProvisionOptions) (ProvisionResult, error) {
	var res ProvisionResult
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if opts.Owner == "" {
		return res, errors.New("provision: an owner is required")
	}
	if err := target.ensureProvisionTable(ctx); err != nil {
		return res, err
	}
	type plan struct {
		t   *Table
		ddl string
	}
	tables = append([]*Table(nil), tables...) // the caller's stay as they are
	present, err := target.tableSet(ctx, tables)
	if err != nil {
		return res, fmt.Errorf("provision: %w", err)
	}
	if problems := InheritanceProblems(tables); len(problems) > 0 {
		return res, fmt.Errorf("provision: %w: %s", ErrInheritedRows, strings.Join(problems, "; "))
	}
	var todo []plan
	var unmapped []error
	for i, t := range tables {
		t, not := carryable(t, present)
		tables[i] = t
		res.ForeignKeys.NotCarried = append(res.ForeignKeys.NotCarried, not...)
		if err := t.CheckCopyable(); err != nil && (opts.WithoutKey == nil || !opts.WithoutKey(t.Name)) {
			return res, fmt.Errorf("provision: %w", err)
		}
		owner, exists, err := target.provisionState(ctx, t.Name)
		if err != nil {
			return res, err
		}
		if owner == opts.Owner && exists {
			res.Already = append(res.Already, t.Name)
			continue
		}
		if exists {
			who := "it existed before"
			if owner != "" {
				who = "provisioned by " + owner
			}
			return res, fmt.Errorf("provision %s: %w (%s); drop or rename it, or leave it out of the tables", t.Name, ErrTableExists, who)
		}
		ddl, notes, err := target.CreateTableSQL(t, opts.TypeOverrides)
		if errors.Is(err, ErrUnsupportedType) {
			// Every table's columns at once: fixing one table's must not
			// only reveal the next table's on the next run.
			unmapped = append(unmapped, err)
			continue
		}
		if err != nil {
			return res, fmt.Errorf("provision: %w", err)
		}
		if err := target.UndefinedTypes(ctx, t, opts.TypeOverrides); err != nil {
			return res, fmt.Errorf("provision: %w", err)
		}
		res.Notes = append(res.Notes, notes...)
		todo = append(todo, plan{t, ddl})
	}
	if len(unmapped) > 0 {
		return res, fmt.Errorf("provision: %w", errors.Join(unmapped...))
	}
	for _, p := range todo {
		if err := target.createRecorded(ctx, p.t.Name, p.ddl, opts.Owner); err != nil {
			return res, target.undoCreated(ctx, opts.Owner, res.Created, fmt.Errorf("provision %s: %w", p.t.Name, err))
		}
		log.Info("created table", "table", p.t.Name, "owner", opts.Owner)
		res.Created = append(res.Created, p.t.Name)
	}
	if !opts.DeferIndexes {
		notes, err := CreateIndexes(ctx, target, tables)
		res.Notes = append(res.Notes, notes...)
		if err != nil {
			return res, err
		}
	}
	switch {
	case target.Engine == SQLite:
		// Declared by CREATE TABLE; the copy checks the rows against them.
		for _, t := range tables {
			for _, fk := range t.ForeignKeys {
				if _, _, err := target.foreignKeyClause(t, fk); err != nil {
					res.ForeignKeys.NotCarried = append(res.ForeignKeys.NotCarried, fmt.Sprintf("%s.%s: %v", t.Name, fk.Name, err))
				} else {
					res.ForeignKeys.Carried = append(res.ForeignKeys.Carried, t.Name+"."+fk.Name)
				}
			}
		}
	case opts.ForeignKeysNow:
		fks, err := CreateForeignKeys(ctx, target, tables)
		res.ForeignKeys.add(fks)
		if err != nil {
			return res, err
		}
	default:
		for _, t := range tables {
			res.ForeignKeysLater += len(t.ForeignKeys)
		}
	}
	return res, nil
}

// undoCreated drops the tables this call created before a CREATE failed: a
// failed phase is not compensated, so they would outlive the rollback (and
// a retry creates them again). It returns err, saying what was dropped.
func (s *Store) undoCreated(ctx context.Context, owner string, created []string, err error) error {
	if len(created) == 0 {
		return fmt.Errorf("%w; nothing had been created", err)
	}
	if _, derr := s.dropRecorded(context.WithoutCancel(ctx), owner, created, true); derr != nil {
		return fmt.Errorf("%w; dropping the tables created before it (%s) failed too: %v", err, strings.Join(created, ", "), derr)
	}
	return fmt.Errorf("%w; the tables created before it were dropped (%s)", err, strings.Join(created, ", "))
}

// tableSet is the names of the given tables and of those already on the
// store: the parents a foreign key may reference.
func (s *Store) tableSet(ctx context.Context, tables []*Table) (map[string]bool, error) {
	names, err := s.ListTables(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	for _, t := range tables {
		set[t.Name] = true
	}
	return set, nil
}

func (s *Store) ensureProvisionTable(ctx context.Context) error {
	q := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (owner VARCHAR(200) NOT NULL, table_name VARCHAR(200) NOT NULL,
		created_at VARCHAR(40) NOT NULL, PRIMARY KEY (owner, table_name))%s`, s.d.quote(provisionTable), s.d.tableSuffix())
	if _, err := s.DB.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("provision: create %s: %w", provisionTable, err)
	}
	return nil
}

// provisionState says who recorded a table (""= nobody) and whether it exists.
func (s *Store) provisionState(ctx context.Context, table string) (owner string, exists bool, err error) {
	err = s.DB.QueryRowContext(ctx, fmt.Sprintf("SELECT owner FROM %s WHERE table_name = %s",
		s.d.quote(provisionTable), s.d.placeholder(1)), table).Scan(&owner)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("provision: read %s: %w", provisionTable, err)
	}
	t, err := s.d.introspect(ctx, s.DB, table)
	if err != nil {
		return "", false, fmt.Errorf("provision: look up %s: %w", table, err)
	}
	return owner, t != nil, nil
}

// createRecorded creates a table and its record. Where DDL is transactional
// both happen in one transaction. On MySQL the record is written first: a
// crash between the two leaves a record of a table that does not exist yet
// (a retry creates it; a drop skips it), never a table without its record.
func (s *Store) createRecorded(ctx context.Context, table, ddl, owner string) error {
	record := fmt.Sprintf("INSERT INTO %s (owner, table_name, created_at) VALUES (%s, %s, %s)",
		s.d.quote(provisionTable), s.d.placeholder(1), s.d.placeholder(2), s.d.placeholder(3))
	// A record of ours for a table that does not exist: left by a crash on MySQL.
	clear := fmt.Sprintf("DELETE FROM %s WHERE owner = %s AND table_name = %s",
		s.d.quote(provisionTable), s.d.placeholder(1), s.d.placeholder(2))
	now := time.Now().UTC().Format(time.RFC3339)
	if s.d.transactionalDDL() {
		tx, err := s.DB.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, st := range []struct {
			q    string
			args []any
		}{{clear, []any{owner, table}}, {record, []any{owner, table, now}}, {ddl, nil}} {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	if _, err := s.DB.ExecContext(ctx, clear, owner, table); err != nil {
		return err
	}
	if _, err := s.DB.ExecContext(ctx, record, owner, table, now); err != nil {
		return err
	}
	if _, err := s.DB.ExecContext(ctx, ddl); err != nil {
		// Someone else's table appeared meanwhile, or the DDL is wrong: the
		// record must not claim it.
		if _, derr := s.DB.ExecContext(context.WithoutCancel(ctx), clear, owner, table); derr != nil {
			return fmt.Errorf("%w (and removing its record failed: %v)", err, derr)
		}
		return err
	}
	return nil
}

// DropProvisioned drops the tables Provision recorded under owner, and
// nothing else; it returns the tables it dropped. It is idempotent: run it
// again and it drops nothing.
func DropProvisioned(ctx context.Context, target *Store, owner string) ([]string, error) {
	if owner == "" {
		return nil, errors.New("drop provisioned: an owner is required")
	}
	var hasRecord int
	err := target.DB.QueryRowContext(ctx, `SELECT count(*) FROM `+target.d.quote(provisionTable)).Scan(&hasRecord)
	if err != nil {
		// No record table: this store never had a provision, nothing to drop.
		if t, ierr := target.d.introspect(ctx, target.DB, provisionTable); ierr == nil && t == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("drop provisioned: read %s: %w", provisionTable, err)
	}
	tables, err := queryStrings(ctx, target.DB, fmt.Sprintf("SELECT table_name FROM %s WHERE owner = %s ORDER BY table_name",
		target.d.quote(provisionTable), target.d.placeholder(1)), owner)
	if err != nil {
		return nil, fmt.Errorf("drop provisioned: read %s: %w", provisionTable, err)
	}
	// Foreign keys first: then the tables go in any order, cycles too.
	if err := DropForeignKeys(ctx, target, tables); err != nil {
		return nil, fmt.Errorf("drop provisioned: %w", err)
	}
	dropped, err := target.dropRecorded(ctx, owner, tables, true)
	if err != nil {
		return dropped, fmt.Errorf("drop provisioned %w", err)
	}
	if err := dropPendingForeignKeys(ctx, target, owner); err != nil {
		return dropped, fmt.Errorf("drop provisioned: %w", err)
	}
	var left int
	if err := target.DB.QueryRowContext(ctx, `SELECT count(*) FROM `+target.d.quote(provisionTable)).Scan(&left); err == nil && left == 0 {
		if _, err := target.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+target.d.quote(provisionTable)); err != nil {
			return dropped, fmt.Errorf("drop provisioned: drop %s: %w", provisionTable, err)
		}
	}
	return dropped, nil
}

// CreateTableSQL renders CREATE TABLE for a (source) table on this store's
// engine: columns, NOT NULL, portable defaults, auto-increment and the
// primary key; indexes come from CreateIndexes. The notes say what was not
// carried over. On the same engine native types are kept as they are.
func (s *Store) CreateTableSQL(t *Table, overrides map[string]string) (string, []string, error) {
	var notes []string
	inKey := map[string]bool{}
	for _, k := range t.PrimaryKey {
		inKey[k] = true
	}
	for _, idx := range t.Indexes {
		if idx.Method != "" && t.Engine != s.Engine {
			// A gist, gin, FULLTEXT or SPATIAL index is not carried to
			// another engine (CreateIndexes says so): its column needs no
			// bounded type (a tsvector's suggested type was VARCHAR(255)).
			continue
		}
		for _, c := range idx.Columns {
			inKey[c] = true
		}
	}
	// MySQL indexes a foreign key's columns, and its types must match
	// the parent's key: both need bounded types.
	for _, fk := range t.ForeignKeys {
		for _, c := range fk.Columns {
			inKey[c] = true
		}
	}
	same := t.Engine == s.Engine
	var lines []string
	var unmapped []Column
	for _, c := range t.Columns {
		typ, err := s.columnType(t, c, same, inKey[c.Name], overrides)
		if errors.Is(err, ErrUnsupportedType) {
			unmapped = append(unmapped, c) // all of them named at once, below
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if s.Engine == SQLite && !same && c.Type.Kind == KindDecimal && strings.HasPrefix(typ, "DECIMAL_TEXT") {
			notes = append(notes, fmt.Sprintf("%s.%s: %s has more than %d significant digits, so SQLite keeps it exact as TEXT, which compares and sorts as text: CAST(%s AS REAL) in a query, or typeOverrides %s.%s: NUMERIC to store numbers (exact to %d digits only)",
				t.Name, c.Name, c.Type, SQLiteDecimalDigits, c.Name, t.Name, c.Name, SQLiteDecimalDigits))
		}
		line := s.d.quote(c.Name) + " " + typ
		auto := c.AutoIncrement && len(t.PrimaryKey) > 0 && t.PrimaryKey[0] == c.Name && isInt(c.Type.Kind)
		if auto {
			line += s.d.autoIncrementClause(c)
		} else if c.AutoIncrement {
			notes = append(notes, fmt.Sprintf("%s.%s: auto-increment not carried (not the first key column)", t.Name, c.Name))
		}
		if !c.Nullable || inKey[c.Name] && contains(t.PrimaryKey, c.Name) {
			line += " NOT NULL"
		}
		if def, ok := s.columnDefault(c, same); ok && !auto {
			line += " DEFAULT " + def
		} else if c.Default != nil && !auto {
			notes = append(notes, fmt.Sprintf("%s.%s: default %q not carried to %s", t.Name, c.Name, c.Default.Value, s.Engine))
		}
		if c.OnUpdateNow {
			if s.Engine == MySQL && same {
				line += " ON UPDATE " + onUpdateNow(c.NativeType)
			} else {
				notes = append(notes, fmt.Sprintf("%s.%s: ON UPDATE CURRENT_TIMESTAMP not carried to %s: an update there keeps the column's value unless the writer sets it (a trigger can)", t.Name, c.Name, s.Engine))
			}
		}
		lines = append(lines, line)
	}
	if len(unmapped) > 0 {
		return "", nil, s.unmappedError(t, unmapped, inKey)
	}
	keys := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		keys[i] = s.d.quote(k)
	}
	if len(keys) > 0 { // a table without one is created so only when opted in (WithoutKey)
		lines = append(lines, "PRIMARY KEY ("+strings.Join(keys, ", ")+")")
	}
	// SQLite cannot add a foreign key later: declare them now (it does not
	// enforce them unless a connection turns foreign_keys on). Other
	// engines get them after the copy (CreateForeignKeys).
	if s.Engine == SQLite {
		for _, fk := range t.ForeignKeys {
			clause, _, err := s.foreignKeyClause(t, fk)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s.%s: foreign key not carried: %v", t.Name, fk.Name, err))
				continue
			}
			lines = append(lines, clause)
		}
	}
	for _, sk := range t.Skipped {
		notes = append(notes, t.Name+": "+sk+" not carried")
	}
	return "CREATE TABLE " + s.d.quote(t.Name) + " (\n  " + strings.Join(lines, ",\n  ") + "\n)" + s.d.tableSuffix(), notes, nil
}

func (s *Store) columnType(t *Table, c Column, same, key bool, overrides map[string]string) (string, error) {
	if o, ok := overrides[t.Name+"."+c.Name]; ok {
		return o, nil
	}
	if same && c.NativeType != "" && !(s.Engine == MySQL && c.Type.Kind == KindJSON) {
		return c.NativeType, nil
	}
	return s.d.nativeType(c, key)
}

func (s *Store) columnDefault(c Column, same bool) (string, bool) {
	if c.Default == nil {
		return "", false
	}
	// An expression, or a current time PostgreSQL spelled its own way
	// ('now'::text::date), is kept as the engine wrote it.
	if same && (c.Default.Kind == DefaultExpr || c.Default.Kind == DefaultNow && c.Default.Value != "") {
		return c.Default.Value, true
	}
	return s.d.renderDefault(c)
}

// renderPortableDefault renders a literal or current-time default; an
// engine-specific expression is not carried to another engine. now is the
// dialect's current time for the column's kind (its current date for a date).
func renderPortableDefault(c Column, now, yes, no string) (string, bool) {
	d := c.Default
	switch {
	case d == nil || d.Kind == DefaultExpr:
		return "", false
	case d.Kind == DefaultNow:
		if c.Type.Kind == KindTimestamp || c.Type.Kind == KindTimestampTZ || c.Type.Kind == KindDate {
			return now, true
		}
		return "", false
	case c.Type.Kind == KindBool:
		b, err := toBool(d.Value)
		if err != nil {
			return "", false
		}
		if b.(bool) {
			return yes, true
		}
		return no, true
	case isInt(c.Type.Kind) || c.Type.Kind == KindDecimal || c.Type.Kind == KindFloat || c.Type.Kind == KindDouble:
		if isNumberLiteral(d.Value) {
			return d.Value, true
		}
		return "", false
	case c.Type.Kind == KindBytes || c.Type.Kind == KindUnsupported:
		return "", false
	}
	return "'" + strings.ReplaceAll(d.Value, "'", "''") + "'", true
}

func isInt(k Kind) bool { return k == KindSmallInt || k == KindInt || k == KindBigInt }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// onUpdateNow is MySQL's ON UPDATE clause's value for a column of native
// type native: CURRENT_TIMESTAMP at the column's fractional precision
// (MySQL refuses another).
func onUpdateNow(native string) string {
	if a, _ := args(strings.ToLower(native)); a > 0 {
		return fmt.Sprintf("CURRENT_TIMESTAMP(%d)", a)
	}
	return "CURRENT_TIMESTAMP"
}

// IndexName is the name an index of table gets on a target: index names
// are per schema in PostgreSQL and SQLite, so a name that does not start
// with its table's name is prefixed with it.
func IndexName(table, index string) string {
	if strings.HasPrefix(index, table) {
		return index
	}
	return table + "_" + index
}

// CreateIndexes creates the (source) tables' secondary indexes and unique
// constraints on the target, skipping those that exist already (by name), so
// it can be retried. Run it after the bulk load.
func CreateIndexes(ctx context.Context, target *Store, tables []*Table) ([]string, error) {
	var notes []string
	for _, t := range tables {
		have, err := target.Introspect(ctx, t.Name)
		if err != nil {
			return notes, fmt.Errorf("create indexes: %w", err)
		}
		existing := map[string]bool{}
		for _, idx := range have.Indexes {
			existing[idx.Name] = true
		}
		for _, idx := range t.Indexes {
			name := IndexName(t.Name, idx.Name)
			if existing[name] {
				continue
			}
			cols := make([]string, len(idx.Columns))
			for i, c := range idx.Columns {
				cols[i] = target.d.quote(c)
			}
			unique := ""
			if idx.Unique {
				unique = "UNIQUE "
			}
			using := ""
			if idx.Method != "" {
				if target.Engine != t.Engine {
					notes = append(notes, fmt.Sprintf("%s: index %s not carried: a %s index has no counterpart on %s", t.Name, idx.Name, idx.Method, target.Engine))
					continue
				}
				if target.Engine == MySQL {
					unique = strings.ToUpper(idx.Method) + " " // CREATE FULLTEXT INDEX
				} else {
					using = " USING " + idx.Method
				}
			}
			q := fmt.Sprintf("CREATE %sINDEX %s ON %s%s (%s)", unique, target.d.quote(name), target.d.quote(t.Name), using, strings.Join(cols, ", "))
			if _, err := target.DB.ExecContext(ctx, q); err != nil {
				return notes, fmt.Errorf("create index %s on %s: %w", name, t.Name, err)
			}
		}
	}
	return notes, nil
}

// SyncAutoIncrement moves the target's sequences past the highest copied
// key, so the new service's first insert does not collide with a copied
// row. Only PostgreSQL needs it: MySQL's AUTO_INCREMENT and SQLite's rowid
// follow explicit inserts by themselves.
func SyncAutoIncrement(ctx context.Context, target *Store, t *Table) error {
	if target.Engine != Postgres {
		return nil
	}
	return postgresDialect{}.syncIdentity(ctx, target.DB, t)
}
