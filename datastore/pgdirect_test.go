package datastore_test

import (
	"context"
	"fmt"
	"strings"
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

// Every key kind the direct path takes comes back from the binary stream
// as the checkpoint the decoded path would have read (negative numbers,
// dates and times far before and after 2000, microseconds, a composite
// key, a UUID), and batch by batch the copy resumes exactly after it.
func TestCopyDirectLastKeyOfEachKeyKind(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ name, key, values string }{
		{"small", "k smallint", `(-32768), (-1), (0), (7), (32767)`},
		{"int", "k integer", `(-2147483648), (-5), (3), (2147483647)`},
		{"big", "k bigint", `(-9223372036854775808), (-1), (1), (9223372036854775807)`},
		{"day", "k date", `('0001-01-01'), ('1999-12-31'), ('2000-01-01'), ('2024-02-29'), ('9999-12-31')`},
		{"ts", "k timestamp", `('0001-01-01 00:00:00'), ('1969-07-20 20:17:40.000001'), ('2000-01-01 00:00:00'), ('2262-04-12 00:00:00.999999'), ('9999-12-31 23:59:59.999999')`},
		{"tstz", "k timestamptz", `('1900-01-01 00:00:00+05'), ('1999-12-31 23:59:59.999999+00'), ('2030-06-01 12:00:00.5-07')`},
		{"id", "k uuid", `('00000000-0000-0000-0000-000000000000'), ('0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d'), ('ffffffff-ffff-ffff-ffff-ffffffffffff')`},
		{"code", "k varchar(20)", `('a'), ('é ünï'), ('z''\')`},
		{"pair", "k date, j integer", `('2001-01-01', 2), ('2001-01-01', 3), ('2001-01-02', -1), ('2001-01-02', 9)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := dbtest.New(t, datastore.Postgres)
			dst := dbtest.New(t, datastore.Postgres)
			cols := "k"
			if strings.Contains(c.key, ",") {
				cols = "k, j"
			}
			ddl := fmt.Sprintf(`CREATE TABLE x (%s, note text, PRIMARY KEY (%s))`, strings.ReplaceAll(c.key, ", ", " NOT NULL, "), cols)
			dbtest.Exec(t, src.Store, ddl, fmt.Sprintf(`INSERT INTO x (%s) VALUES %s`, cols, c.values), `UPDATE x SET note = md5(random()::text)`)
			dbtest.Exec(t, dst.Store, ddl)
			tbl, err := src.Store.Introspect(ctx, "x")
			if err != nil {
				t.Fatal(err)
			}
			view, err := tbl.Project(tbl.ColumnNames())
			if err != nil {
				t.Fatal(err)
			}
			if !src.Store.CanCopyDirect(ctx, dst.Store, tbl, view, nil) {
				t.Fatal("CanCopyDirect = false")
			}
			var after []any
			for {
				want, err := src.Store.ReadBatch(ctx, tbl, after, 2, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, err := src.Store.CopyDirect(ctx, dst.Store, tbl, view, after, 2, nil)
				if err != nil {
					t.Fatalf("after %v: %v", after, err)
				}
				if b.Keys != len(want) || b.Rows != int64(len(want)) {
					t.Fatalf("after %v: batch of %d keys, %d rows; want %d", after, b.Keys, b.Rows, len(want))
				}
				if len(want) == 0 {
					break
				}
				var wantKey []any
				for _, i := range tbl.KeyIndexes() {
					wantKey = append(wantKey, want[len(want)-1][i])
				}
				if len(b.LastKey) != len(wantKey) {
					t.Fatalf("last key %v, want %v", b.LastKey, wantKey)
				}
				for i := range wantKey {
					if !dbtest.SameValue(b.LastKey[i], wantKey[i]) {
						t.Fatalf("last key %#v, want %#v", b.LastKey, wantKey)
					}
				}
				after = b.LastKey
			}
			dbtest.AssertSameRows(t, src.Store, dst.Store, "x")
		})
	}
}
