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
		out[n] = tablePair{src: src, view: src, dst: proj}
	}
	return out, nil
}

// apply writes a batch to the target in one transaction, tagged with its
// origin by hooks (origin.go).
func apply(ctx context.Context, target *datastore.Store, tables map[string]tablePair, b batch, hooks datastore.TxHooks) error {
	var all []datastore.TableMutations
	for _, name := range b.order {
		tb := b.tables[name]
		p, ok := tables[name]
		if !ok {
			continue
		}
		tm := datastore.TableMutations{Table: p.dst, Empty: tb.truncate}
		for _, c := range tb.muts {
			if c.lookup {
				return fmt.Errorf("apply %s: a change to read back from the source was not read (readBack first)", name)
			}
			tm.Mutations = append(tm.Mutations, datastore.Mutation{Delete: c.delete, Row: c.row, Set: c.set})
		}
		all = append(all, tm)
	}
	if len(all) == 0 {
		return nil
	}
	return target.ApplyWith(ctx, all, hooks)
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
