package datastore

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/godwit/godwit/migration"
)

// pendingTable records, in the target database next to the tables, the
// foreign keys a copy could not add only because rows violated them then
// (a child copied before its parent, which change capture brings later).
// A replicate phase that has caught up, or a cut-over with the writes held
// and the capture drained, tries exactly these again
// (RetryPendingForeignKeys); a key left off for another reason is never
// recorded, so it is never retried. Keeping the record in the target
// makes it the same for every worker and every retry, with no state in
// the workflow.
const pendingTable = "godwit_pending_foreign_keys"

// RecordPendingForeignKeys replaces owner's records for tables with
// pending (those of tables whose keys were all carried are removed): a
// retried copy records the same again. The record table is dropped once
// it holds no record, of this run or another (dropPendingTableIfEmpty).
func RecordPendingForeignKeys(ctx context.Context, target *Store, owner string, tables []string, pending []PendingForeignKey) error {
	if target.Engine == SQLite {
		return nil // keys are declared at CREATE TABLE there; nothing to add later
	}
	for attempt := 1; ; attempt++ {
		exists, err := recordPending(ctx, target, owner, tables, pending)
		// Another run that emptied the table may drop it between the
		// CREATE and the writes (its drop waits for writes already begun):
		// create it again.
		if err == nil || attempt == 3 || !target.IsMissingObject(err) {
			// No table, nothing to drop: its lock would fail on the
			// missing table, harmless here but an ERROR line in the
			// target's server log at the end of every copy.
			if err == nil && len(pending) == 0 && exists {
				err = dropPendingTableIfEmpty(ctx, target)
			}
			return err
		}
	}
}

// recordPending writes the records; exists says whether the table was
// there (or is now).
func recordPending(ctx context.Context, target *Store, owner string, tables []string, pending []PendingForeignKey) (exists bool, err error) {
	exists, err = target.hasPendingTable(ctx)
	if err != nil {
		return false, err
	}
	if !exists && len(pending) == 0 {
		return false, nil
	}
	exists = true
	q := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (owner VARCHAR(200) NOT NULL, table_name VARCHAR(200) NOT NULL,
		fk_name VARCHAR(200) NOT NULL, fk TEXT NOT NULL, PRIMARY KEY (owner, table_name, fk_name))%s`, target.d.quote(pendingTable), target.d.tableSuffix())
	if _, err := target.DB.ExecContext(ctx, q); err != nil {
		return true, fmt.Errorf("create %s: %w", pendingTable, err)
	}
	// One transaction: a retried copy never finds its records half
	// replaced. Every table named, and every table with a pending key,
	// loses its old records first.
	tx, err := target.DB.BeginTx(ctx, nil)
	if err != nil {
		return true, fmt.Errorf("update %s: %w", pendingTable, err)
	}
	defer tx.Rollback()
	del := fmt.Sprintf("DELETE FROM %s WHERE owner = %s AND table_name = %s", target.d.quote(pendingTable), target.d.placeholder(1), target.d.placeholder(2))
	cleared := map[string]bool{}
	for _, t := range tables {
		cleared[t] = true
	}
	for _, p := range pending {
		cleared[p.Table] = true
	}
	for t := range cleared {
		if _, err := tx.ExecContext(ctx, del, owner, t); err != nil {
			return true, fmt.Errorf("update %s: %w", pendingTable, err)
		}
	}
	ins := fmt.Sprintf("INSERT INTO %s (owner, table_name, fk_name, fk) VALUES (%s, %s, %s, %s)", target.d.quote(pendingTable),
		target.d.placeholder(1), target.d.placeholder(2), target.d.placeholder(3), target.d.placeholder(4))
	for _, p := range pending {
		def, _ := json.Marshal(p.FK)
		if _, err := tx.ExecContext(ctx, ins, owner, p.Table, p.FK.Name, string(def)); err != nil {
			return true, fmt.Errorf("record pending foreign key %s.%s in %s: %w", p.Table, p.FK.Name, pendingTable, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return true, fmt.Errorf("update %s: %w", pendingTable, err)
	}
	return true, nil
}

func (s *Store) hasPendingTable(ctx context.Context) (bool, error) {
	t, err := s.d.introspect(ctx, s.DB, pendingTable)
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", pendingTable, err)
	}
	return t != nil, nil
}

// PendingForeignKeys lists owner's recorded pending foreign keys.
func PendingForeignKeys(ctx context.Context, target *Store, owner string) ([]PendingForeignKey, error) {
	if target.Engine == SQLite {
		return nil, nil
	}
	exists, err := target.hasPendingTable(ctx)
	if err != nil || !exists {
		return nil, err
	}
	rows, err := target.DB.QueryContext(ctx, fmt.Sprintf("SELECT table_name, fk FROM %s WHERE owner = %s ORDER BY table_name, fk_name",
		target.d.quote(pendingTable), target.d.placeholder(1)), owner)
	if target.IsMissingObject(err) {
		return nil, nil // another run emptied and dropped it meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", pendingTable, err)
	}
	defer rows.Close()
	var out []PendingForeignKey
	for rows.Next() {
		var p PendingForeignKey
		var def string
		if err := rows.Scan(&p.Table, &def); err != nil {
			return nil, fmt.Errorf("read %s: %w", pendingTable, err)
		}
		if err := json.Unmarshal([]byte(def), &p.FK); err != nil {
			return nil, fmt.Errorf("read %s: foreign key of %s: %w", pendingTable, p.Table, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PendingRetry says what RetryPendingForeignKeys did.
type PendingRetry struct {
	// Carried are the keys added now, as "table.name".
	Carried []string `json:"carried,omitempty"`
	// Failed are the keys still refused, each with why, how many rows and
	// how to fix it; they stay recorded, so a later phase tries again.
	Failed []string `json:"failed,omitempty"`
}

// Summary renders the retry for a phase summary ("" when nothing was pending).
func (r PendingRetry) Summary() string {
	var parts []string
	if len(r.Carried) > 0 {
		parts = append(parts, fmt.Sprintf("%s the copy had left off (rows not yet caught up) added now: %s", migration.Count(len(r.Carried), "foreign key"), strings.Join(r.Carried, ", ")))
	}
	if len(r.Failed) > 0 {
		parts = append(parts, fmt.Sprintf("%s still NOT carried: %s", migration.Count(len(r.Failed), "foreign key"), strings.Join(r.Failed, "; ")))
	}
	return strings.Join(parts, "; ")
}

// RetryPendingForeignKeys adds the foreign keys a copy of owner's left
// off because rows violated them then (RecordPendingForeignKeys), now that
// the target has caught up: on PostgreSQL ADD … NOT VALID then VALIDATE,
// on MySQL/MariaDB ADD (CreateForeignKeys's way). A key added is no longer
// recorded; one still violated stays recorded and is reported with the
// number of orphan rows and an example — rows the capture will not bring,
// so the source itself has them. Idempotent: a key already on the target
// (an attempt that died after adding it) is validated and counts as added.
func RetryPendingForeignKeys(ctx context.Context, target *Store, owner string) (PendingRetry, error) {
	var res PendingRetry
	pending, err := PendingForeignKeys(ctx, target, owner)
	if err != nil || len(pending) == 0 {
		return res, err
	}
	del := fmt.Sprintf("DELETE FROM %s WHERE owner = %s AND table_name = %s AND fk_name = %s", target.d.quote(pendingTable),
		target.d.placeholder(1), target.d.placeholder(2), target.d.placeholder(3))
	for _, p := range pending {
		label := p.Table + "." + p.FK.Name
		have, err := target.d.introspect(ctx, target.DB, p.Table)
		if err != nil {
			return res, fmt.Errorf("foreign key %s: %w", label, err)
		}
		if have == nil {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: table %s is no longer on the target", label, p.Table))
			continue
		}
		t := *have
		t.ForeignKeys = []ForeignKey{p.FK}
		r, err := target.addForeignKeys(ctx, &t, have)
		if err != nil {
			return res, err
		}
		if len(r.Carried) > 0 {
			if _, err := target.DB.ExecContext(ctx, del, owner, p.Table, p.FK.Name); err != nil {
				return res, fmt.Errorf("foreign key %s added; update %s: %w", label, pendingTable, err)
			}
			res.Carried = append(res.Carried, r.Carried...)
			continue
		}
		if len(r.Pending) == 0 {
			res.Failed = append(res.Failed, strings.Join(r.NotCarried, "; "))
			continue
		}
		n, example, err := target.orphans(ctx, p.Table, p.FK)
		if err != nil {
			return res, fmt.Errorf("count the rows violating foreign key %s: %w", label, err)
		}
		verb := "reference"
		if n == 1 {
			verb = "references"
		}
		res.Failed = append(res.Failed, fmt.Sprintf("%s: %s of %s %s a missing row of %s (e.g. %s) after the capture caught up, so the source has them too; delete or fix them (on the source, or here), then add the key: ALTER TABLE %s ADD %s",
			label, migration.Count(int(n), "row"), p.Table, verb, p.FK.RefTable, example, target.d.quote(p.Table), clauseOrName(target, &t, p.FK)))
	}
	if len(res.Carried) > 0 {
		// The last keys added leave an empty table in the user's database.
		if err := dropPendingTableIfEmpty(ctx, target); err != nil {
			return res, err
		}
	}
	return res, nil
}

// dropPendingTableIfEmpty drops pendingTable when it holds no record, of
// any run. The count and the DROP are one step under an exclusive lock,
// which waits for another run's records being written and makes the
// writes that come after wait: a record committed meanwhile keeps the
// table, and a record written after the drop fails on the missing table
// and is written again into a new one (RecordPendingForeignKeys). Without
// the lock another run's record could be dropped with the table between
// the count and the DROP, and its key never retried.
func dropPendingTableIfEmpty(ctx context.Context, target *Store) (err error) {
	if target.Engine == SQLite {
		return nil
	}
	conn, err := target.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("drop %s if empty: %w", pendingTable, err)
	}
	defer conn.Close()
	table := target.d.quote(pendingTable)
	lock, release, abort := target.d.exclusiveLock(table)
	defer func() {
		if err == nil {
			return
		}
		if _, aerr := conn.ExecContext(context.WithoutCancel(ctx), abort); aerr != nil {
			// Never hand a connection holding the lock back to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	for _, q := range lock {
		if _, err = conn.ExecContext(ctx, q); err != nil {
			if target.IsMissingObject(err) {
				_, _ = conn.ExecContext(context.WithoutCancel(ctx), abort)
				return nil // dropped already
			}
			return fmt.Errorf("lock %s: %w", pendingTable, err)
		}
	}
	var left int
	if err = conn.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&left); err != nil {
		return fmt.Errorf("count %s: %w", pendingTable, err)
	}
	if left == 0 {
		if _, err = conn.ExecContext(ctx, "DROP TABLE "+table); err != nil {
			return fmt.Errorf("drop %s: %w", pendingTable, err)
		}
	}
	if _, err = conn.ExecContext(ctx, release); err != nil {
		return fmt.Errorf("drop %s if empty: %w", pendingTable, err)
	}
	return nil
}

func clauseOrName(s *Store, t *Table, fk ForeignKey) string {
	c, _, err := s.foreignKeyClause(t, fk)
	if err != nil {
		return "CONSTRAINT " + s.d.quote(ForeignKeyName(t.Name, fk)) + " …"
	}
	return c
}

// orphans counts table's rows that fk refuses and gives the first one's
// key columns as an example ("rental_id=42").
func (s *Store) orphans(ctx context.Context, table string, fk ForeignKey) (int64, string, error) {
	var notNull, match, cols []string
	for i, c := range fk.Columns {
		notNull = append(notNull, "c."+s.d.quote(c)+" IS NOT NULL")
		match = append(match, "p."+s.d.quote(fk.RefColumns[i])+" = c."+s.d.quote(c))
		cols = append(cols, "c."+s.d.quote(c))
	}
	where := fmt.Sprintf("FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)",
		s.d.quote(table), strings.Join(notNull, " AND "), s.d.quote(fk.RefTable), strings.Join(match, " AND "))
	var n int64
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) "+where).Scan(&n); err != nil {
		return 0, "", err
	}
	if n == 0 {
		return 0, "none left", nil
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := s.DB.QueryRowContext(ctx, "SELECT "+strings.Join(cols, ", ")+" "+where+" LIMIT 1").Scan(ptrs...); err != nil {
		return n, "", err
	}
	ex := make([]string, len(cols))
	for i, c := range fk.Columns {
		v := vals[i]
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		ex[i] = fmt.Sprintf("%s=%v", c, v)
	}
	return n, strings.Join(ex, ", "), nil
}

// dropPendingForeignKeys forgets owner's pending keys (its tables are
// being dropped), and the record table once empty.
func dropPendingForeignKeys(ctx context.Context, target *Store, owner string) error {
	if target.Engine == SQLite {
		return nil
	}
	exists, err := target.hasPendingTable(ctx)
	if err != nil || !exists {
		return err
	}
	_, err = target.DB.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE owner = %s", target.d.quote(pendingTable), target.d.placeholder(1)), owner)
	if target.IsMissingObject(err) {
		return nil // another run emptied and dropped it meanwhile
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", pendingTable, err)
	}
	return dropPendingTableIfEmpty(ctx, target)
}
