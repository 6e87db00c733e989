package datastore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// SQLite writes runs of rows through one multi-row statement and the rest
// one by one: every row lands, an upsert over them changes each, and a
// row that fails names the statement it was in.
func TestSQLiteWritesRunsOfRowsAndTheRest(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
	tbl, err := db.Store.Introspect(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	rows := func(from, to int, v string) [][]any {
		var out [][]any
		for i := from; i < to; i++ {
			out = append(out, []any{int64(i), v})
		}
		return out
	}
	if err := db.Store.WriteBatch(ctx, tbl, rows(0, 70, "a")); err != nil { // 2 runs of 32, 6 alone
		t.Fatal(err)
	}
	if err := db.Store.WriteBatch(ctx, tbl, rows(50, 121, "b")); err != nil { // over 20 of them, 51 new
		t.Fatal(err)
	}
	var n, a, b int
	if err := db.Store.DB.QueryRow("SELECT COUNT(*), SUM(v = 'a'), SUM(v = 'b') FROM r").Scan(&n, &a, &b); err != nil {
		t.Fatal(err)
	}
	if n != 121 || a != 50 || b != 71 {
		t.Fatalf("%d rows, %d a, %d b; want 121, 50, 71", n, a, b)
	}
	bad := rows(200, 264, "c")
	bad[40][1] = nil // NOT NULL
	err = db.Store.WriteBatch(ctx, tbl, bad)
	if err == nil || !strings.Contains(err.Error(), "rows 32 to 63") {
		t.Fatalf("error %v: want it to name the statement of rows 32 to 63", err)
	}
	if err := db.Store.DB.QueryRow("SELECT COUNT(*) FROM r WHERE id >= 200").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows of the failed batch landed (%v): want none", n, err)
	}
}
