package cdc

import (
	"context"
	"fmt"
	"strings"

	"github.com/godwit/godwit/datastore"
)

// readBackChunk bounds the keys of one read-back query.
const readBackChunk = 500

// readBack turns the batch's lookups into the changes that bring the
// target to each row's current state on the source, read by key through
// the table's view (tablePair.view) with the query and the decoding the
// trigger drain uses (readFrom, currentChange): a mapped table's columns
// computed and its filter judged by the source engine, a row gone or now
// outside the filter a delete, any other an upsert of the whole row.
//
// The logical method asks for it where the stream's values are not
// enough: every change of a mapped table (the stream carries the source
// row, not the mapping's), and a key change whose new tuple left out an
// unchanged TOASTed value (the target has no row under the new key to
// complete). Reading the current state rather than the one at the
// change's commit is safe for the same reason as the drain's: the
// stream's later changes of the key follow, and the last one applied is
// the source's latest state.
func readBack(ctx context.Context, source *datastore.Store, tables map[string]tablePair, b *batch) error {
	for _, name := range b.order {
		tb, p := b.tables[name], tables[name]
		var at []int // positions in tb.muts of the lookups
		var keys [][]any
		srcKey := p.src.KeyIndexes()
		for i, c := range tb.muts {
			if !c.lookup {
				continue
			}
			at = append(at, i)
			key := make([]any, len(srcKey))
			for j, ci := range srcKey {
				key[j] = c.row[ci]
			}
			keys = append(keys, key)
		}
		for start := 0; start < len(keys); start += readBackChunk {
			end := min(start+readBackChunk, len(keys))
			got, err := readRows(ctx, source, p.view, keys[start:end])
			if err != nil {
				return err
			}
			found := 0
			for j := start; j < end; j++ {
				c, ok := got[keyString(keys[j], identity(len(keys[j])))]
				if ok {
					found++
				} else {
					c = deletion(p.view, p.view.KeyIndexes(), keys[j])
				}
				tb.muts[at[j]] = c
			}
			if found != len(got) {
				// A row read under a key that matches none asked for: the
				// two sides' values of the key differ in form, and the rows
				// asked for would be deleted instead of written.
				return fmt.Errorf("read back %s: %d rows read, %d matched the keys asked for", name, len(got), found)
			}
		}
	}
	return nil
}

// readRows reads the rows of view with the given keys (values in key
// order) and returns each one's change (currentChange) by its keyString
// over the key's values; a key not in the result has no row.
func readRows(ctx context.Context, s *datastore.Store, view *datastore.Table, keys [][]any) (map[string]change, error) {
	q := s.Quote
	var cols []string
	for _, c := range view.Columns {
		cols = append(cols, "t."+q(c.Name))
	}
	if view.Mapped {
		cols = append(cols, "t."+q(colPasses))
	}
	cond, args, err := s.KeysCond(view, "t.", keys)
	if err != nil {
		return nil, fmt.Errorf("read back %s: %w", view.Name, err)
	}
	stmt := "SELECT " + strings.Join(cols, ", ") + " FROM " + readFrom(s, view) + " t WHERE " + cond
	rows, err := s.DB.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("read back changed rows of %s: %w", view.Name, err)
	}
	defer rows.Close()
	keyIdx := view.KeyIndexes()
	out := map[string]change{}
	for rows.Next() {
		raw, err := datastore.ScanValues(rows, len(cols))
		if err != nil {
			return nil, fmt.Errorf("read back changed rows of %s: %w", view.Name, err)
		}
		var passes any
		if view.Mapped {
			passes = raw[len(raw)-1]
		}
		key := make([]any, len(keyIdx))
		for i, ci := range keyIdx {
			if key[i], err = datastore.Canonical(view.Columns[ci].Type, raw[ci]); err != nil {
				return nil, fmt.Errorf("read back %s key %s: %w", view.Name, view.PrimaryKey[i], err)
			}
		}
		c, err := currentChange(view, keyIdx, key, raw[:len(view.Columns)], passes)
		if err != nil {
			return nil, err
		}
		out[keyString(key, identity(len(key)))] = c
	}
	return out, rows.Err()
}

// currentChange is the change that brings the target to a row's current
// state as read through view: current holds the view's columns as read
// (nil, or a NULL key: no row has the key), passes the filter column of a
// mapped read, key the key's values (canonical, in key order) and keyIdx
// their positions in view (view.KeyIndexes()). A row gone,
// or failing a mapped view's filter, is a delete by key; any other an
// upsert of the whole row.
func currentChange(view *datastore.Table, keyIdx []int, key, current []any, passes any) (change, error) {
	row := make([]any, len(view.Columns))
	gone, err := rowGone(view, current, keyIdx, passes)
	if err != nil {
		return change{}, fmt.Errorf("read %s: %w", view.Name, err)
	}
	if gone {
		return deletion(view, keyIdx, key), nil
	}
	for i, c := range view.Columns {
		if row[i], err = datastore.Canonical(c.Type, current[i]); err != nil {
			return change{}, fmt.Errorf("read %s column %s: %w", view.Name, c.Name, err)
		}
	}
	return change{row: row}, nil
}

// deletion deletes the row of view with key (values in key order).
func deletion(view *datastore.Table, keyIdx []int, key []any) change {
	row := make([]any, len(view.Columns))
	for i, ci := range keyIdx {
		row[ci] = key[i]
	}
	return change{delete: true, row: row}
}

// rowGone says whether a changed row is to be deleted on the target: no
// row has its key any more (current is nil or its key NULL), or, for a
// mapped view, the row does not pass the filter (passes is not 1).
func rowGone(view *datastore.Table, current []any, keyIdx []int, passes any) (bool, error) {
	if current == nil || current[keyIdx[0]] == nil {
		return true, nil
	}
	if !view.Mapped {
		return false, nil
	}
	v, err := datastore.Canonical(datastore.Type{Kind: datastore.KindInt}, passes)
	if err != nil {
		return false, fmt.Errorf("filter result: %w", err)
	}
	return v != int64(1), nil
}

// identity is [0, 1, …, n-1]: the key indexes of a key on its own.
func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
