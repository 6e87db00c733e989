package cdc

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
)

// change is one captured change of a row, values in the source table's
// column order.
type change struct {
	delete   bool   // remove the row with row's key
	truncate bool   // the table was emptied
	row      []any  // the row (delete: only the key columns are read)
	set      []bool // nil: row is whole; else the columns row carries
	// lookup: the row's state is to be read back from the source by its
	// key (row carries only the key, in the source table's column order);
	// readBack turns it into an upsert or a delete before the apply.
	lookup bool
}

// batch is what a reader hands over: changes coalesced per key, in one
// target transaction, and the position after them.
type batch struct {
	tables map[string]*tableBatch
	order  []string // table names in first-seen order
	n      int      // changes read (before coalescing)
	// position is the checkpoint's position after this batch ("" : none).
	position string
	lsn      pglogrepl.LSN
	// seqs are the changelog rows read (triggers): deleted once applied.
	seqs map[string][]int64
	// cut says some table had more changes than the batch read of it
	// (triggers: its share of maxChanges), so the batch may hold a child
	// row whose parent's change it did not read.
	cut bool
}

// tableBatch holds one table's changes, one per key: only the last state
// of a key matters, since every change is an upsert or a delete.
type tableBatch struct {
	truncate bool
	keys     map[string]int // encoded key → index in muts
	muts     []change
}

// add folds c into the batch after the changes already there.
func (b *batch) add(table string, key []int, c change) {
	b.n++
	if b.tables == nil {
		b.tables = map[string]*tableBatch{}
	}
	tb := b.tables[table]
	if tb == nil {
		tb = &tableBatch{keys: map[string]int{}}
		b.tables[table] = tb
		b.order = append(b.order, table)
	}
	if c.truncate {
		// Everything before is wiped: forget it, empty the target first.
		tb.truncate, tb.keys, tb.muts = true, map[string]int{}, nil
		return
	}
	k := keyString(c.row, key)
	i, seen := tb.keys[k]
	if !seen {
		tb.keys[k] = len(tb.muts)
		tb.muts = append(tb.muts, c)
		return
	}
	tb.muts[i] = merge(tb.muts[i], c)
}

// keyString identifies a row by the values of its key columns.
func keyString(row []any, key []int) string {
	var b strings.Builder
	for _, i := range key {
		fmt.Fprintf(&b, "%T:%v\x00", row[i], row[i])
	}
	return b.String()
}

// merge folds a later change of a key into an earlier one.
func merge(prev, next change) change {
	switch {
	case next.delete, next.lookup, next.set == nil:
		// A whole state (a row, a delete, or the source's current one).
		return next
	case prev.lookup:
		// The source's current state already holds the later change.
		return prev
	case prev.delete:
		// A partial change of a key deleted before: the row came back
		// under the key by a key change whose new tuple left out an
		// unchanged TOASTed value (an insert is whole). The target has no
		// row to update, and only the source has the values left out.
		return change{lookup: true, row: next.row}
	case prev.set == nil:
		// A whole row, then some columns: still a whole row.
		row := append([]any(nil), prev.row...)
		for i, s := range next.set {
			if s {
				row[i] = next.row[i]
			}
		}
		return change{row: row}
	default:
		row := append([]any(nil), prev.row...)
		set := append([]bool(nil), prev.set...)
		for i, s := range next.set {
			if s {
				row[i], set[i] = next.row[i], true
			}
		}
		return change{row: row, set: set}
	}
}

// tablePair is a captured table: its shape on the source, what a change
// reads of it (view) and the target's table projected onto view's columns,
// pairing by position.
type tablePair struct {
	src *datastore.Table
	// view is src itself, or for a mapped table its mapped view
	// (datastore.MapTable): carried columns, computed ones as expressions,
	// the filter as Where.
	view *datastore.Table
	dst  *datastore.Table
}

// planTables introspects every table on both sides; a table in mapped
// goes to its mapping's target through the mapping.
func planTables(ctx context.Context, source, target *datastore.Store, names []string, mapped map[string]mapping.Table) (map[string]tablePair, error) {
	out := map[string]tablePair{}
	for _, n := range names {
		src, err := source.Introspect(ctx, n)
		if err != nil {
			return nil, err
		}
		if err := src.CheckCopyable(); err != nil {
			return nil, err
		}
		if m, ok := mapped[n]; ok {
			dst, err := target.Introspect(ctx, m.Target)
			if err != nil {
				return nil, fmt.Errorf("target (mapped from %s): %w", n, err)
			}
			view, proj, err := datastore.MapTable(src, dst, m)
			if err != nil {
				return nil, fmt.Errorf("target: %w", err)
			}
			proj.ForeignKeys = dst.ForeignKeys // the order of a batch follows them (applyOrder)
			out[n] = tablePair{src: src, view: view, dst: proj}
			continue
		}
		dst, err := target.Introspect(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		proj, err := dst.Project(src.ColumnNames())
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		// Keys are looked up by the source's key columns.
		proj.PrimaryKey = src.PrimaryKey
		proj.ForeignKeys = dst.ForeignKeys // the order of a batch follows them (applyOrder)
		out[n] = tablePair{src: src, view: src, dst: proj}
	}
	return out, nil
}

// apply writes a batch to the target in one transaction, tagged with its
// origin by hooks (origin.go), in an order the target's foreign keys
// accept (applyOrder).
func apply(ctx context.Context, target *datastore.Store, tables map[string]tablePair, b batch, hooks datastore.TxHooks) error {
	parts := map[string]*[2]datastore.TableMutations{} // deletes, then upserts
	var names []string
	for _, name := range b.order {
		tb := b.tables[name]
		p, ok := tables[name]
		if !ok {
			continue
		}
		dels := datastore.TableMutations{Table: p.dst, Empty: tb.truncate}
		ups := datastore.TableMutations{Table: p.dst}
		for _, c := range tb.muts {
			if c.lookup {
				return fmt.Errorf("apply %s: a change to read back from the source was not read (readBack first)", name)
			}
			m := datastore.Mutation{Delete: c.delete, Row: c.row, Set: c.set}
			if c.delete {
				dels.Mutations = append(dels.Mutations, m)
			} else {
				ups.Mutations = append(ups.Mutations, m)
			}
		}
		parts[name] = &[2]datastore.TableMutations{dels, ups}
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil
	}
	enforced, err := enforcesForeignKeys(ctx, target)
	if err != nil {
		return err
	}
	var all []datastore.TableMutations
	for _, step := range applyOrder(tables, names,
		func(n string) bool { return enforced && len(parts[n][1].Mutations) > 0 },
		func(n string) bool { return parts[n][0].Empty }) {
		tm := parts[step.table][0]
		if step.upserts {
			tm = parts[step.table][1]
		}
		if tm.Empty || len(tm.Mutations) > 0 {
			all = append(all, tm)
		}
	}
	return target.ApplyWith(ctx, all, hooks)
}

// enforcesForeignKeys says whether the target refuses a write its foreign
// keys do not allow. SQLite checks them only on a connection that turns
// foreign_keys on, which Godwit's do not (unless the DSN does): there a
// batch's deletes need not wait for its upserts, and must not, since a
// row whose key changed would meet its old self on a unique index.
func enforcesForeignKeys(ctx context.Context, target *datastore.Store) (bool, error) {
	if target.Engine != datastore.SQLite {
		return true, nil
	}
	var on int
	if err := target.DB.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on); err != nil {
		return false, fmt.Errorf("read the target's foreign_keys setting: %w", err)
	}
	return on != 0, nil
}

// applyStep is one part of a batch: a table's deletes (and emptying), or
// its upserts and partial updates.
type applyStep struct {
	table   string
	upserts bool
}

// applyOrder orders a batch's tables so that a target with the source's
// foreign keys (the copy carries them, see data-plane.md) accepts each
// statement: the capture applies tables in no order of its own (the
// trigger drain reads the changelogs by table name), and a child row
// written before its parent, or a parent deleted before its child, is
// refused, and refused again by every retry, so the replication stops for
// good. The rules, for a batch that is the source's consistent state:
//
//   - upserts go parents first (a row's parent is written before it);
//   - deletes go children first (a child is gone before its parent);
//   - a table's deletes come before its own upserts, so a unique value
//     moved from a deleted row to a new one is free when it is written —
//     except for a table some child of which has upserts in the batch (or
//     is such a table itself) through a key that refuses the delete: its
//     deletes wait until after every upsert, since a child row may be
//     moved off a parent row the batch deletes. So a key change of a row
//     with unique values, in a parent whose children follow it (ON UPDATE
//     CASCADE) through a key that refuses deletes, meets its old row: the
//     target refuses it (see docs/cdc.md).
//
// Foreign keys are read from the source tables (names as the batch has
// them) and from the target's, which the target enforces: they mirror the
// source's when the copy carried them, but a copy under live writes may
// not carry one (its rows did not validate yet), and reverse replication
// applies to legacy, which has every one of its own. Tables in a cycle
// keep their name order (datastore.DependencyOrder).
func applyOrder(tables map[string]tablePair, names []string, hasUpserts, empties func(string) bool) []applyStep {
	in := map[string]bool{}
	for _, n := range names {
		in[n] = true
	}
	// The target's tables by their names there, as the batch names them.
	byTarget := map[string]string{}
	for _, n := range names {
		if dst := tables[n].dst; dst != nil {
			byTarget[dst.Name] = n
		}
	}
	var ts []*datastore.Table
	// refuses[child][parent]: a key of child's to parent (on the source
	// or the target) refuses the parent's delete while a child row still
	// references it (any ON DELETE but SET NULL and SET DEFAULT, which
	// only change the reference the child's own upsert then sets).
	refuses := map[string]map[string]bool{}
	for _, n := range names {
		t := &datastore.Table{Name: n}
		refs := map[string]bool{}
		refuses[n] = map[string]bool{}
		refer := func(ref, onDelete string) {
			if ref == n || !in[ref] {
				return
			}
			if !refs[ref] {
				refs[ref] = true
				t.ForeignKeys = append(t.ForeignKeys, datastore.ForeignKey{RefTable: ref})
			}
			if !nullsOnDelete(onDelete) {
				refuses[n][ref] = true
			}
		}
		if src := tables[n].src; src != nil {
			for _, fk := range src.ForeignKeys {
				refer(fk.RefTable, fk.OnDelete)
			}
		}
		if dst := tables[n].dst; dst != nil {
			for _, fk := range dst.ForeignKeys {
				if ref, ok := byTarget[fk.RefTable]; ok {
					refer(ref, fk.OnDelete)
				}
			}
		}
		ts = append(ts, t)
	}
	order := datastore.DependencyOrder(ts) // parents first
	// late: tables whose deletes wait for the upserts. Children come after
	// their parents in order, so walking it backwards sees a child's
	// lateness before its parents'.
	late := map[string]bool{}
	for i := len(order) - 1; i >= 0; i-- {
		child := order[i]
		if !hasUpserts(child.Name) && !late[child.Name] {
			continue
		}
		for _, fk := range child.ForeignKeys {
			// A table emptied (truncated on the source) is emptied before
			// its upserts, whatever its children do; a parent whose
			// children's keys set NULL on delete has its deletes before
			// its upserts too: its new rows (a key change moving a row
			// that has unique values) must not meet its old ones.
			if refuses[child.Name][fk.RefTable] && !empties(fk.RefTable) {
				late[fk.RefTable] = true
			}
		}
	}
	var steps []applyStep
	for i := len(order) - 1; i >= 0; i-- {
		if n := order[i].Name; !late[n] {
			steps = append(steps, applyStep{table: n})
		}
	}
	for _, t := range order {
		steps = append(steps, applyStep{table: t.Name, upserts: true})
	}
	for i := len(order) - 1; i >= 0; i-- {
		if n := order[i].Name; late[n] {
			steps = append(steps, applyStep{table: n})
		}
	}
	return steps
}

// nullsOnDelete says whether a foreign key's ON DELETE action lets its
// parent row go while children reference it, changing only their
// reference (SET NULL, SET DEFAULT).
func nullsOnDelete(action string) bool {
	switch strings.ToUpper(action) {
	case "SET NULL", "SET DEFAULT":
		return true
	}
	return false
}

// sameValue compares canonical values.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return reflect.DeepEqual(a, b)
}

func sortedNames(m map[string]tablePair) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
