package datastore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// The PostgreSQL → MySQL direct load carries every loadable kind as the
// decoded path would: text with every byte COPY escapes (tab, newline,
// CR, backslash, backspace, form feed, vertical tab) and the literal
// letters after a backslash, NULLs and the text \N, unicode, booleans,
// instants (in UTC), dates, decimals and floats to their last digit. Its
// batches resume after the last key they read and, into an empty key
// range, load without REPLACE; copied again over rows the target has,
// they REPLACE, and nothing is doubled.
func TestLoadDirectKeepsValuesAndStaysIdempotent(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dst := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, `CREATE TABLE ld (id bigint PRIMARY KEY, n integer, price numeric(12,2), ratio double precision,
		active boolean, name varchar(40), note text, ts timestamptz, at timestamp, born date)`,
		`INSERT INTO ld SELECT i, i * 7 - 300, (i * 31 % 100000) / 100.0, i / 7.0 * 1e-3, i % 2 = 0,
			'n' || i, CASE i % 9
				WHEN 0 THEN NULL
				WHEN 1 THEN E'tab\there\nline\rcr'
				WHEN 2 THEN E'back\\\\slash \\\\f \\\\v \\\\N'
				WHEN 3 THEN E'form\ffeed vert\x0btab bs\bx'
				WHEN 4 THEN '\N'
				WHEN 5 THEN 'ünïcødé ✓ ''q'''
				WHEN 6 THEN E'\\\\'
				ELSE repeat('x', i) END,
			timestamptz '2024-03-10 01:59:59.123456-08' + i * interval '1 hour', timestamp '1999-12-31 23:59:59.5' + i * interval '1 day',
			date '0101-01-01' + (i + 40) * 9000
			FROM generate_series(-40, 60) i`)
	dbtest.Exec(t, dst.Store, `CREATE TABLE ld (id BIGINT PRIMARY KEY, n INT, price DECIMAL(12,2), ratio DOUBLE, active TINYINT(1),
		name VARCHAR(40), note LONGTEXT, ts TIMESTAMP(6) NULL, at DATETIME(6), born DATE) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`)
	s, err := src.Store.Introspect(ctx, "ld")
	if err != nil {
		t.Fatal(err)
	}
	full, err := dst.Store.Introspect(ctx, "ld")
	if err != nil {
		t.Fatal(err)
	}
	d, err := full.Project(s.ColumnNames())
	if err != nil {
		t.Fatal(err)
	}
	if !src.Store.CanLoadDirect(ctx, dst.Store, s, d, nil) {
		t.Fatal("CanLoadDirect = false, want true")
	}
	loadAll := func(after []any) (batches int, rows int64, replaced []bool) {
		for {
			b, err := src.Store.LoadDirect(ctx, dst.Store, s, d, after, 30, nil)
			if err != nil {
				t.Fatalf("LoadDirect after %v: %v", after, err)
			}
			if b.Keys == 0 {
				return batches, rows, replaced
			}
			batches++
			replaced = append(replaced, b.Merged)
			rows += b.Rows
			after = b.LastKey
			if b.Keys < 30 {
				return batches, rows, replaced
			}
		}
	}
	if batches, rows, replaced := loadAll(nil); batches != 4 || rows != 101 || fmt.Sprint(replaced) != "[false false false false]" {
		t.Fatalf("first load: %d batches, %d rows, REPLACE %v; want 4 plain batches of 101 rows", batches, rows, replaced)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "ld")
	dbtest.Exec(t, src.Store, `UPDATE ld SET note = E'changed\f' WHERE id >= 0`)
	if batches, rows, replaced := loadAll([]any{int64(-1)}); batches != 3 || rows != 61 || fmt.Sprint(replaced) != "[true true true]" {
		t.Fatalf("second load: %d batches, %d rows, REPLACE %v; want 3 REPLACE batches of 61 rows", batches, rows, replaced)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "ld")

	// A plain load that meets keys the target has goes again as REPLACE.
	dbtest.Exec(t, src.Store, `UPDATE ld SET n = -n`)
	b, err := datastore.LoadAllAsIfEmpty(src.Store, dst.Store, s, d)
	if err != nil || b.Rows != 101 || !b.Merged {
		t.Fatalf("load over taken keys: %+v, %v; want 101 rows through REPLACE", b, err)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "ld")
}

// Kinds whose text forms the engines read differently (bytes: hex in
// PostgreSQL; JSON) keep the decoded path.
func TestLoadDirectRefusesBytesAndJSON(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dst := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(datastore.Postgres, "kitchen")...)
	dbtest.Exec(t, dst.Store, dbtest.KitchenDDL(datastore.MySQL, "kitchen")...)
	s, err := src.Store.Introspect(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	d, err := dst.Store.Introspect(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	if src.Store.CanLoadDirect(ctx, dst.Store, s, d, nil) {
		t.Fatal("CanLoadDirect(kitchen with bytea and jsonb) = true, want false")
	}
}

// A composite key: the probe spells the row comparison out for MySQL
// (its values repeat), and the batches resume after the last (a, b).
func TestLoadDirectCompositeKey(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dst := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, `CREATE TABLE lc (a integer, b bigint, v text, PRIMARY KEY (a, b))`,
		`INSERT INTO lc SELECT i / 4, i % 4, 'v' || i FROM generate_series(0, 21) i`)
	dbtest.Exec(t, dst.Store, `CREATE TABLE lc (a INT, b BIGINT, v LONGTEXT, PRIMARY KEY (a, b))`)
	s, err := src.Store.Introspect(ctx, "lc")
	if err != nil {
		t.Fatal(err)
	}
	d, err := dst.Store.Introspect(ctx, "lc")
	if err != nil {
		t.Fatal(err)
	}
	for pass, want := range []string{"[false false false false false]", "[true true true]"} {
		var after []any
		if pass == 1 {
			after = []any{int64(2), int64(1)}
		}
		var replaced []bool
		for {
			b, err := src.Store.LoadDirect(ctx, dst.Store, s, d, after, 5, nil)
			if err != nil {
				t.Fatalf("pass %d after %v: %v", pass, after, err)
			}
			if b.Keys == 0 {
				break
			}
			replaced = append(replaced, b.Merged)
			after = b.LastKey
			if b.Keys < 5 {
				break
			}
		}
		if fmt.Sprint(replaced) != want {
			t.Errorf("pass %d: REPLACE %v, want %s", pass, replaced, want)
		}
		dbtest.AssertSameRows(t, src.Store, dst.Store, "lc")
	}
}

// An instant (timestamptz) goes into the DATETIME(6) provision makes of
// it by the direct load too, as its UTC wall clock: the values read back
// are the source's instants, across zones, DST changes, fractions, dates
// before 1970 and after 2038, and NULL.
func TestLoadDirectInstantIntoProvisionedDatetime(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dst := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, `CREATE TABLE li (id bigint PRIMARY KEY, ts timestamptz)`,
		`INSERT INTO li SELECT i, CASE WHEN i % 7 = 0 THEN NULL
			ELSE timestamptz '1969-12-31 23:59:59.999999+05:30' + i * interval '97 days 3 hours 0.000001 seconds' END
			FROM generate_series(1, 200) i`,
		`INSERT INTO li VALUES (201, '2024-03-10 01:59:59.5-08'), (202, '2024-03-10 03:00:00-07'), (203, '2100-01-01 00:00:00+00'), (204, '1001-06-15 12:00:00.000001+00')`)
	s, err := src.Store.Introspect(ctx, "li")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst.Store, []*datastore.Table{s}, datastore.ProvisionOptions{Owner: "test"}); err != nil {
		t.Fatal(err)
	}
	d, err := dst.Store.Introspect(ctx, "li")
	if err != nil {
		t.Fatal(err)
	}
	if k := d.Column("ts").Type.Kind; k != datastore.KindTimestamp {
		t.Fatalf("provisioned ts is %s, want a DATETIME (timestamp)", k)
	}
	if !src.Store.CanLoadDirect(ctx, dst.Store, s, d, nil) {
		t.Fatal("CanLoadDirect(timestamptz into DATETIME) = false, want true")
	}
	var after []any
	rows := int64(0)
	for {
		b, err := src.Store.LoadDirect(ctx, dst.Store, s, d, after, 50, nil)
		if err != nil {
			t.Fatalf("LoadDirect after %v: %v", after, err)
		}
		rows += b.Rows
		if b.Keys < 50 {
			break
		}
		after = b.LastKey
	}
	if rows != 204 {
		t.Fatalf("loaded %d rows, want 204", rows)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "li")
}
