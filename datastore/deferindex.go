package datastore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Deferred indexes (PostgreSQL targets): a backfill into an empty table
// loads it without its primary key, unique constraints and indexes and
// builds them once the rows are in, as pg_restore does: one sorted build
// per index costs far less than maintaining every index row by row.
//
// The definitions are kept in the target itself, in the table's comment,
// written in the same transaction as the DROPs: whatever happens to the
// worker or to its checkpoint, a later copy of the table (or a person
// reading the comment) finds what to build. RestoreIndexes builds what is
// missing, one index a transaction, then puts the comment back.

// ErrDuplicateKey: a deferred unique index or key could not be built
// because the loaded rows hold a duplicate. Permanent.
var ErrDuplicateKey = errors.New("duplicate key in the loaded rows")

func init() { permanentErrors = append(permanentErrors, ErrDuplicateKey) }

// deferredMarker starts a table comment that holds deferred indexes.
const deferredMarker = "godwit: indexes deferred during the load, re-created when it ends: "

// DeferredIndexes is what a copy dropped from a table before loading it.
type DeferredIndexes struct {
	// Key is the primary key's columns, in order: the copy still reads
	// and checkpoints by it while the constraint is gone.
	Key []string `json:"key"`
	// Indexes are the constraints and indexes, in the order they are
	// built (the primary key first).
	Indexes []DeferredIndex `json:"indexes"`
	// Comment is the table's own comment, put back by RestoreIndexes
	// (nil: none).
	Comment *string `json:"comment,omitempty"`
}

// DeferredIndex is one dropped constraint or index.
type DeferredIndex struct {
	Name string `json:"name"`
	// Constraint: Def is pg_get_constraintdef's (PRIMARY KEY (id),
	// UNIQUE (email)), added back with ALTER TABLE ... ADD CONSTRAINT;
	// else Def is pg_get_indexdef's whole CREATE INDEX statement.
	Constraint bool   `json:"constraint,omitempty"`
	Def        string `json:"def"`
}

// Statement is the SQL that builds the index again on table.
func (d DeferredIndex) Statement(table string) string {
	if d.Constraint {
		return fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", postgresDialect{}.quote(table), postgresDialect{}.quote(d.Name), d.Def)
	}
	return d.Def
}

// Names lists the indexes' names.
func (d *DeferredIndexes) Names() []string {
	out := make([]string, len(d.Indexes))
	for i, x := range d.Indexes {
		out[i] = x.Name
	}
	return out
}

// Statements is every index's SQL, one a line: what a person runs if no
// copy is left to build them.
func (d *DeferredIndexes) Statements(table string) string {
	out := make([]string, len(d.Indexes))
	for i, x := range d.Indexes {
		out[i] = x.Statement(table) + ";"
	}
	return strings.Join(out, "\n")
}

// DeferIndexes drops table's primary key, unique and exclusion
// constraints and other indexes for a load, if that is safe: a PostgreSQL
// table, empty, not partitioned or inherited from, referenced by no foreign
// key, in no publication, with no clustered, replica-identity, invalid or
// commented index. It returns what it dropped (recorded in the table's
// comment, in the same transaction), or nil and why not.
func (s *Store) DeferIndexes(ctx context.Context, table string) (*DeferredIndexes, string, error) {
	if s.Engine != Postgres {
		return nil, "the target is not PostgreSQL", nil
	}
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, "", fmt.Errorf("defer indexes of %s: %w", table, err)
	}
	defer tx.Rollback()
	// The lock makes "empty" and "nothing else references it" hold until
	// the DROPs commit; a table someone holds is left as it is rather than
	// waited for.
	if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
		return nil, "", fmt.Errorf("defer indexes of %s: %w", table, err)
	}
	if _, err := tx.ExecContext(ctx, "LOCK TABLE "+postgresDialect{}.quote(table)+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return nil, "", fmt.Errorf("defer indexes of %s: lock: %w", table, err)
	}
	why, err := deferBlocker(ctx, tx, table)
	if err != nil || why != "" {
		return nil, why, err
	}
	d, err := readIndexes(ctx, tx, table)
	if err != nil {
		return nil, "", err
	}
	if len(d.Indexes) == 0 {
		return nil, "the table has no index", nil
	}
	if d.Key == nil {
		return nil, "the table has no primary key", nil
	}
	// Constraints first: dropping one drops its index.
	for _, x := range d.Indexes {
		q := "DROP INDEX " + postgresDialect{}.quote(x.Name)
		if x.Constraint {
			q = "ALTER TABLE " + postgresDialect{}.quote(table) + " DROP CONSTRAINT " + postgresDialect{}.quote(x.Name)
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return nil, "", fmt.Errorf("defer indexes of %s: drop %s: %w", table, x.Name, err)
		}
	}
	mark, err := json.Marshal(d)
	if err != nil {
		return nil, "", fmt.Errorf("defer indexes of %s: %w", table, err)
	}
	if err := setComment(ctx, tx, table, deferredMarker+string(mark)); err != nil {
		return nil, "", err
	}
	if err := tx.Commit(); err != nil {
		return nil, "", fmt.Errorf("defer indexes of %s: commit: %w", table, err)
	}
	return d, "", nil
}

// queryer is what reading the catalog needs (*sql.Tx, *sql.DB).
type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// tableOID is the condition naming table in the current schema.
const tableOID = `(SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = current_schema() AND c.relname = $1)`

// deferBlocker says why table's indexes must stay while it is loaded
// ("" when nothing does).
func deferBlocker(ctx context.Context, q queryer, table string) (string, error) {
	checks := []struct{ why, query string }{
		{"the table is not empty", "SELECT 'x' FROM " + postgresDialect{}.quote(table) + " LIMIT 1"},
		{"the table is partitioned, a partition or inherited from",
			`SELECT 'x' FROM pg_class WHERE oid = ` + tableOID + ` AND (relkind <> 'r' OR relispartition OR relhassubclass)`},
		{"foreign key %s references it",
			`SELECT conname || ' of ' || conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND confrelid = ` + tableOID + ` LIMIT 1`},
		{"it is in publication %s", `SELECT pubname FROM pg_publication_tables WHERE schemaname = current_schema() AND tablename = $1 LIMIT 1`},
		{"index %s is clustered, the replica identity, invalid or commented",
			`SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = ` + tableOID + `
			AND (i.indisclustered OR i.indisreplident OR NOT i.indisvalid OR obj_description(i.indexrelid, 'pg_class') IS NOT NULL) LIMIT 1`},
		{"constraint %s has a comment",
			`SELECT conname FROM pg_constraint WHERE conrelid = ` + tableOID + ` AND obj_description(oid, 'pg_constraint') IS NOT NULL LIMIT 1`},
	}
	for i, c := range checks {
		var args []any
		if i > 0 { // the emptiness check names the table in its SQL
			args = []any{table}
		}
		var what string
		err := q.QueryRowContext(ctx, c.query, args...).Scan(&what)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("defer indexes of %s: check: %w", table, err)
		}
		if strings.Contains(c.why, "%s") {
			return fmt.Sprintf(c.why, what), nil
		}
		return c.why, nil
	}
	return "", nil
}

// readIndexes reads table's constraints with an index (primary key first)
// and its other indexes, with the definitions that build them again, its
// key columns and its comment.
func readIndexes(ctx context.Context, q queryer, table string) (*DeferredIndexes, error) {
	d := &DeferredIndexes{}
	rows, err := q.QueryContext(ctx, `SELECT conname, pg_get_constraintdef(oid), contype = 'p',
		CASE WHEN contype = 'p' THEN (SELECT array_to_string(array_agg(a.attname ORDER BY k.ord), chr(1))
			FROM unnest(conkey) WITH ORDINALITY k(num, ord) JOIN pg_attribute a ON a.attrelid = conrelid AND a.attnum = k.num) END
		FROM pg_constraint WHERE conrelid = `+tableOID+` AND contype IN ('p', 'u', 'x')
		ORDER BY contype <> 'p', conname`, table)
	if err != nil {
		return nil, fmt.Errorf("defer indexes of %s: read constraints: %w", table, err)
	}
	for rows.Next() {
		var x DeferredIndex
		var primary bool
		var key sql.NullString
		if err := rows.Scan(&x.Name, &x.Def, &primary, &key); err != nil {
			rows.Close()
			return nil, fmt.Errorf("defer indexes of %s: read constraints: %w", table, err)
		}
		x.Constraint = true
		if primary {
			d.Key = strings.Split(key.String, "\x01")
		}
		d.Indexes = append(d.Indexes, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("defer indexes of %s: read constraints: %w", table, err)
	}
	rows, err = q.QueryContext(ctx, `SELECT c.relname, pg_get_indexdef(i.indexrelid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = `+tableOID+` AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
		ORDER BY c.relname`, table)
	if err != nil {
		return nil, fmt.Errorf("defer indexes of %s: read indexes: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var x DeferredIndex
		if err := rows.Scan(&x.Name, &x.Def); err != nil {
			return nil, fmt.Errorf("defer indexes of %s: read indexes: %w", table, err)
		}
		d.Indexes = append(d.Indexes, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("defer indexes of %s: read indexes: %w", table, err)
	}
	var comment sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT obj_description(`+tableOID+`, 'pg_class')`, table).Scan(&comment); err != nil {
		return nil, fmt.Errorf("defer indexes of %s: read comment: %w", table, err)
	}
	if comment.Valid {
		d.Comment = &comment.String
	}
	return d, nil
}

func setComment(ctx context.Context, q queryer, table string, comment any) error {
	// COMMENT takes no parameters: the text goes in as a literal.
	lit := "NULL"
	if c, ok := comment.(string); ok {
		lit = "E'" + strings.ReplaceAll(strings.ReplaceAll(c, `\`, `\\`), `'`, `''`) + "'"
	}
	if _, err := q.ExecContext(ctx, "COMMENT ON TABLE "+postgresDialect{}.quote(table)+" IS "+lit); err != nil {
		return fmt.Errorf("comment on %s: %w", table, err)
	}
	return nil
}

// IndexesDeferred returns what an earlier DeferIndexes dropped from table
// and no RestoreIndexes has built yet (from the table's comment); nil when
// nothing is deferred or the store is not PostgreSQL.
func (s *Store) IndexesDeferred(ctx context.Context, table string) (*DeferredIndexes, error) {
	if s.Engine != Postgres {
		return nil, nil
	}
	var comment sql.NullString
	err := s.DB.QueryRowContext(ctx, `SELECT obj_description(`+tableOID+`, 'pg_class')`, table).Scan(&comment)
	if err != nil {
		return nil, fmt.Errorf("deferred indexes of %s: %w", table, err)
	}
	rest, ok := strings.CutPrefix(comment.String, deferredMarker)
	if !ok {
		return nil, nil
	}
	var d DeferredIndexes
	if err := json.Unmarshal([]byte(rest), &d); err != nil {
		return nil, fmt.Errorf("deferred indexes of %s: the table's comment: %w", table, err)
	}
	return &d, nil
}

// RestoreIndexes builds the deferred indexes of table that do not exist
// (by name: an earlier attempt may have built some), in order, each in its
// own transaction, so a crash keeps what was built; then it puts the
// table's own comment back, which ends the record. building, if set, is
// called before each index is built (i from 0, of n). A unique index the
// rows violate fails with ErrDuplicateKey naming the index and the
// duplicate key, and the record stays.
func (s *Store) RestoreIndexes(ctx context.Context, table string, d *DeferredIndexes, building func(i, n int, name string)) error {
	for i, x := range d.Indexes {
		exists, err := s.indexExists(ctx, table, x)
		if err != nil {
			return fmt.Errorf("re-create %s of %s: %w", x.Name, table, err)
		}
		if exists {
			continue
		}
		if building != nil {
			building(i, len(d.Indexes), x.Name)
		}
		if err := s.buildIndex(ctx, table, x.Statement(table)); err != nil {
			var pg *pgconn.PgError
			if errors.As(err, &pg) && pg.Code == "23505" {
				return fmt.Errorf("re-create %s of %s: %w: %s", x.Name, table, ErrDuplicateKey, strings.TrimSpace(pg.Message+" "+pg.Detail))
			}
			return fmt.Errorf("re-create %s of %s (%s): %w", x.Name, table, x.Statement(table), err)
		}
	}
	var comment any
	if d.Comment != nil {
		comment = *d.Comment
	}
	if err := setComment(ctx, s.DB, table, comment); err != nil {
		return fmt.Errorf("re-create indexes of %s: %w", table, err)
	}
	return nil
}

// MaxIndexBuildMemory bounds the maintenance_work_mem a deferred index
// build raises its transaction to (kB): 1 GB, pg_restore's usual advice.
const MaxIndexBuildMemory = 1 << 20

// buildIndex runs stmt, one index build, in a transaction whose
// maintenance_work_mem is raised to the table's size (at most
// MaxIndexBuildMemory, never lowered): the sort then fits in memory
// instead of spilling to temporary files — PostgreSQL's default of 64 MB
// holds the keys of about a million rows, and a 4M-row pgbench table's key
// built in about 2.1 s against 2.5-4.1 s with the spill (a loaded 2-core
// machine). The setting is SET LOCAL: it ends with the build, and the
// pooled connection goes back as it was.
func (s *Store) buildIndex(ctx context.Context, table, stmt string) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var current, size int64
	err = tx.QueryRowContext(ctx, `SELECT (SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'),
		pg_relation_size(`+tableOID+`) / 1024`, table).Scan(&current, &size)
	if err != nil {
		return fmt.Errorf("size the build: %w", err)
	}
	if want := min(size, MaxIndexBuildMemory); want > current {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL maintenance_work_mem = %d", want)); err != nil {
			return fmt.Errorf("raise maintenance_work_mem for the build: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return err
	}
	return tx.Commit()
}

// indexExists says whether the deferred index x is on table again.
func (s *Store) indexExists(ctx context.Context, table string, x DeferredIndex) (bool, error) {
	q := `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind = 'i')`
	args := []any{x.Name}
	if x.Constraint {
		q = `SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ` + tableOID + ` AND conname = $2)`
		args = []any{table, x.Name}
	}
	var exists bool
	err := s.DB.QueryRowContext(ctx, q, args...).Scan(&exists)
	return exists, err
}

// DeleteAfterKey deletes t's rows whose key is after `after` (every row
// when after is empty) and returns how many: a copy resumed into a table
// without its key removes what a batch committed after its last
// checkpoint, which nothing would otherwise stop it loading twice.
func (s *Store) DeleteAfterKey(ctx context.Context, t *Table, after []any) (int64, error) {
	q := "DELETE FROM " + s.d.quote(t.Name)
	var args []any
	if len(after) > 0 {
		if len(after) != len(t.PrimaryKey) {
			return 0, fmt.Errorf("delete rows of %s past the checkpoint: %d key values for %d key columns", t.Name, len(after), len(t.PrimaryKey))
		}
		cond, uses := s.d.keyAfter(t, 1)
		q += " WHERE " + cond
		for _, i := range uses {
			v, err := s.d.encode(t.Column(t.PrimaryKey[i]).Type, after[i])
			if err != nil {
				return 0, fmt.Errorf("delete rows of %s past the checkpoint: key %s: %w", t.Name, t.PrimaryKey[i], err)
			}
			args = append(args, v)
		}
	}
	res, err := s.DB.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("delete rows of %s past the checkpoint: %w", t.Name, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// OrderedKey reports whether t's key is of kinds every engine orders
// alike (numbers, dates, times; not text, which follows collations).
func OrderedKey(t *Table) bool { return orderedKey(t) }
