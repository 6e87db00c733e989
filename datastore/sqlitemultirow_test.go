package datastore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// SQLite writes runs of rows through one multi-row statement and the rest
// one by one: every row lands, an upsert over them changes each, and a
// row that fails is named by its key, in a run or among the rest.
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
	// Named by its key, as a read names a row (the batch's index told a
	// user nothing: which batch?).
	if err == nil || !strings.Contains(err.Error(), "row with key id=240, ") {
		t.Fatalf("error %v: want it to name the row with key id=240", err)
	}
	if err := db.Store.DB.QueryRow("SELECT COUNT(*) FROM r WHERE id >= 200").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows of the failed batch landed (%v): want none", n, err)
	}

	rest := rows(300, 340, "d") // a run of 32, then 8 alone
	rest[35][1] = nil
	err = db.Store.WriteBatch(ctx, tbl, rest)
	if err == nil || !strings.Contains(err.Error(), "row with key id=335, ") {
		t.Fatalf("error %v: want it to name the row with key id=335", err)
	}
}

// A date SQLite cannot hold (PostgreSQL's 44 BC, year -43) is refused
// when it is written, naming the row and the column: it used to be
// written as "-0043-03-15", which reconcile then failed to read back.
func TestSQLiteRefusesYearsBeforeZeroNamingTheRow(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE h (id INTEGER PRIMARY KEY, d DATE, ts TIMESTAMPTZ)")
	tbl, err := db.Store.Introspect(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for i := range 40 {
		rows = append(rows, []any{int64(i), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), nil})
	}
	rows = append(rows, []any{int64(99), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 12, 31, 23, 0, 0, 500000000, time.UTC)})
	if err := db.Store.WriteBatch(ctx, tbl, rows); err != nil {
		t.Fatalf("years 0 and 1: %v", err)
	}
	got, err := db.Store.ReadBatch(ctx, tbl, []any{int64(98)}, 10, nil)
	if err != nil || len(got) != 1 || got[0][2].(time.Time).Year() != 0 {
		t.Fatalf("read back %v (%v): want year 0", got, err)
	}
	for _, bad := range []time.Time{time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		rows[7][1] = bad
		err = db.Store.WriteBatch(ctx, tbl, rows)
		if !errors.Is(err, datastore.ErrBadValue) || !strings.Contains(err.Error(), "row with key id=7, column d: ") ||
			!strings.Contains(err.Error(), "0000 to 9999") {
			t.Fatalf("%v: error %v: want the row with key id=7, column d, refused", bad, err)
		}
	}

}
