package datacopy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

const directKindsDDL = `CREATE TABLE dk (id bigint PRIMARY KEY, s smallint, i int, d numeric(12,2), du numeric, f real, g double precision,
	b boolean, t text, v varchar(20), c char(4), u uuid, by bytea, dt date, ts timestamp, tz timestamptz)`

// directKindsRows has every kind the direct path carries, at its edges:
// NULLs, escapes COPY writes (tab, newline, backslash, \r, \f, \v, \b),
// fractions of each length, years before 1000 and after 9999, floats that
// need every digit, an empty bytea.
func directKindsRows(from, to int) string {
	return fmt.Sprintf(`INSERT INTO dk SELECT i, (i %% 300) - 150, i * 7, (i %% 100000) / 100.0, i / 7.0, (i / 3.0)::real, i / 9.0 + 1e-300,
		i %% 2 = 0, 'text ' || i || E' \t tab \n nl \\ bs \r cr \f ff \v vt \b bs é 日本 😀', 'v' || i, 'c' || (i %% 10),
		md5(i::text)::uuid, CASE WHEN i %% 5 = 0 THEN ''::bytea ELSE decode(md5(i::text), 'hex') END,
		date '0999-01-01' + i * 37, timestamp '2024-01-01' + i * interval '1.000123 second', timestamptz '2024-01-01 00:00:00+05' + i * interval '1.5 second'
		FROM generate_series(%d, %d) i
		UNION ALL SELECT i + 1000000, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM generate_series(%d, %d) i`,
		from, to, from, to/10)
}

// sqliteDump is every row of dk as SQLite stores it: storage class and
// quoted value of each column.
func sqliteDump(t *testing.T, s *datastore.Store) []string {
	t.Helper()
	cols := []string{"id", "s", "i", "d", "du", "f", "g", "b", "t", "v", "c", "u", "by", "dt", "ts", "tz"}
	var parts []string
	for _, c := range cols {
		parts = append(parts, "typeof("+c+") || ':' || quote("+c+")")
	}
	rows, err := s.DB.Query("SELECT " + strings.Join(parts, " || '|' || ") + " FROM dk ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	return out
}

// PostgreSQL → SQLite takes the direct path (text COPY parsed into what
// SQLite stores) and writes exactly what the decoded path writes: every
// value and its storage class, byte for byte.
func TestSQLiteDirectWritesWhatTheDecodedPathWrites(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, src, directKindsDDL, directKindsRows(1, 3000))
	tbl, err := src.Introspect(ctx, "dk")
	if err != nil {
		t.Fatal(err)
	}
	var dumps [2][]string
	for k, noDirect := range []bool{false, true} {
		dst := dbtest.New(t, datastore.SQLite).Store
		if _, err := datastore.Provision(ctx, dst, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "test"}); err != nil {
			t.Fatal(err)
		}
		if !noDirect {
			d, _ := dst.Introspect(ctx, "dk")
			view, _ := d.Project(tbl.ColumnNames())
			if !src.CanSQLiteDirect(ctx, dst, tbl, view, nil) {
				t.Fatal("PostgreSQL → SQLite does not take the direct path")
			}
		}
		res, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"dk"}, BatchRows: 700, NoDirect: noDirect}, datacopy.Checkpoint{}, nil)
		if err != nil {
			t.Fatalf("noDirect=%v: %v", noDirect, err)
		}
		if got := res.Checkpoint.Tables["dk"].RowsDone; got != 3300 {
			t.Fatalf("noDirect=%v: %d rows done, want 3300", noDirect, got)
		}
		dumps[k] = sqliteDump(t, dst)
	}
	if len(dumps[0]) != 3300 {
		t.Fatalf("%d rows in SQLite", len(dumps[0]))
	}
	for i := range dumps[1] {
		if dumps[0][i] != dumps[1][i] {
			t.Fatalf("row %d differs:\n direct  %s\n decoded %s", i, dumps[0][i], dumps[1][i])
		}
	}
}

// A value the direct path does not carry (an infinite timestamp, a date
// past 9999, a BC one) sends the rest of the table the decoded way, which
// names the row, as it does without the direct path; the rows before it
// are in.
func TestSQLiteDirectLeavesInfinityToTheDecodedPath(t *testing.T) {
	for _, set := range []string{"ts = 'infinity'", "dt = '10000-01-01'", "dt = '0044-03-15 BC'"} {
		t.Run(set, func(t *testing.T) { testLeftToTheDecodedPath(t, set) })
	}
}

func testLeftToTheDecodedPath(t *testing.T, set string) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, src, directKindsDDL, directKindsRows(1, 2000), "UPDATE dk SET "+set+" WHERE id = 1500")
	tbl, _ := src.Introspect(ctx, "dk")
	var errs [2]string
	for k, noDirect := range []bool{false, true} {
		dst := dbtest.New(t, datastore.SQLite).Store
		if _, err := datastore.Provision(ctx, dst, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "test"}); err != nil {
			t.Fatal(err)
		}
		_, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"dk"}, BatchRows: 500, NoDirect: noDirect}, datacopy.Checkpoint{}, nil)
		if err == nil {
			t.Fatalf("noDirect=%v: an infinite timestamp copied into SQLite", noDirect)
		}
		errs[k] = err.Error()
		var n int
		if err := dst.DB.QueryRow("SELECT COUNT(*) FROM dk WHERE id < 1500").Scan(&n); err != nil || n < 1000 {
			t.Errorf("noDirect=%v: %d rows before the bad one are in (%v)", noDirect, n, err)
		}
	}
	if errs[0] != errs[1] || !strings.Contains(errs[0], "1500") {
		t.Fatalf("errors differ or do not name the row:\n direct  %s\n decoded %s", errs[0], errs[1])
	}
}
