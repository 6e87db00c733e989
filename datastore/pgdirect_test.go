package datastore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// copyAllDirect copies table in batches of limit with CopyDirect and says
// which batches were merged.
func copyAllDirect(t *testing.T, from, to *datastore.Store, table string, after []any, limit int, filter *datastore.Filter) (merged []bool, rows int64) {
	t.Helper()
	ctx := context.Background()
	src, err := from.Introspect(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	dstFull, err := to.Introspect(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := dstFull.Project(src.ColumnNames())
	if err != nil {
		t.Fatal(err)
	}
	if !from.CanCopyDirect(ctx, to, src, dst, filter) {
		t.Fatalf("CanCopyDirect(%s) = false, want true", table)
	}
	for {
		b, err := from.CopyDirect(ctx, to, src, dst, after, limit, filter)
		if err != nil {
			t.Fatalf("CopyDirect after %v: %v", after, err)
		}
		if b.Keys == 0 {
			return merged, rows
		}
		merged = append(merged, b.Merged)
		rows += b.Rows
		after = b.LastKey
		if b.Keys < limit {
			return merged, rows
		}
	}
}

// The direct PostgreSQL path keeps every kitchen value, takes plain COPY
// into an empty key range and the merge over rows already there (an upsert:
// nothing doubled), and casts where the target's column type differs.
func TestCopyDirectKeepsValuesAndStaysIdempotent(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dst := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(datastore.Postgres, "kitchen")...)
	dbtest.Exec(t, dst.Store, dbtest.KitchenDDL(datastore.Postgres, "kitchen")...)
	// The target's qty is wider than the source's: binary COPY needs the cast.
	dbtest.Exec(t, dst.Store, `ALTER TABLE kitchen ALTER COLUMN qty TYPE bigint`)
	tbl, err := src.Store.Introspect(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Store.WriteBatch(ctx, tbl, dbtest.KitchenRows(0, 80)); err != nil {
		t.Fatal(err)
	}

	merged, rows := copyAllDirect(t, src.Store, dst.Store, "kitchen", nil, 30, nil)
	if fmt.Sprint(merged) != "[false false false]" || rows != 80 {
		t.Fatalf("first copy: merged %v, %d rows; want three plain COPY batches of 80 rows", merged, rows)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")

	// Rows 20..59 change; copying again from key 19 lands on rows the
	// target has: merged, and still one row per key.
	changed := dbtest.KitchenRows(20, 60)
	for _, r := range changed {
		r[7] = "changed ✓ \\N \t\n"
	}
	if err := src.Store.WriteBatch(ctx, tbl, changed); err != nil {
		t.Fatal(err)
	}
	merged, rows = copyAllDirect(t, src.Store, dst.Store, "kitchen", []any{int64(19)}, 30, nil)
	if fmt.Sprint(merged) != "[true true]" || rows != 60 {
		t.Fatalf("second copy: merged %v, %d rows; want two merged batches of 60 rows", merged, rows)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
}

// A text key with quotes and backslashes is inlined safely into COPY's
// query and always merges; a filter restricts the batch.
func TestCopyDirectTextKeyAndFilter(t *testing.T) {
	src := dbtest.New(t, datastore.Postgres)
	dst := dbtest.New(t, datastore.Postgres)
	ddl := `CREATE TABLE tags (name text PRIMARY KEY, n integer NOT NULL)`
	dbtest.Exec(t, src.Store, ddl, `INSERT INTO tags VALUES ('a''b', 1), ('c\d', 2), ('e', 3), ('f''\', 4), ('g', 5)`)
	dbtest.Exec(t, dst.Store, ddl)
	merged, rows := copyAllDirect(t, src.Store, dst.Store, "tags", nil, 2, &datastore.Filter{Column: "n", Since: int64(2)})
	if fmt.Sprint(merged) != "[true true]" || rows != 4 {
		t.Fatalf("merged %v, %d rows; want two merged batches of 4 rows", merged, rows)
	}
	_, got := dbtest.ReadAll(t, dst.Store, "tags")
	if fmt.Sprint(got) != `[[c\d 2] [e 3] [f'\ 4] [g 5]]` {
		t.Fatalf("target holds %v", got)
	}
}
