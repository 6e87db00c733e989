package datastore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// Every write path, on each engine that has it, keeps every value and stays
// an upsert when batches overlap (a retried batch, a catch-up pass).
func TestWritePathsKeepValuesAndOverlapIdempotently(t *testing.T) {
	cases := []struct {
		name   string
		engine datastore.Engine
		force  bool // take the multi-row INSERT fallback
		want   datastore.WritePath
	}{
		{"postgres copy", datastore.Postgres, false, datastore.PathCopy},
		{"mysql load data", datastore.MySQL, false, datastore.PathLoadData},
		{"mysql insert fallback", datastore.MySQL, true, datastore.PathInsert},
		{"sqlite insert", datastore.SQLite, false, datastore.PathInsert},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, tc.engine)
			if tc.force {
				datastore.ForceInsert(db.Store)
			}
			path, err := db.Store.WritePath(ctx)
			if err != nil || path != tc.want {
				t.Fatalf("WritePath = %q, %v; want %q", path, err, tc.want)
			}
			dbtest.Exec(t, db.Store, dbtest.KitchenDDL(tc.engine, "kitchen")...)
			tbl, err := db.Store.Introspect(ctx, "kitchen")
			if err != nil {
				t.Fatal(err)
			}
			// 0..40, then 20..60 with changed values (overlapping keys: the
			// merge), then 60..80 past everything (an empty key range).
			if err := db.Store.WriteBatch(ctx, tbl, dbtest.KitchenRows(0, 40)); err != nil {
				t.Fatal(err)
			}
			changed := dbtest.KitchenRows(20, 60)
			for _, r := range changed {
				r[7] = "changed ✓ \\N \t\n"
				r[9] = []byte{'\\', 'N', 0, '\t', '\n', '\r', 255}
			}
			if err := db.Store.WriteBatch(ctx, tbl, changed); err != nil {
				t.Fatalf("overlapping batch: %v", err)
			}
			if err := db.Store.WriteBatch(ctx, tbl, dbtest.KitchenRows(60, 80)); err != nil {
				t.Fatal(err)
			}
			want := append(append(dbtest.KitchenRows(0, 20), changed...), dbtest.KitchenRows(60, 80)...)
			_, got := dbtest.ReadAll(t, db.Store, "kitchen")
			if len(got) != len(want) {
				t.Fatalf("read %d rows, want %d", len(got), len(want))
			}
			for r := range want {
				for c := range want[r] {
					if !dbtest.SameValue(want[r][c], got[r][c]) {
						t.Fatalf("row %d column %s: wrote %#v, read %#v", r, tbl.Columns[c].Name, want[r][c], got[r][c])
					}
				}
			}
		})
	}
}

// A text key takes PostgreSQL's merge from the first batch (collations
// order text differently), and stays an upsert.
func TestPostgresTextKeyMerges(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, db.Store, `CREATE TABLE tags (name text PRIMARY KEY, n integer)`)
	tbl, err := db.Store.Introspect(ctx, "tags")
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range [][][]any{
		{{"B", int64(1)}, {"a", int64(2)}},
		{{"a", int64(3)}, {"b", int64(4)}},
	} {
		if err := db.Store.WriteBatch(ctx, tbl, batch); err != nil {
			t.Fatal(err)
		}
	}
	_, got := dbtest.ReadAll(t, db.Store, "tags")
	want := map[string]int64{"B": 1, "a": 3, "b": 4}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, r := range got {
		if want[r[0].(string)] != r[1].(int64) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

// LOAD DATA LOCAL turns a value that does not fit into a warning; the batch
// must fail whole instead of storing it altered.
func TestMySQLLoadDataRefusesValueThatDoesNotFit(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, db.Store, "CREATE TABLE t (id BIGINT PRIMARY KEY, code VARCHAR(3))")
	tbl, err := db.Store.Introspect(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	err = db.Store.WriteBatch(ctx, tbl, [][]any{{int64(1), "ok"}, {int64(2), "too long"}})
	if !errors.Is(err, datastore.ErrBadValue) {
		t.Fatalf("err = %v, want ErrBadValue", err)
	}
	if n, err := db.Store.Count(ctx, "t"); err != nil || n != 0 {
		t.Fatalf("count = %d, %v; want 0 (nothing half-applied)", n, err)
	}
}

// A SQLite batch that fails part-way (a NULL into a NOT NULL column in its
// third row) writes none of its rows, and the store takes the next batch:
// the prepared statement's transaction is rolled back, not left open on a
// pooled connection.
func TestSQLiteFailedBatchWritesNothingAndTheNextOneGoesIn(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, `CREATE TABLE nn (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	tbl, err := db.Store.Introspect(ctx, "nn")
	if err != nil {
		t.Fatal(err)
	}
	bad := [][]any{{int64(1), "a"}, {int64(2), "b"}, {int64(3), nil}, {int64(4), "d"}}
	if err := db.Store.WriteBatch(ctx, tbl, bad); err == nil {
		t.Fatal("a NULL into a NOT NULL column was written")
	}
	if n, err := db.Store.Count(ctx, "nn"); err != nil || n != 0 {
		t.Fatalf("after the failed batch: %d rows, %v; want none", n, err)
	}
	for i := 0; i < 3; i++ { // more batches than the pool has connections
		if err := db.Store.WriteBatch(ctx, tbl, [][]any{{int64(10 + i), "ok"}}); err != nil {
			t.Fatalf("batch %d after the failed one: %v", i, err)
		}
	}
	if n, err := db.Store.Count(ctx, "nn"); err != nil || n != 3 {
		t.Fatalf("%d rows, %v; want 3", n, err)
	}
}

// The refusal says how to carry the value: a type that holds it, or a value
// changed on the way; and that a mapping's cast with lossy: true is not the
// latter (a trial's `cast: {first_name: {type: varchar(5), lossy: true}}`
// stopped at "Leonie" and was told to use "a mapping's cast", which it had).
func TestAValueThatDoesNotFitSaysWhatLossyDoesNot(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, db.Store, "CREATE TABLE t (id BIGINT PRIMARY KEY, code VARCHAR(3))")
	tbl, err := db.Store.Introspect(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	err = db.Store.WriteBatch(ctx, tbl, [][]any{{int64(1), "ok"}, {int64(2), "too long"}})
	if err == nil {
		t.Fatal("a value that does not fit was written")
	}
	for _, want := range []string{
		"give the column a type that holds it",
		"lossy: true only lets preflight pass: it shortens or rounds no value",
		"drop the column and add one under a name of its own, computed by an expr that makes the value fit",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}
