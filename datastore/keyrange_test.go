package datastore_test

import (
	"context"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A range filled while a higher range's rows are already in the target
// still takes plain COPY (the probe looks below the range's upper bound
// only); without the bound the same batch is merged; a retried batch of
// the range finds its rows and merges (nothing doubled).
func TestWriteBatchInRangeKeepsTheFastPath(t *testing.T) {
	ctx := context.Background()
	dst := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, dst, dbtest.KitchenDDL(datastore.Postgres, "kitchen")...)
	tbl, err := dst.Introspect(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.WriteBatch(ctx, tbl, dbtest.KitchenRows(500, 1000)); err != nil { // the higher range, done first
		t.Fatal(err)
	}
	low := &datastore.KeyRange{To: int64(500)}
	steps := []struct {
		name       string
		rows       [][]any
		rng        *datastore.KeyRange
		wantMerges int64
	}{
		{"first batch of the lower range", dbtest.KitchenRows(0, 100), low, 0},
		{"the same without its range", dbtest.KitchenRows(100, 200), nil, 1},
		{"next batch of the lower range", dbtest.KitchenRows(200, 300), low, 1},
		{"a retried batch of the lower range", dbtest.KitchenRows(0, 100), low, 2},
	}
	for _, s := range steps {
		if err := dst.WriteBatchIn(ctx, tbl, s.rows, s.rng); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := datastore.Merges(dst); got != s.wantMerges {
			t.Fatalf("%s: %d merges so far, want %d", s.name, got, s.wantMerges)
		}
	}
	if n, _ := dst.Count(ctx, "kitchen"); n != 800 {
		t.Fatalf("target holds %d rows, want 800 (0..299 and 500..999, none doubled)", n)
	}
}

// The direct PostgreSQL path, likewise: the lower range streams straight
// into the table although the higher one is there, and reads only its range.
func TestCopyDirectInRangeKeepsTheFastPath(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres).Store
	dst := dbtest.New(t, datastore.Postgres).Store
	for _, s := range []*datastore.Store{src, dst} {
		dbtest.Exec(t, s, dbtest.KitchenDDL(datastore.Postgres, "kitchen")...)
	}
	tbl, _ := src.Introspect(ctx, "kitchen")
	if err := src.WriteBatch(ctx, tbl, dbtest.KitchenRows(0, 1000)); err != nil {
		t.Fatal(err)
	}
	high := &datastore.Filter{Range: &datastore.KeyRange{From: int64(500)}}
	low := &datastore.Filter{Range: &datastore.KeyRange{To: int64(500)}}
	if merged, rows := copyAllDirect(t, src, dst, "kitchen", nil, 100, high); rows != 500 || contains(merged, true) {
		t.Fatalf("higher range: %d rows, merged %v; want 500 rows copied straight", rows, merged)
	}
	if merged, rows := copyAllDirect(t, src, dst, "kitchen", nil, 100, low); rows != 500 || contains(merged, true) {
		t.Fatalf("lower range after the higher: %d rows, merged %v; want 500 rows copied straight", rows, merged)
	}
	if merged, rows := copyAllDirect(t, src, dst, "kitchen", nil, 100, low); rows != 500 || contains(merged, false) {
		t.Fatalf("lower range again: %d rows, merged %v; want every batch merged", rows, merged)
	}
	dbtest.AssertSameRows(t, src, dst, "kitchen")
}

func contains(bs []bool, b bool) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}
