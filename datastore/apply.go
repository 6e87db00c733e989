package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Mutation is one change to apply to a row of a table, identified by its
// primary key: an upsert of the whole row, an update of some of its
// columns, or a delete. Change data capture turns a source's changes into
// mutations; applying the same mutations twice leaves the same table.
type Mutation struct {
	// Delete removes the row whose key is in Row (only the key columns of
	// Row are read).
	Delete bool
	// Row holds canonical values in the table's column order.
	Row []any
	// Set, when not nil, says which columns of Row carry a value: the
	// mutation then updates those columns of an existing row and does
	// nothing when the row does not exist (PostgreSQL leaves an unchanged
	// TOASTed value out of a change). Nil: Row is the whole row (upsert).
	Set []bool
}

// TableMutations are the mutations of one table.
type TableMutations struct {
	Table *Table
	// Empty deletes every row of the table before the mutations (the
	// source table was truncated).
	Empty     bool
	Mutations []Mutation
}

// maxKeysPerDelete bounds one DELETE's key list.
const maxKeysPerDelete = 500

// Apply writes mutations of several tables in one transaction: all of them
// or none. Mutations of one table should name each key once (coalesce them
// first): within a table deletes run before upserts, then partial updates.
func (s *Store) Apply(ctx context.Context, changes []TableMutations) error {
	return s.ApplyWith(ctx, changes, TxHooks{})
}

// TxHooks run statements of the caller's inside Apply's transaction:
// change data capture marks the transaction as written by a replication
// stream (its origin), so the target's own capture does not record it.
type TxHooks struct {
	// Begin runs first in the transaction.
	Begin func(ctx context.Context, tx *sql.Tx) error
	// BeforeCommit runs last, before the commit.
	BeforeCommit func(ctx context.Context, tx *sql.Tx) error
}

// ApplyWith is Apply with hooks in its transaction.
func (s *Store) ApplyWith(ctx context.Context, changes []TableMutations, hooks TxHooks) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply changes: %w", err)
	}
	defer tx.Rollback()
	if s.Engine == Postgres {
		// The changes are one state of the source, whose keys it held;
		// written table by table, rows that reference each other (a new
		// store and its new manager, who works in it) meet a key before
		// the row it needs. A deferrable key waits for the commit, as on
		// the source; the others are checked at each statement still.
		if _, err := tx.ExecContext(ctx, "SET CONSTRAINTS ALL DEFERRED"); err != nil {
			return fmt.Errorf("apply changes: %w", err)
		}
	}
	if hooks.Begin != nil {
		if err := hooks.Begin(ctx, tx); err != nil {
			return fmt.Errorf("apply changes: %w", err)
		}
	}
	for _, tm := range changes {
		t := tm.Table
		if err := t.CheckCopyable(); err != nil {
			return err
		}
		if tm.Empty {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.d.quote(t.Name)); err != nil {
				return fmt.Errorf("apply changes to %s: empty: %w", t.Name, err)
			}
		}
		var deletes, upserts [][]any
		var partial []Mutation
		for _, m := range tm.Mutations {
			switch {
			case m.Delete:
				deletes = append(deletes, m.Row)
			case m.Set == nil:
				upserts = append(upserts, m.Row)
			default:
				partial = append(partial, m)
			}
		}
		for start := 0; start < len(deletes); start += maxKeysPerDelete {
			q, args, err := s.deleteStatement(t, deletes[start:min(start+maxKeysPerDelete, len(deletes))])
			if err != nil {
				return fmt.Errorf("apply changes to %s: %w", t.Name, err)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("apply changes to %s: delete: %w", t.Name, err)
			}
		}
		if len(t.InsertTriggers) > 0 && s.Engine != SQLite {
			if upserts, err = s.updateExisting(ctx, tx, t, upserts); err != nil {
				return err
			}
		}
		per := min(s.d.maxParams()/len(t.Columns), maxRowsPerStatement)
		for start := 0; start < len(upserts); start += per {
			chunk := upserts[start:min(start+per, len(upserts))]
			q, args, err := s.insertStatement(t, chunk)
			if err != nil {
				return fmt.Errorf("apply changes to %s: %w", t.Name, err)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				if bt := s.badTextOf(ctx, t, err, chunk); bt != nil {
					return fmt.Errorf("apply changes: %w", bt)
				}
				if rv := rowValueOf(t, err, chunk); rv != nil {
					return fmt.Errorf("apply changes: %w", rv)
				}
				return fmt.Errorf("apply changes to %s: upsert: %w", t.Name, err)
			}
		}
		for _, m := range partial {
			q, args, err := s.updateStatement(t, m)
			if err != nil {
				return fmt.Errorf("apply changes to %s: %w", t.Name, err)
			}
			if q == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				if bt := s.badTextOf(ctx, t, err, [][]any{m.Row}); bt != nil {
					return fmt.Errorf("apply changes: %w", bt)
				}
				if rv := rowValueOf(t, err, [][]any{m.Row}); rv != nil {
					return fmt.Errorf("apply changes: %w", rv)
				}
				return fmt.Errorf("apply changes to %s: update: %w", t.Name, err)
			}
		}
	}
	if hooks.BeforeCommit != nil {
		if err := hooks.BeforeCommit(ctx, tx); err != nil {
			return fmt.Errorf("apply changes: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply changes: commit: %w", err)
	}
	return nil
}

// updateExisting writes the rows of upserts that t holds already by
// UPDATE, each row locked and looked up by its key first, and returns the
// others (new rows) for the upsert: t's BEFORE INSERT triggers (Sakila's
// customer_create_date) rewrote an existing row upserted through them —
// a reverse replication after a cut-over reset legacy's create and
// payment dates to the time of the apply. A new row still goes through
// them, as any insert on t would.
func (s *Store) updateExisting(ctx context.Context, tx *sql.Tx, t *Table, upserts [][]any) ([][]any, error) {
	all := make([]bool, len(t.Columns))
	for i := range all {
		all[i] = true
	}
	var fresh [][]any
	for _, row := range upserts {
		cond, args, err := s.KeysCond(t, "", [][]any{keyOf(t, row)})
		if err != nil {
			return nil, fmt.Errorf("apply changes to %s: %w", t.Name, err)
		}
		var one int
		err = tx.QueryRowContext(ctx, "SELECT 1 FROM "+s.d.quote(t.Name)+" WHERE "+cond+" FOR UPDATE", args...).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			fresh = append(fresh, row)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("apply changes to %s: look up a row: %w", t.Name, err)
		}
		q, args, err := s.updateStatement(t, Mutation{Row: row, Set: all})
		if err != nil {
			return nil, fmt.Errorf("apply changes to %s: %w", t.Name, err)
		}
		if q == "" {
			continue // only key columns: the row is there
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			if bt := s.badTextOf(ctx, t, err, [][]any{row}); bt != nil {
				return nil, fmt.Errorf("apply changes: %w", bt)
			}
			if rv := rowValueOf(t, err, [][]any{row}); rv != nil {
				return nil, fmt.Errorf("apply changes: %w", rv)
			}
			return nil, fmt.Errorf("apply changes to %s: update: %w", t.Name, err)
		}
	}
	return fresh, nil
}

// keyOf is row's primary key values, in key order.
func keyOf(t *Table, row []any) []any {
	idx := t.KeyIndexes()
	key := make([]any, len(idx))
	for i, k := range idx {
		key[i] = row[k]
	}
	return key
}

// deleteStatement deletes rows by key: "k IN (...)" for a one-column key,
// "(k1 = ? AND k2 = ?) OR ..." otherwise (an index lookup on every engine).
func (s *Store) deleteStatement(t *Table, rows [][]any) (string, []any, error) {
	keys := t.KeyIndexes()
	var args []any
	var conds []string
	for _, row := range rows {
		if len(row) != len(t.Columns) {
			return "", nil, fmt.Errorf("delete: row has %d values for %d columns", len(row), len(t.Columns))
		}
		var ands []string
		for i, ki := range keys {
			v, err := s.d.encode(t.Columns[ki].Type, row[ki])
			if err != nil {
				return "", nil, fmt.Errorf("delete: key %s: %w", t.PrimaryKey[i], err)
			}
			args = append(args, v)
			ands = append(ands, s.d.quote(t.PrimaryKey[i])+" = "+s.d.placeholder(len(args)))
		}
		conds = append(conds, strings.Join(ands, " AND "))
	}
	if len(keys) == 1 {
		ph := make([]string, len(args))
		for i := range args {
			ph[i] = s.d.placeholder(i + 1)
		}
		return "DELETE FROM " + s.d.quote(t.Name) + " WHERE " + s.d.quote(t.PrimaryKey[0]) +
			" IN (" + strings.Join(ph, ", ") + ")", args, nil
	}
	return "DELETE FROM " + s.d.quote(t.Name) + " WHERE (" + strings.Join(conds, ") OR (") + ")", args, nil
}

// KeysCond is the condition "the key of t (its columns prefixed by
// qualifier, e.g. "t.") is one of keys" (each key: the key columns'
// values, in PrimaryKey order), with bind parameters numbered from 1 and
// their values encoded for this store: "k IN (...)" for a one-column key,
// "(k1 = ? AND k2 = ?) OR ..." otherwise, as deleteStatement.
func (s *Store) KeysCond(t *Table, qualifier string, keys [][]any) (string, []any, error) {
	if err := t.CheckCopyable(); err != nil {
		return "", nil, err
	}
	if len(keys) == 0 {
		return "1 = 0", nil, nil
	}
	var args []any
	var conds []string
	for _, key := range keys {
		if len(key) != len(t.PrimaryKey) {
			return "", nil, fmt.Errorf("key of %s: %d values for %d key columns", t.Name, len(key), len(t.PrimaryKey))
		}
		var ands []string
		for i, k := range t.PrimaryKey {
			v, err := s.d.encode(t.Column(k).Type, key[i])
			if err != nil {
				return "", nil, fmt.Errorf("key of %s: %s: %w", t.Name, k, err)
			}
			args = append(args, v)
			ands = append(ands, qualifier+s.d.quote(k)+" = "+s.d.placeholder(len(args)))
		}
		conds = append(conds, strings.Join(ands, " AND "))
	}
	if len(t.PrimaryKey) == 1 {
		ph := make([]string, len(args))
		for i := range args {
			ph[i] = s.d.placeholder(i + 1)
		}
		return qualifier + s.d.quote(t.PrimaryKey[0]) + " IN (" + strings.Join(ph, ", ") + ")", args, nil
	}
	return "(" + strings.Join(conds, ") OR (") + ")", args, nil
}

// updateStatement updates the columns of m.Set that are not key columns;
// "" when there is none to set.
func (s *Store) updateStatement(t *Table, m Mutation) (string, []any, error) {
	if len(m.Row) != len(t.Columns) || len(m.Set) != len(t.Columns) {
		return "", nil, fmt.Errorf("update: %d values and %d flags for %d columns", len(m.Row), len(m.Set), len(t.Columns))
	}
	isKey := map[string]bool{}
	for _, k := range t.PrimaryKey {
		isKey[k] = true
	}
	var sets []string
	var args []any
	for i, c := range t.Columns {
		if !m.Set[i] || isKey[c.Name] {
			continue
		}
		v, err := s.d.encode(c.Type, m.Row[i])
		if err != nil {
			return "", nil, fmt.Errorf("update: column %s: %w", c.Name, err)
		}
		args = append(args, v)
		sets = append(sets, s.d.quote(c.Name)+" = "+s.d.placeholder(len(args)))
	}
	if len(sets) == 0 {
		return "", nil, nil
	}
	var where []string
	for i, ki := range t.KeyIndexes() {
		v, err := s.d.encode(t.Columns[ki].Type, m.Row[ki])
		if err != nil {
			return "", nil, fmt.Errorf("update: key %s: %w", t.PrimaryKey[i], err)
		}
		args = append(args, v)
		where = append(where, s.d.quote(t.PrimaryKey[i])+" = "+s.d.placeholder(len(args)))
	}
	return "UPDATE " + s.d.quote(t.Name) + " SET " + strings.Join(sets, ", ") + " WHERE " + strings.Join(where, " AND "), args, nil
}

// Placeholder is this engine's bind parameter number i (1-based): $1 on
// PostgreSQL, ? elsewhere.
func (s *Store) Placeholder(i int) string { return s.d.placeholder(i) }
